/**
 * A tiny CAM-style classifier with a Grad-CAM tap point, for the AAD and A3 suites, and a data set
 * on which its Grad-CAM maps are meaningful: 8x8 one-channel images (background 0.2 plus noise)
 * holding one of four bright patterns — a horizontal bar, a vertical bar, a 2x2 block, a diagonal —
 * at a random place. The network is conv 3x3 (8 channels) -> ReLU (tap 'feat') -> global average
 * pooling -> dense, so Grad-CAM is the classic class activation map and peaks on the pattern.
 */
import { Conv2d, Linear } from '../../src/nn/index.js';
import { crossEntropy } from '../../src/nn/functional.js';
import { Adam } from '../../src/optim/index.js';
import { manualSeed, randn, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { Classifier, type Tap } from '../../src/models/index.js';
import { Random } from '../../src/util/random.js';

/** Number of classes of the pattern data. */
export const PATTERN_CLASSES = 4;

const PATTERNS: readonly (readonly [number, number])[][] = [
  [[0, 0], [0, 1], [0, 2]],
  [[0, 0], [1, 0], [2, 0]],
  [[0, 0], [0, 1], [1, 0], [1, 1]],
  [[0, 0], [1, 1], [2, 2]],
];

/** `n` pattern images [n,1,8,8] in [0,1] with labels (class i % 4) at seeded random places; kept: dispose them. */
export function patternData(n: number, seed = 0): { x: Tensor; y: Tensor } {
  manualSeed(seed);
  const rng = new Random(seed);
  return scope(() => {
    const labels = Array.from({ length: n }, (_, i) => i % PATTERN_CLASSES);
    const clean = new Float32Array(n * 64).fill(0.2);
    labels.forEach((c, i) => {
      const [top, left] = [rng.int(6), rng.int(6)];
      for (const [r, col] of PATTERNS[c] as [number, number][]) clean[i * 64 + (top + r) * 8 + left + col] = 0.9;
    });
    const x = tensor(clean, { shape: [n, 1, 8, 8] }).add(randn([n, 1, 8, 8]).mul(0.05)).clamp(0, 1).keep();
    const y = tensor(labels, { dtype: 'int64' }).keep();
    return { x, y };
  });
}

/** conv(1->8, 3x3) -> ReLU (tap 'feat', 8x8) -> global average pooling -> dense(8 -> 4). */
export class TinyCam extends Classifier {
  readonly tapPoints = ['feat'] as const;
  readonly camLayer = 'feat';
  readonly conv = this.registerModule('conv', new Conv2d(1, 8, 3, { padding: 1 }));
  readonly fc = this.registerModule('fc', new Linear(8, PATTERN_CLASSES));

  constructor() {
    super({ channels: 1, height: 8, width: 8, numClasses: PATTERN_CLASSES });
  }

  protected network(x: Tensor, tap: Tap | null): Tensor {
    const feat = this.conv.forward(x).relu();
    tap?.('feat', feat);
    return this.fc.forward(feat.mean([2, 3]));
  }
}

/** A TinyCam trained on 256 pattern images (in evaluation mode). */
export function trainedTinyCam(seed = 0, steps = 200): TinyCam {
  manualSeed(seed);
  const net = new TinyCam();
  const data = patternData(256, seed + 1);
  const optimizer = new Adam(net.parameters(), { lr: 0.03 });
  for (let step = 0; step < steps; step++) {
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
