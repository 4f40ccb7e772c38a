/**
 * Test helpers for training: a small deterministic data set, an in-memory BatchSource shuffled
 * per epoch from a seed (as src/data's loaders are), and a tiny CNN using BatchNorm and Dropout
 * (so that resumption must restore running statistics and the RNG).
 */
import { BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, Module, ReLU, Sequential } from '../../src/nn/index.js';
import { randn, scope, tensor, type Batch, type BatchSource, type Tensor } from '../../src/tensor/index.js';
import { Random } from '../../src/util/random.js';

/**
 * `n` 8x8 one-channel images of `classes` classes: class c has a bright 3x3 square at a
 * class-specific place, plus Gaussian noise. Kept tensors; dispose them when done.
 */
export function syntheticImages(n: number, classes = 3, noise = 0.3): { x: Tensor; y: Tensor } {
  return scope(() => {
    const labels = Array.from({ length: n }, (_, i) => i % classes);
    const clean = new Float32Array(n * 64);
    labels.forEach((c, i) => {
      const [top, left] = [(c * 2) % 6, (c * 3) % 6];
      for (let r = top; r < top + 3; r++) for (let col = left; col < left + 3; col++) clean[i * 64 + r * 8 + col] = 1;
    });
    const x = tensor(clean, { shape: [n, 1, 8, 8] }).add(randn([n, 1, 8, 8]).mul(noise)).keep();
    const y = tensor(labels, { dtype: 'int64' }).keep();
    return { x, y };
  });
}

/** Batches of in-memory tensors, reshuffled every epoch by Random(seed, epoch); each batch is disposed when the next is requested. */
export class TensorBatches implements BatchSource {
  readonly batchCount: number;
  readonly sampleCount: number;

  constructor(
    readonly x: Tensor,
    readonly y: Tensor,
    readonly batchSize: number,
    readonly seed: number,
    readonly options: { shuffle?: boolean; delayMs?: number } = {},
  ) {
    this.sampleCount = x.size(0);
    this.batchCount = Math.ceil(this.sampleCount / batchSize);
  }

  async *batches(epoch: number, startBatch = 0): AsyncGenerator<Batch> {
    const order = this.options.shuffle === false
      ? Int32Array.from({ length: this.sampleCount }, (_, i) => i)
      : new Random(this.seed * 1_000_003 + epoch).permutation(this.sampleCount);
    let current: Batch | null = null;
    try {
      for (let start = startBatch * this.batchSize; start < this.sampleCount; start += this.batchSize) {
        if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
        const indices = order.subarray(start, start + this.batchSize);
        current = scope(() => {
          const index = tensor(indices, { dtype: 'int64' });
          return { x: this.x.indexSelect(0, index), y: this.y.indexSelect(0, index), indices };
        });
        yield current;
        current.x.dispose();
        current.y.dispose();
        current = null;
      }
    } finally {
      current?.x.dispose();
      current?.y.dispose();
    }
  }
}

/** A tiny CNN for 8x8 one-channel images; converts its input to channels-last like Bastion's models. */
export class TinyCNN extends Module {
  readonly body = this.registerModule('body', new Sequential(
    new Conv2d(1, 4, 3, { padding: 1 }), new BatchNorm2d(4), new ReLU({ inplace: true }), new MaxPool2d(2),
    new Dropout(0.2), new Flatten(), new Linear(4 * 4 * 4, 3),
  ));

  forward(x: Tensor): Tensor {
    return scope(() => this.body.forward(x.channelsLast()));
  }
}
