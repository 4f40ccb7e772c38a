/** Linear and shape layers: Linear, Flatten, Identity (torch.nn names and state). */
import { empty, type Tensor } from '../tensor/index.js';
import { linear } from './functional.js';
import { defaultLayerInit_ } from './init.js';
import { formatOptions } from './internal.js';
import { Module } from './module.js';

/** y = x W^T + b over the last dimension (torch.nn.Linear); weight [out, in], bias [out]. */
export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inFeatures: number, readonly outFeatures: number, options: { bias?: boolean } = {}) {
    super();
    for (const [name, v] of [['inFeatures', inFeatures], ['outFeatures', outFeatures]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new RangeError(`Linear: ${name} must be a non-negative integer, got ${v}`);
    }
    const weight = empty([outFeatures, inFeatures]);
    const bias = options.bias ?? true ? empty([outFeatures]) : null;
    defaultLayerInit_(weight, bias);
    this.weight = this.registerParameter('weight', weight);
    this.bias = bias === null ? this.registerParameter('bias', null) : this.registerParameter('bias', bias);
  }

  forward(input: Tensor): Tensor {
    return linear(input, this.weight, this.bias);
  }

  protected override extraRepr(): string {
    return `${this.inFeatures}, ${this.outFeatures}${this.bias === null ? ', bias=false' : ''}`;
  }
}

/** Flattens dimensions startDim..endDim into one (torch.nn.Flatten; default keeps the batch dimension). */
export class Flatten extends Module {
  readonly startDim: number;
  readonly endDim: number;

  constructor(options: { startDim?: number; endDim?: number } = {}) {
    super();
    this.startDim = options.startDim ?? 1;
    this.endDim = options.endDim ?? -1;
  }

  forward(input: Tensor): Tensor {
    return input.flatten(this.startDim, this.endDim);
  }

  protected override extraRepr(): string {
    return formatOptions({ startDim: this.startDim, endDim: this.endDim }, { startDim: 1, endDim: -1 });
  }
}

/** Returns its input unchanged (a placeholder where a layer is optional). */
export class Identity extends Module {
  forward(input: Tensor): Tensor {
    return input;
  }
}
