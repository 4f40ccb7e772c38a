/**
 * DAE: the denoising auto-encoder of paper 001, section 3.4, exactly as listed:
 *   encoder: conv 16 3x3 stride 2 ReLU, conv 8 3x3 stride 2 ReLU          (28 -> 14 -> 7)
 *   decoder: convT 8 3x3 stride 2 ReLU, convT 16 3x3 stride 2 ReLU,       (7 -> 14 -> 28)
 *            conv 1 3x3 sigmoid
 * with Keras 'same' padding (PyTorch: padding 1, output padding 1 on the transposed
 * convolutions). Trained with MSE to the clean image from inputs with Gaussian noise of factor
 * 0.1 / 0.2 / 0.3 (src/defenses/purifier-training.ts). 3,217 parameters for 28x28x1.
 *
 * `widen` (default 1, the paper's network) multiplies both filter counts. Paper 001 uses MNIST
 * only; on Fashion-MNIST the paper's 8x7x7 bottleneck blurs textures the simple CNN relies on
 * (measured: -5.7 points of clean accuracy behind it), so `models-clean` also trains a widen-4
 * DAE there, labelled as such. Nothing else changes.
 */
import type { Tensor } from '../tensor/index.js';
import { Conv2d, ConvTranspose2d } from '../nn/index.js';
import { Purifier, strideTwo, type PurifierShape } from './purifier.js';
import { BastionError } from '../util/errors.js';

/** Hyper-parameters of {@link DAE}. */
export interface DAEConfig extends PurifierShape {
  /** Filter-count multiplier: conv 16w, 8w and convT 8w, 16w (default 1, paper 001). */
  widen?: number;
}

/** Paper 001's denoising auto-encoder. */
export class DAE extends Purifier {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly deconv1: ConvTranspose2d;
  readonly deconv2: ConvTranspose2d;
  readonly out: Conv2d;

  /** The configuration: the input shape and `widen`. */
  constructor(readonly config: DAEConfig) {
    super(config);
    const w = config.widen ?? 1;
    if (!Number.isInteger(w) || w < 1) throw new BastionError(`dae: widen must be a positive integer, got ${String(config.widen)}`, { hint: 'use e.g. "model": {"widen": 4} in the recipe' });
    const [wide, narrow] = [16 * w, 8 * w];
    const s1 = strideTwo(config.height, false);
    const s2 = strideTwo(s1.out, false);
    this.conv1 = this.registerModule('conv1', new Conv2d(config.channels, wide, 3, { stride: 2, padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(wide, narrow, 3, { stride: 2, padding: 1 }));
    this.deconv1 = this.registerModule('deconv1', new ConvTranspose2d(narrow, narrow, 3, { stride: 2, padding: 1, outputPadding: s2.up.outputPadding }));
    this.deconv2 = this.registerModule('deconv2', new ConvTranspose2d(narrow, wide, 3, { stride: 2, padding: 1, outputPadding: s1.up.outputPadding }));
    this.out = this.registerModule('out', new Conv2d(wide, config.channels, 3, { padding: 1 }));
  }

  protected reconstruct(x: Tensor): Tensor {
    const h = this.conv2.forward(this.conv1.forward(x).relu_()).relu_();
    const y = this.deconv2.forward(this.deconv1.forward(h).relu_()).relu_();
    return this.out.forward(y).sigmoid();
  }
}
