/**
 * The base of the purifiers: auto-encoders that map an (adversarial) image in [0,1] to a
 * reconstruction of the same size, placed in front of a classifier (papers 000, 001, 002).
 */
import { noGrad, randnLike, type Tensor } from '../tensor/index.js';
import { Conv2d, ConvTranspose2d, Module } from '../nn/index.js';
import { kaimingNormal_, zeros_ } from '../nn/init.js';

/** The image size a purifier is built for. */
export interface PurifierShape {
  channels: number;
  height: number;
  width: number;
}

/** Hyper-parameters shared by purifiers with a noisy latent (CAE, CSAAE). */
export interface LatentNoiseConfig {
  /**
   * Standard deviation of the Gaussian noise added to the latent code in training (papers 000
   * and 002: "random Gaussian noise is added after encoding"; neither gives its size).
   */
  latentNoise?: number;
  /** Also add the noise at inference (a randomised defense; attack it with EOT). Default false. */
  stochastic?: boolean;
}

/** An image-to-image model: [N,C,H,W] in [0,1] to a reconstruction of the same shape in [0,1]. */
export abstract class Purifier extends Module {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  /** Standard deviation of the latent noise (0 = none). */
  latentNoise: number;
  /** Add latent noise at inference too (EOT attacks then average over it). */
  stochastic: boolean;

  constructor(shape: PurifierShape, noise: LatentNoiseConfig = {}) {
    super();
    this.channels = shape.channels;
    this.height = shape.height;
    this.width = shape.width;
    this.latentNoise = noise.latentNoise ?? 0;
    this.stochastic = noise.stochastic ?? false;
  }

  /** The reconstruction of a channels-last input. */
  protected abstract reconstruct(x: Tensor): Tensor;

  /** Adds N(0, latentNoise^2) noise to a latent code in training (or always when stochastic). */
  protected noisy(latent: Tensor): Tensor {
    if (this.latentNoise <= 0 || !(this.training || this.stochastic)) return latent;
    return latent.add(randnLike(latent).mul_(this.latentNoise));
  }

  /** Purified images, same shape as `x`. */
  forward(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels || x.shape[2] !== this.height || x.shape[3] !== this.width) {
      throw new TypeError(
        `${this.constructor.name}: expected images [N,${this.channels},${this.height},${this.width}] in [0,1], got [${x.shape.join(',')}]`,
      );
    }
    return this.reconstruct(x.channelsLast());
  }
}

/**
 * Padding choices that undo a stride-2 3x3 convolution exactly: a down step from `size` uses
 * padding 1 unless `size` is odd and `oddToFloor` is set (7 -> 3 as paper 000's 3x3 latent
 * needs); the matching transposed convolution returns to `size`.
 */
export function strideTwo(size: number, oddToFloor: boolean): { down: { padding: number }; up: { kernel: number; padding: number; outputPadding: number }; out: number } {
  if (size % 2 === 1 && oddToFloor) {
    // (s - 3)/2 + 1 = (s-1)/2 ; back: (o-1)*2 + 3 = s
    return { down: { padding: 0 }, up: { kernel: 3, padding: 0, outputPadding: 0 }, out: (size - 1) / 2 };
  }
  const out = Math.floor((size - 1) / 2) + 1;
  // (o-1)*2 - 2 + 3 + op = s  =>  op = s - 2o + 1
  return { down: { padding: 1 }, up: { kernel: 3, padding: 1, outputPadding: size - 2 * out + 1 }, out };
}

/**
 * He initialisation (Kaiming-normal, ReLU gain) of every convolution below `module`, zero biases.
 * PyTorch's default conv init (Kaiming-uniform with a = sqrt(5), gain 1/sqrt(3)) shrinks the
 * signal at every layer; through the ten GELU convolutions of a U-shaped purifier it reached the
 * bottleneck at std 0.02 (measured), where the latent noise drowned it and training pushed the
 * output sigmoid to black and stalled (MSE stuck at 0.11 on MNIST). He initialisation keeps
 * activations at unit scale. For a transposed convolution the forward fan-in is in_channels * k^2,
 * PyTorch's fan_out of its weight layout.
 */
export function heInitConvolutions(module: Module): void {
  noGrad(() => {
    for (const m of module.modules()) {
      if (m instanceof Conv2d) kaimingNormal_(m.weight, { mode: 'fan_in', nonlinearity: 'relu' });
      else if (m instanceof ConvTranspose2d) kaimingNormal_(m.weight, { mode: 'fan_out', nonlinearity: 'relu' });
      else continue;
      if (m.bias !== null) zeros_(m.bias);
    }
  });
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
