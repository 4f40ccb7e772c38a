/**
 * CSAAE: the convolutional self-attention auto-encoder of paper 000 (Cheng & Wan), section VI.C
 * and Fig. 2. The paper fixes: a U shape; GELU throughout; self-attention in the encoder and at
 * the start of the decoder; a bottleneck flattened to a 1x288 vector for 28x28 input; Gaussian
 * noise added to that latent in training; transposed convolutions in the decoder; output the
 * size of the input. Our layer sizes (28x28x1 shown):
 *
 *   enc0: conv 3x3 C->16, GELU                                     28x28  (skip 0)
 *   enc1: conv 3x3 s2 16->32, GELU                                 14x14  (skip 1)
 *   enc2: conv 3x3 s2 32->32, GELU, self-attention                  7x7   (skip 2)
 *   enc3: conv 3x3 s2 (no pad) 32->32, GELU                         3x3 -> flatten: 288 (+ noise)
 *   dec:  self-attention (3x3), convT -> 7x7, [concat skip 2], conv, self-attention (7x7),
 *         convT -> 14x14, [concat skip 1], conv, convT -> 28x28, [concat skip 0], conv,
 *         conv 3x3 -> C, sigmoid
 *
 * 32 x 3 x 3 = 288 is the paper's latent size. Self-attention blocks are pre-norm residual
 * multi-head attention over positions (src/nn/attention.ts). They sit where the feature map is
 * at most a quarter of the image side (7x7 and 3x3 for MNIST): attention there already relates
 * every region of the digit to every other, while a block at 14x14 (196 positions) cost 4x the
 * rest of the network in training on CPU (measured) without a reason in the paper to prefer it.
 * Bridges as in cae.ts: 'inner' (default) keeps the 14x14 and 7x7 bridges and drops the
 * full-resolution one.
 */
import type { Tensor } from '../tensor/index.js';
import { cat } from '../tensor/index.js';
import { Conv2d, SelfAttention2d } from '../nn/index.js';
import { ConvGELU, UpGELU, type SkipMode } from './cae.js';
import { heInitConvolutions, Purifier, strideTwo, type LatentNoiseConfig, type PurifierShape } from './purifier.js';

/** Hyper-parameters of {@link CSAAE}. */
export interface CSAAEConfig extends PurifierShape, LatentNoiseConfig {
  /** Channels of the first stage (default 16; later stages use twice this). */
  base?: number;
  /** Attention heads per self-attention block (default 1). */
  heads?: number;
  skips?: SkipMode;
}

/** Paper 000's convolutional self-attention auto-encoder (see the file comment). */
export class CSAAE extends Purifier {
  readonly skips: SkipMode;
  /** Length of the flattened latent vector (288 for 28x28). */
  readonly latentSize: number;
  readonly enc0: ConvGELU;
  readonly enc1: ConvGELU;
  readonly enc2: ConvGELU;
  readonly attn2: SelfAttention2d;
  readonly enc3: ConvGELU;
  readonly attnLatent: SelfAttention2d;
  readonly up2: UpGELU;
  readonly dec2: ConvGELU;
  readonly attnDec: SelfAttention2d;
  readonly up1: UpGELU;
  readonly dec1: ConvGELU;
  readonly up0: UpGELU;
  readonly dec0: ConvGELU;
  readonly out: Conv2d;

  /** The full configuration, defaults resolved (what checkpoints record). */
  readonly config: Required<Omit<CSAAEConfig, 'stochastic'>> & Pick<CSAAEConfig, 'stochastic'>;

  constructor(config: CSAAEConfig) {
    super(config, { latentNoise: config.latentNoise ?? 0.1, stochastic: config.stochastic ?? false });
    const b = config.base ?? 16;
    const c = 2 * b;
    const heads = config.heads ?? 1;
    this.skips = config.skips ?? 'inner';
    this.config = { ...config, base: b, heads, skips: this.skips, latentNoise: this.latentNoise };
    const sizes = (side: number) => {
      const a = strideTwo(side, false);
      const b2 = strideTwo(a.out, false);
      const c3 = strideTwo(b2.out, true);
      return [a, b2, c3] as const;
    };
    const [h1, h2, h3] = sizes(config.height);
    const [w1, w2, w3] = sizes(config.width);
    if (h1.up.outputPadding !== w1.up.outputPadding || h2.up.outputPadding !== w2.up.outputPadding || h3.up.padding !== w3.up.padding) {
      throw new RangeError(`CSAAE: ${config.height}x${config.width} needs the same padding in both directions; use a square size`);
    }
    if (h3.out < 1 || w3.out < 1) throw new RangeError(`CSAAE: ${config.height}x${config.width} input is too small for three stride-2 stages`);
    this.latentSize = c * h3.out * w3.out;
    this.enc0 = this.registerModule('enc0', new ConvGELU(config.channels, b));
    this.enc1 = this.registerModule('enc1', new ConvGELU(b, c, 2));
    this.enc2 = this.registerModule('enc2', new ConvGELU(c, c, 2));
    this.attn2 = this.registerModule('attn2', new SelfAttention2d(c, { heads }));
    this.enc3 = this.registerModule('enc3', new ConvGELU(c, c, 2, h3.down.padding));
    this.attnLatent = this.registerModule('attn_latent', new SelfAttention2d(c, { heads }));
    this.up2 = this.registerModule('up2', new UpGELU(c, c, h3.up));
    this.dec2 = this.registerModule('dec2', new ConvGELU(this.skips === 'none' ? c : 2 * c, c));
    this.attnDec = this.registerModule('attn_dec', new SelfAttention2d(c, { heads }));
    this.up1 = this.registerModule('up1', new UpGELU(c, c, h2.up));
    this.dec1 = this.registerModule('dec1', new ConvGELU(this.skips === 'none' ? c : 2 * c, c));
    this.up0 = this.registerModule('up0', new UpGELU(c, b, h1.up));
    this.dec0 = this.registerModule('dec0', new ConvGELU(this.skips === 'all' ? 2 * b : b, b));
    this.out = this.registerModule('out', new Conv2d(b, config.channels, 3, { padding: 1 }));
    heInitConvolutions(this);
  }

  protected reconstruct(x: Tensor): Tensor {
    const skip0 = this.enc0.forward(x);
    const skip1 = this.enc1.forward(skip0);
    const skip2 = this.attn2.forward(this.enc2.forward(skip1));
    const code = this.enc3.forward(skip2);
    const [n, c, h, w] = code.shape as [number, number, number, number];
    const latent = this.noisy(code.flatten(1)).reshape(n, c, h, w);
    let y = this.up2.forward(this.attnLatent.forward(latent));
    y = this.attnDec.forward(this.dec2.forward(this.skips === 'none' ? y : cat([y, skip2], 1)));
    y = this.dec1.forward(this.skips === 'none' ? this.up1.forward(y) : cat([this.up1.forward(y), skip1], 1));
    y = this.up0.forward(y);
    y = this.dec0.forward(this.skips === 'all' ? cat([y, skip0], 1) : y);
    return this.out.forward(y).sigmoid();
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
