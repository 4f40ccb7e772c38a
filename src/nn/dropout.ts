/** Dropout (torch.nn.Dropout). */
import type { Tensor } from '../tensor/index.js';
import { dropout } from './functional.js';
import { formatOptions } from './internal.js';
import { Module } from './module.js';

/**
 * In training mode, zeroes each element with probability p and scales the rest by 1/(1-p)
 * (Srivastava et al. 2014); the identity in evaluation mode. Draws from libtorch's generator.
 */
export class Dropout extends Module {
  readonly p: number;

  constructor(p = 0.5) {
    super();
    if (!(p >= 0 && p <= 1)) throw new RangeError(`Dropout: p must be in [0, 1], got ${p}`);
    this.p = p;
  }

  forward(input: Tensor): Tensor {
    return dropout(input, this.p, this.training);
  }

  protected override extraRepr(): string {
    return formatOptions({ p: this.p });
  }
}
