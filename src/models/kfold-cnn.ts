/**
 * The CNN of paper 001 (denoising auto-encoder + K-fold ensemble), section 3.2: conv 32 3x3
 * ReLU, max-pool 2x2, conv 64 3x3 ReLU, max-pool 2x2, flatten, dense 10 (softmax in the loss);
 * trained with Adam, batch 128, 20 epochs. Paper 001 trains K=10 of them, one per fold, and
 * averages their predictions (src/defenses/ensemble.ts). 34,826 parameters for 28x28x1 input.
 * As in simple-cnn.ts, each block computes relu(maxpool(conv)) — the same function, faster.
 */
import type { Tensor } from '../tensor/index.js';
import { Conv2d, Linear } from '../nn/index.js';
import { maxPool2d } from '../nn/functional.js';
import { Classifier, type ClassifierShape, type Tap } from './classifier.js';

/** Paper 001's classifier. */
export class KfoldCNN extends Classifier {
  readonly tapPoints = ['block1', 'block2'] as const;
  readonly camLayer = 'block2';
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly fc: Linear;

  /** The configuration (this architecture has no hyper-parameters beyond the input shape). */
  constructor(readonly config: ClassifierShape) {
    super(config);
    const side = (s: number): number => Math.floor((Math.floor((s - 2) / 2) - 2) / 2);
    const [h, w] = [side(config.height), side(config.width)];
    if (h < 1 || w < 1) throw new RangeError(`KfoldCNN: ${config.height}x${config.width} input is too small`);
    this.conv1 = this.registerModule('conv1', new Conv2d(config.channels, 32, 3));
    this.conv2 = this.registerModule('conv2', new Conv2d(32, 64, 3));
    this.fc = this.registerModule('fc', new Linear(64 * h * w, config.numClasses));
  }

  protected network(x: Tensor, tap: Tap | null): Tensor {
    const b1 = maxPool2d(this.conv1.forward(x), 2).relu_();
    tap?.('block1', b1);
    const b2 = maxPool2d(this.conv2.forward(b1), 2).relu_();
    tap?.('block2', b2);
    return this.fc.forward(b2.flatten(1));
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
