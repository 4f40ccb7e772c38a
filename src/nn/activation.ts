/** Activation layers (torch.nn.ReLU, GELU, Sigmoid, Tanh, LeakyReLU); no state. */
import type { Tensor } from '../tensor/index.js';
import { gelu, leakyRelu, relu, sigmoid, tanh } from './functional.js';
import { formatOptions } from './internal.js';
import { Module } from './module.js';

/**
 * max(x, 0) (torch.nn.ReLU). With `inplace: true` it overwrites its input and returns it, saving
 * one activation-sized allocation per call; use it only where nothing else needs the input
 * (e.g. right after a convolution or BatchNorm).
 */
export class ReLU extends Module {
  readonly inplace: boolean;

  constructor(options: { inplace?: boolean } = {}) {
    super();
    this.inplace = options.inplace ?? false;
  }

  forward(input: Tensor): Tensor {
    return this.inplace ? input.relu_() : relu(input);
  }

  protected override extraRepr(): string {
    return formatOptions({ inplace: this.inplace }, { inplace: false });
  }
}

/** Gaussian error linear unit x * Phi(x) (Hendrycks & Gimpel 2016; torch.nn.GELU); the CSAAE activation (paper 000). */
export class GELU extends Module {
  readonly approximate: 'none' | 'tanh';

  constructor(options: { approximate?: 'none' | 'tanh' } = {}) {
    super();
    this.approximate = options.approximate ?? 'none';
  }

  forward(input: Tensor): Tensor {
    return gelu(input, this.approximate);
  }

  protected override extraRepr(): string {
    return formatOptions({ approximate: this.approximate }, { approximate: 'none' });
  }
}

/** 1 / (1 + exp(-x)) (torch.nn.Sigmoid). */
export class Sigmoid extends Module {
  forward(input: Tensor): Tensor {
    return sigmoid(input);
  }
}

/** tanh(x) (torch.nn.Tanh). */
export class Tanh extends Module {
  forward(input: Tensor): Tensor {
    return tanh(input);
  }
}

/** max(x, 0) + negativeSlope * min(x, 0) (torch.nn.LeakyReLU; default slope 0.01). */
export class LeakyReLU extends Module {
  readonly negativeSlope: number;

  constructor(options: { negativeSlope?: number } = {}) {
    super();
    this.negativeSlope = options.negativeSlope ?? 0.01;
  }

  forward(input: Tensor): Tensor {
    return leakyRelu(input, this.negativeSlope);
  }

  protected override extraRepr(): string {
    return formatOptions({ negativeSlope: this.negativeSlope });
  }
}
