/**
 * Normalisation layers with torch.nn's state names: BatchNorm2d (weight, bias, running_mean,
 * running_var, num_batches_tracked as int64), LayerNorm and GroupNorm (weight, bias).
 */
import { noGrad, ones, zeros, scalar, type Tensor } from '../tensor/index.js';
import { batchNorm, groupNorm, layerNorm } from './functional.js';
import { formatOptions } from './internal.js';
import { Module } from './module.js';

/** Options of {@link BatchNorm2d}. */
export interface BatchNormOptions {
  /** Added to the variance for stability (default 1e-5). */
  eps?: number;
  /**
   * Weight of the new batch in the running statistics (default 0.1):
   * running = (1 - momentum) * running + momentum * batch. `null` uses the cumulative average
   * (momentum 1/num_batches_tracked), as PyTorch.
   */
  momentum?: number | null;
  /** Learn a per-channel scale and shift (default true). */
  affine?: boolean;
  /** Keep running statistics for evaluation (default true); without them, batch statistics are always used. */
  trackRunningStats?: boolean;
}

/**
 * Batch normalisation over the channels of [N,C,H,W] input (Ioffe & Szegedy 2015; torch.nn.BatchNorm2d).
 * Training mode normalises with the batch statistics and updates the running ones (the variance
 * with Bessel's correction); evaluation mode uses the running statistics.
 */
export class BatchNorm2d extends Module {
  readonly eps: number;
  readonly momentum: number | null;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly numBatchesTracked: Tensor | null;

  constructor(readonly numFeatures: number, options: BatchNormOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new RangeError(`BatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum === undefined ? 0.1 : options.momentum;
    if (options.affine ?? true) {
      this.weight = this.registerParameter('weight', ones([numFeatures]));
      this.bias = this.registerParameter('bias', zeros([numFeatures]));
    } else {
      this.weight = this.registerParameter('weight', null);
      this.bias = this.registerParameter('bias', null);
    }
    if (options.trackRunningStats ?? true) {
      this.runningMean = this.registerBuffer('running_mean', zeros([numFeatures]));
      this.runningVar = this.registerBuffer('running_var', ones([numFeatures]));
      this.numBatchesTracked = this.registerBuffer('num_batches_tracked', scalar(0, { dtype: 'int64' }));
    } else {
      this.runningMean = this.registerBuffer('running_mean', null);
      this.runningVar = this.registerBuffer('running_var', null);
      this.numBatchesTracked = this.registerBuffer('num_batches_tracked', null);
    }
  }

  forward(input: Tensor): Tensor {
    if (input.ndim !== 4 || input.shape[1] !== this.numFeatures) {
      throw new TypeError(`BatchNorm2d(${this.numFeatures}): expected input [N,${this.numFeatures},H,W], got [${input.shape.join(',')}]`);
    }
    let factor = this.momentum ?? 0;
    const tracking = this.numBatchesTracked !== null;
    if (this.training && tracking) {
      const counter = this.numBatchesTracked;
      noGrad(() => counter.add_(1));
      if (this.momentum === null) factor = 1 / counter.item();
    }
    return batchNorm(input, this.runningMean, this.runningVar, {
      weight: this.weight, bias: this.bias, training: this.training || !tracking, momentum: factor, eps: this.eps,
    });
  }

  protected override extraRepr(): string {
    const opts = formatOptions(
      { eps: this.eps, momentum: this.momentum, affine: this.weight !== null, trackRunningStats: this.runningMean !== null },
      { eps: 1e-5, momentum: 0.1, affine: true, trackRunningStats: true },
    );
    return opts === '' ? `${this.numFeatures}` : `${this.numFeatures}, ${opts}`;
  }
}

/** Layer normalisation over the trailing `normalizedShape` dimensions (Ba et al. 2016; torch.nn.LayerNorm). */
export class LayerNorm extends Module {
  readonly normalizedShape: readonly number[];
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(normalizedShape: number | readonly number[], options: { eps?: number; elementwiseAffine?: boolean } = {}) {
    super();
    this.normalizedShape = typeof normalizedShape === 'number' ? [normalizedShape] : [...normalizedShape];
    if (this.normalizedShape.length === 0 || !this.normalizedShape.every((s) => Number.isInteger(s) && s > 0)) {
      throw new RangeError(`LayerNorm: normalizedShape must hold positive integers, got ${JSON.stringify(normalizedShape)}`);
    }
    this.eps = options.eps ?? 1e-5;
    if (options.elementwiseAffine ?? true) {
      this.weight = this.registerParameter('weight', ones(this.normalizedShape));
      this.bias = this.registerParameter('bias', zeros(this.normalizedShape));
    } else {
      this.weight = this.registerParameter('weight', null);
      this.bias = this.registerParameter('bias', null);
    }
  }

  forward(input: Tensor): Tensor {
    return layerNorm(input, this.normalizedShape, this.weight, this.bias, this.eps);
  }

  protected override extraRepr(): string {
    const opts = formatOptions({ eps: this.eps, elementwiseAffine: this.weight !== null }, { eps: 1e-5, elementwiseAffine: true });
    return `[${this.normalizedShape.join(', ')}]${opts === '' ? '' : `, ${opts}`}`;
  }
}

/** Group normalisation: channels split into groups, each normalised over (C/groups, H, W) (Wu & He 2018; torch.nn.GroupNorm). */
export class GroupNorm extends Module {
  readonly eps: number;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;

  constructor(readonly numGroups: number, readonly numChannels: number, options: { eps?: number; affine?: boolean } = {}) {
    super();
    if (!Number.isInteger(numGroups) || numGroups < 1 || !Number.isInteger(numChannels) || numChannels % numGroups !== 0) {
      throw new RangeError(`GroupNorm: numChannels (${numChannels}) must be divisible by numGroups (${numGroups})`);
    }
    this.eps = options.eps ?? 1e-5;
    if (options.affine ?? true) {
      this.weight = this.registerParameter('weight', ones([numChannels]));
      this.bias = this.registerParameter('bias', zeros([numChannels]));
    } else {
      this.weight = this.registerParameter('weight', null);
      this.bias = this.registerParameter('bias', null);
    }
  }

  forward(input: Tensor): Tensor {
    if (input.ndim < 2 || input.shape[1] !== this.numChannels) {
      throw new TypeError(`GroupNorm(${this.numGroups}, ${this.numChannels}): expected input [N,${this.numChannels},...], got [${input.shape.join(',')}]`);
    }
    return groupNorm(input, this.numGroups, this.weight, this.bias, this.eps);
  }

  protected override extraRepr(): string {
    const opts = formatOptions({ eps: this.eps, affine: this.weight !== null }, { eps: 1e-5, affine: true });
    return `${this.numGroups}, ${this.numChannels}${opts === '' ? '' : `, ${opts}`}`;
  }
}
