/**
 * The simple CNN of paper 000 (CSAAE), section VI.B, and the variant drawn in its Fig. 1.
 *
 * Text: conv 32 3x3 ReLU, max-pool 2, conv 64 3x3 ReLU, max-pool 2, dense 128 ReLU, dense 10
 * (softmax in the loss) — 225,034 parameters for 28x28x1 input.
 * Fig. 1 ("variant"): conv 32 5x5, pool, conv 64 5x5, pool, dense 1000, dense 10 — 1,087,106
 * parameters, exactly the count the figure prints.
 * No padding (Keras 'valid'), as the figure's output shapes (24x24, 8x8) show.
 *
 * Implementation note: each block computes relu(maxpool(conv(x))) instead of
 * maxpool(relu(conv(x))). The two are the same function (ReLU is monotone, so it commutes with
 * max) with the same gradients almost everywhere, and ReLU then runs on a 4x smaller map.
 * State names (conv1, conv2, fc1, fc2) load into the equivalent torch.nn module.
 */
import type { Tensor } from '../tensor/index.js';
import { Conv2d, Dropout, Linear } from '../nn/index.js';
import { maxPool2d } from '../nn/functional.js';
import { Classifier, type ClassifierShape, type Tap } from './classifier.js';

/** Hyper-parameters of {@link SimpleCNN}. */
export interface SimpleCNNConfig extends ClassifierShape {
  /** Convolution kernel size: 3 (paper text) or 5 (Fig. 1). */
  kernel?: 3 | 5;
  /** Width of the hidden dense layer: 128 (text) or 1000 (Fig. 1). */
  hidden?: number;
  /** Dropout before the last layer during training (0 = none, as in the paper). */
  dropout?: number;
}

/** Paper 000's simple CNN (see the file comment for the two variants). */
export class SimpleCNN extends Classifier {
  readonly tapPoints = ['block1', 'block2', 'hidden'] as const;
  readonly camLayer = 'block2';
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly fc1: Linear;
  readonly fc2: Linear;
  readonly drop: Dropout;

  /** The full configuration, defaults resolved (what checkpoints record). */
  readonly config: Required<SimpleCNNConfig>;

  constructor(config: SimpleCNNConfig) {
    super(config);
    const k = config.kernel ?? 3;
    const hidden = config.hidden ?? 128;
    this.config = { ...config, kernel: k, hidden, dropout: config.dropout ?? 0, normalization: config.normalization ?? null };
    const side = (s: number): number => Math.floor((Math.floor((s - k + 1) / 2) - k + 1) / 2);
    const [h, w] = [side(config.height), side(config.width)];
    if (h < 1 || w < 1) throw new RangeError(`SimpleCNN: ${config.height}x${config.width} input is too small for two ${k}x${k} conv + pool blocks`);
    this.conv1 = this.registerModule('conv1', new Conv2d(config.channels, 32, k));
    this.conv2 = this.registerModule('conv2', new Conv2d(32, 64, k));
    this.fc1 = this.registerModule('fc1', new Linear(64 * h * w, hidden));
    this.fc2 = this.registerModule('fc2', new Linear(hidden, config.numClasses));
    this.drop = this.registerModule('drop', new Dropout(config.dropout ?? 0));
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
