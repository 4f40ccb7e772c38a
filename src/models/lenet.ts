/**
 * "LeNet" of paper 004 (AAD), its MNIST model. The paper names LeNet, trains it with "keep rate
 * = 0.5" and uses "the same settings as Madry et al." for PGD; we read this as the LeNet-style
 * network of Madry et al.'s MNIST experiments (the TensorFlow MNIST tutorial network): conv 32
 * 5x5 'same' ReLU, max-pool 2, conv 64 5x5 'same' ReLU, max-pool 2, dense 1024 ReLU, dropout
 * (keep 0.5), dense 10 — 3,274,634 parameters for 28x28x1 input.
 * As in simple-cnn.ts, blocks compute relu(maxpool(conv)) — the same function, faster.
 */
import type { Tensor } from '../tensor/index.js';
import { Conv2d, Dropout, Linear } from '../nn/index.js';
import { maxPool2d } from '../nn/functional.js';
import { Classifier, type ClassifierShape, type Tap } from './classifier.js';

/** Hyper-parameters of {@link LeNet}. */
export interface LeNetConfig extends ClassifierShape {
  /** Dropout probability before the last layer (paper 004: keep rate 0.5, i.e. 0.5). */
  dropout?: number;
}

/** Paper 004's MNIST classifier (Madry et al.'s LeNet-style CNN). */
export class LeNet extends Classifier {
  readonly tapPoints = ['block1', 'block2', 'hidden'] as const;
  readonly camLayer = 'block2';
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly drop: Dropout;

  /** The full configuration, defaults resolved (what checkpoints record). */
  readonly config: Required<LeNetConfig>;

  constructor(config: LeNetConfig) {
    super(config);
    this.config = { ...config, dropout: config.dropout ?? 0.5, normalization: config.normalization ?? null };
    const [h, w] = [Math.floor(Math.floor(config.height / 2) / 2), Math.floor(Math.floor(config.width / 2) / 2)];
    if (h < 1 || w < 1) throw new RangeError(`LeNet: ${config.height}x${config.width} input is too small`);
    this.conv1 = this.registerModule('conv1', new Conv2d(config.channels, 32, 5, { padding: 2 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(32, 64, 5, { padding: 2 }));
    this.fc1 = this.registerModule('fc1', new Linear(64 * h * w, 1024));
    this.drop = this.registerModule('drop', new Dropout(config.dropout ?? 0.5));
    this.fc2 = this.registerModule('fc2', new Linear(1024, config.numClasses));
  }

  protected network(x: Tensor, tap: Tap | null): Tensor {
    const b1 = maxPool2d(this.conv1.forward(x), 2).relu_();
    tap?.('block1', b1);
    const b2 = maxPool2d(this.conv2.forward(b1), 2).relu_();
    tap?.('block2', b2);
    const hidden = this.fc1.forward(b2.flatten(1)).relu_();
    tap?.('hidden', hidden);
    return this.fc2.forward(this.drop.forward(hidden));
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
