/** Upsampling (torch.nn.Upsample) by nearest-neighbour or bilinear interpolation. */
import type { Tensor } from '../tensor/index.js';
import { interpolate, pair, type Pair } from './functional.js';
import { formatOptions } from './internal.js';
import { Module } from './module.js';

/** Options of {@link Upsample}: exactly one of `size` and `scaleFactor`. */
export interface UpsampleOptions {
  /** Output [H, W] (or one number for both). */
  size?: Pair;
  /** Output size = floor(input size * scaleFactor). */
  scaleFactor?: number;
  /** Default 'nearest'. */
  mode?: 'nearest' | 'bilinear';
  /** Bilinear only: align the corner pixels of input and output (default false, as PyTorch). */
  alignCorners?: boolean;
}

/**
 * Resizes [N,C,H,W] feature maps. With `scaleFactor` the output size is computed from the input
 * size and the sampling grid is the one PyTorch uses with `size` (input/output ratio); for integer
 * factors this equals torch.nn.Upsample(scale_factor=...) exactly.
 */
export class Upsample extends Module {
  readonly size: [number, number] | undefined;
  readonly scaleFactor: number | undefined;
  readonly mode: 'nearest' | 'bilinear';
  readonly alignCorners: boolean;

  constructor(options: UpsampleOptions) {
    super();
    if ((options.size === undefined) === (options.scaleFactor === undefined)) {
      throw new TypeError('Upsample: give exactly one of size and scaleFactor');
    }
    if (options.scaleFactor !== undefined && !(options.scaleFactor > 0)) {
      throw new RangeError(`Upsample: scaleFactor must be positive, got ${options.scaleFactor}`);
    }
    this.size = options.size === undefined ? undefined : pair(options.size, 'size', 'Upsample');
    this.scaleFactor = options.scaleFactor;
    this.mode = options.mode ?? 'nearest';
    if (this.mode !== 'nearest' && this.mode !== 'bilinear') throw new TypeError(`Upsample: mode must be 'nearest' or 'bilinear', got '${String(this.mode)}'`);
    this.alignCorners = options.alignCorners ?? false;
    if (this.alignCorners && this.mode === 'nearest') throw new TypeError("Upsample: alignCorners applies to mode 'bilinear' only");
  }

  forward(input: Tensor): Tensor {
    return interpolate(input, {
      ...(this.size === undefined ? { scaleFactor: this.scaleFactor as number } : { size: this.size }),
      mode: this.mode,
      alignCorners: this.alignCorners,
    });
  }

  protected override extraRepr(): string {
    return formatOptions({ size: this.size, scaleFactor: this.scaleFactor, mode: this.mode, alignCorners: this.alignCorners }, { alignCorners: false });
  }
}
