/**
 * DAE: the denoising auto-encoder of paper 001, section 3.4, exactly as listed:
 *   encoder: conv 16 3x3 stride 2 ReLU, conv 8 3x3 stride 2 ReLU          (28 -> 14 -> 7)
 *   decoder: convT 8 3x3 stride 2 ReLU, convT 16 3x3 stride 2 ReLU,       (7 -> 14 -> 28)
 *            conv 1 3x3 sigmoid
 * with Keras 'same' padding (PyTorch: padding 1, output padding 1 on the transposed
 * convolutions). Trained with MSE to the clean image from inputs with Gaussian noise of factor
 * 0.1 / 0.2 / 0.3 (src/defenses/purifier-training.ts). 3,217 parameters for 28x28x1.
 */
import type { Tensor } from '../tensor/index.js';
import { Conv2d, ConvTranspose2d } from '../nn/index.js';
import { Purifier, strideTwo, type PurifierShape } from './purifier.js';

/** Hyper-parameters of {@link DAE}. */
export type DAEConfig = PurifierShape;

/** Paper 001's denoising auto-encoder. */
export class DAE extends Purifier {
  readonly conv1: Conv2d;
  readonly conv2: Conv2d;
  readonly deconv1: ConvTranspose2d;
  readonly deconv2: ConvTranspose2d;
  readonly out: Conv2d;

  /** The configuration (this architecture has no hyper-parameters beyond the input shape). */
  constructor(readonly config: DAEConfig) {
    super(config);
    const s1 = strideTwo(config.height, false);
    const s2 = strideTwo(s1.out, false);
    this.conv1 = this.registerModule('conv1', new Conv2d(config.channels, 16, 3, { stride: 2, padding: 1 }));
    this.conv2 = this.registerModule('conv2', new Conv2d(16, 8, 3, { stride: 2, padding: 1 }));
    this.deconv1 = this.registerModule('deconv1', new ConvTranspose2d(8, 8, 3, { stride: 2, padding: 1, outputPadding: s2.up.outputPadding }));
    this.deconv2 = this.registerModule('deconv2', new ConvTranspose2d(8, 16, 3, { stride: 2, padding: 1, outputPadding: s1.up.outputPadding }));
    this.out = this.registerModule('out', new Conv2d(16, config.channels, 3, { padding: 1 }));
  }

  protected reconstruct(x: Tensor): Tensor {
    const h = this.conv2.forward(this.conv1.forward(x).relu_()).relu_();
    const y = this.deconv2.forward(this.deconv1.forward(h).relu_()).relu_();
    return this.out.forward(y).sigmoid();
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
