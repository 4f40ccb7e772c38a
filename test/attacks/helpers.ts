/**
 * Test helpers for the attack suites: a small easy classification problem (8x8 one-channel images
 * in [0,1], 4 classes, each a bright 3x3 square at its own place) and a small MLP trained on it in
 * a fraction of a second, deterministic for a seed.
 */
import { Flatten, Linear, Module, ReLU, Sequential } from '../../src/nn/index.js';
import { crossEntropy } from '../../src/nn/functional.js';
import { Adam } from '../../src/optim/index.js';
import { manualSeed, randn, scope, setNumThreads, tensor, type Tensor } from '../../src/tensor/index.js';
import { TensorDataset } from '../../src/data/index.js';

// The tensors here are tiny: one thread avoids OpenMP spin-waits when other jobs share the cores.
setNumThreads(1);

/** Number of classes of the synthetic problem. */
export const CLASSES = 4;

/** `n` images [n,1,8,8] in [0,1] and labels (class i % 4), kept: dispose them. */
export function syntheticData(n: number, seed = 0): { x: Tensor; y: Tensor } {
  manualSeed(seed);
  return scope(() => {
    const labels = Array.from({ length: n }, (_, i) => i % CLASSES);
    const clean = new Float32Array(n * 64).fill(0.2);
    labels.forEach((c, i) => {
      const [top, left] = [(c >> 1) * 4, (c & 1) * 4];
      for (let r = top; r < top + 3; r++) for (let col = left; col < left + 3; col++) clean[i * 64 + r * 8 + col] = 0.8;
    });
    const x = tensor(clean, { shape: [n, 1, 8, 8] }).add(randn([n, 1, 8, 8]).mul(0.1)).clamp(0, 1).keep();
    const y = tensor(labels, { dtype: 'int64' }).keep();
    return { x, y };
  });
}

/**
 * The synthetic problem as a data set (images stored as uint8, as data sets store them) and the
 * batch a loader produces from it (`x` decoded back to [0,1]); all kept: dispose them.
 */
export function syntheticDataset(n: number, seed = 0): { dataset: TensorDataset; x: Tensor; y: Tensor } {
  const data = syntheticData(n, seed);
  const pixels = scope(() => data.x.mul(255).round().to('uint8').keep());
  data.x.dispose();
  const dataset = new TensorDataset({ name: 'synthetic', images: pixels, labels: data.y.clone(), classNames: Array.from({ length: CLASSES }, (_, i) => `c${i}`) });
  const x = scope(() => pixels.float().div(255).keep());
  return { dataset, x, y: data.y };
}

/** A small MLP for the 8x8 images (a Module, hence a `Model`). */
export class SmallNet extends Module {
  readonly body = this.registerModule('body', new Sequential(new Flatten(), new Linear(64, 32), new ReLU(), new Linear(32, CLASSES)));
  forward(x: Tensor): Tensor {
    return this.body.forward(x);
  }
}

/** A SmallNet trained to ~100% accuracy on synthetic data (in evaluation mode). */
export function trainedNet(seed = 0): SmallNet {
  manualSeed(seed);
  const net = new SmallNet();
  const data = syntheticData(256, seed + 1);
  const optimizer = new Adam(net.parameters(), { lr: 0.01 });
  for (let step = 0; step < 150; step++) {
    scope(() => {
      optimizer.zeroGrad();
      crossEntropy(net.forward(data.x), data.y).backward();
      optimizer.step();
    });
  }
  data.x.dispose();
  data.y.dispose();
  optimizer.zeroGrad();
  return net.eval();
}

/** Accuracy of `model` on (x, y). */
export function accuracy(model: { forward(x: Tensor): Tensor }, x: Tensor, y: Tensor): number {
  return scope(() => model.forward(x).argmax(1).eq(y).float().mean().item());
}
