/**
 * CAE: the U-shaped convolutional auto-encoder of paper 002 (Mandal 2023), also paper 000's
 * baseline. The paper fixes: U shape, GELU activations, Gaussian noise added to the latent
 * after encoding, transposed convolutions to decode, MSE to the clean image; it gives no layer
 * sizes. Ours, for an HxW image:
 *
 *   enc0: conv 3x3 C->b, GELU, conv 3x3 b->b, GELU                      H x W      (skip 0)
 *   enc1: conv 3x3 stride 2 b->2b, GELU, conv 3x3 2b->2b, GELU          H/2 x W/2  (skip 1)
 *   enc2: conv 3x3 stride 2 2b->4b, GELU                                H/4 x W/4  latent (+ noise)
 *   dec1: convT 3x3 stride 2 4b->2b, GELU, [concat skip 1], conv 3x3 ->2b, GELU
 *   dec0: convT 3x3 stride 2 2b->b, GELU, [concat skip 0], conv 3x3 ->b, GELU
 *   out:  conv 3x3 b->C, sigmoid
 *
 * Convolutions are He-initialised (see heInitConvolutions in purifier.ts), with b = 16 by default (a 7x7x64 latent for MNIST; 78,881 parameters). Purification quality
 * and cost were measured for b = 16 and 32 (see the experiment notes); every white-box or EOT
 * gradient goes through this network, so its size sets the price of honest evaluation. `skips` picks the U's bridges: 'all' (a
 * full U-Net), 'inner' (only the half-resolution bridge: the full-resolution path must pass the
 * bottleneck, which keeps pixel-level perturbations from flowing straight through), or 'none'.
 */
import type { Tensor } from '../tensor/index.js';
import { cat } from '../tensor/index.js';
import { Conv2d, ConvTranspose2d, Module } from '../nn/index.js';
import { gelu } from '../nn/functional.js';
import { heInitConvolutions, Purifier, strideTwo, type LatentNoiseConfig, type PurifierShape } from './purifier.js';

/** Which encoder-decoder bridges a U-shaped purifier has. */
export type SkipMode = 'all' | 'inner' | 'none';

/** Hyper-parameters of {@link CAE}. */
export interface CAEConfig extends PurifierShape, LatentNoiseConfig {
  /** Channels of the first stage, b (default 32). */
  base?: number;
  skips?: SkipMode;
}

/** conv 3x3 + GELU. */
export class ConvGELU extends Module {
  readonly conv: Conv2d;
  constructor(inChannels: number, outChannels: number, stride = 1, padding = 1) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, 3, { stride, padding }));
  }
  forward(x: Tensor): Tensor {
    return gelu(this.conv.forward(x));
  }
}

/** transposed conv 3x3 stride 2 + GELU, sized to invert a stride-2 convolution exactly. */
export class UpGELU extends Module {
  readonly conv: ConvTranspose2d;
  constructor(inChannels: number, outChannels: number, up: { kernel: number; padding: number; outputPadding: number }) {
    super();
    this.conv = this.registerModule('conv', new ConvTranspose2d(inChannels, outChannels, up.kernel, { stride: 2, padding: up.padding, outputPadding: up.outputPadding }));
  }
  forward(x: Tensor): Tensor {
    return gelu(this.conv.forward(x));
  }
}

/** Paper 002's U-shaped convolutional auto-encoder (see the file comment). */
export class CAE extends Purifier {
  readonly skips: SkipMode;
  readonly enc0a: ConvGELU;
  readonly enc0b: ConvGELU;
  readonly enc1a: ConvGELU;
  readonly enc1b: ConvGELU;
  readonly enc2: ConvGELU;
  readonly up1: UpGELU;
  readonly dec1: ConvGELU;
  readonly up0: UpGELU;
  readonly dec0: ConvGELU;
  readonly out: Conv2d;

  /** The full configuration, defaults resolved (what checkpoints record). */
  readonly config: Required<Omit<CAEConfig, 'stochastic'>> & Pick<CAEConfig, 'stochastic'>;

  constructor(config: CAEConfig) {
    super(config, { latentNoise: config.latentNoise ?? 0.1, stochastic: config.stochastic ?? false });
    const b = config.base ?? 16;
    this.skips = config.skips ?? 'inner';
    this.config = { ...config, base: b, skips: this.skips, latentNoise: this.latentNoise };
    const s1 = strideTwo(config.height, false);
    const s2 = strideTwo(s1.out, false);
    const w1 = strideTwo(config.width, false);
    const w2 = strideTwo(w1.out, false);
    if (s1.up.outputPadding !== w1.up.outputPadding || s2.up.outputPadding !== w2.up.outputPadding) {
      throw new RangeError(`CAE: ${config.height}x${config.width} needs the same padding in both directions; use a square size or even sides`);
    }
    this.enc0a = this.registerModule('enc0a', new ConvGELU(config.channels, b));
    this.enc0b = this.registerModule('enc0b', new ConvGELU(b, b));
    this.enc1a = this.registerModule('enc1a', new ConvGELU(b, 2 * b, 2));
    this.enc1b = this.registerModule('enc1b', new ConvGELU(2 * b, 2 * b));
    this.enc2 = this.registerModule('enc2', new ConvGELU(2 * b, 4 * b, 2));
    this.up1 = this.registerModule('up1', new UpGELU(4 * b, 2 * b, s2.up));
    this.dec1 = this.registerModule('dec1', new ConvGELU(this.skips === 'none' ? 2 * b : 4 * b, 2 * b));
    this.up0 = this.registerModule('up0', new UpGELU(2 * b, b, s1.up));
    this.dec0 = this.registerModule('dec0', new ConvGELU(this.skips === 'all' ? 2 * b : b, b));
    this.out = this.registerModule('out', new Conv2d(b, config.channels, 3, { padding: 1 }));
    heInitConvolutions(this);
  }

  protected reconstruct(x: Tensor): Tensor {
    const skip0 = this.enc0b.forward(this.enc0a.forward(x));
    const skip1 = this.enc1b.forward(this.enc1a.forward(skip0));
    const latent = this.noisy(this.enc2.forward(skip1));
    let h = this.up1.forward(latent);
    h = this.dec1.forward(this.skips === 'none' ? h : cat([h, skip1], 1));
    h = this.up0.forward(h);
    h = this.dec0.forward(this.skips === 'all' ? cat([h, skip0], 1) : h);
    return this.out.forward(h).sigmoid();
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
