/**
 * Convolution layers (torch.nn.Conv2d, torch.nn.ConvTranspose2d) with PyTorch's default
 * initialisation and state names (`weight`, `bias`).
 *
 * Weights are stored in channels-last memory format: libtorch's oneDNN convolutions (and the
 * channels-last pooling that follows them) are several times faster that way on CPU. The layout is
 * invisible from outside: shapes, state dicts and checkpoints are the logical NCHW/OIHW tensors.
 */
import { empty, type Tensor } from '../tensor/index.js';
import { conv2d, convTranspose2d, pair, type Pair } from './functional.js';
import { defaultLayerInit_ } from './init.js';
import { formatOptions } from './internal.js';
import { Module } from './module.js';

function checkChannels(layer: string, inChannels: number, outChannels: number, groups: number): void {
  for (const [name, v] of [['inChannels', inChannels], ['outChannels', outChannels], ['groups', groups]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${layer}: ${name} must be a positive integer, got ${v}`);
  }
  if (inChannels % groups !== 0 || outChannels % groups !== 0) {
    throw new RangeError(`${layer}: inChannels (${inChannels}) and outChannels (${outChannels}) must be divisible by groups (${groups})`);
  }
}

/** Creates an initialised weight (PyTorch draw order: weight, then bias) and moves it to channels-last. */
function makeWeightAndBias(shape: readonly number[], biasSize: number | null): { weight: Tensor; bias: Tensor | null } {
  const logical = empty(shape);
  const bias = biasSize === null ? null : empty([biasSize]);
  defaultLayerInit_(logical, bias);
  const weight = logical.channelsLast();
  logical.dispose();
  return { weight, bias };
}

/** Options of {@link Conv2d}. */
export interface Conv2dLayerOptions {
  stride?: Pair;
  /** Zero padding per side, or 'same' (stride 1, output size = input size; needs dilation*(kernel-1) even). */
  padding?: Pair | 'same';
  dilation?: Pair;
  groups?: number;
  /** Learn an additive bias (default true). */
  bias?: boolean;
}

/** 2-D convolution over [N,C,H,W] images (torch.nn.Conv2d); weight [out, in/groups, kH, kW]. */
export class Conv2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, options: Conv2dLayerOptions = {}) {
    super();
    this.groups = options.groups ?? 1;
    checkChannels('Conv2d', inChannels, outChannels, this.groups);
    this.kernelSize = pair(kernelSize, 'kernelSize', 'Conv2d');
    this.stride = pair(options.stride ?? 1, 'stride', 'Conv2d');
    this.dilation = pair(options.dilation ?? 1, 'dilation', 'Conv2d');
    if (options.padding === 'same') {
      if (this.stride[0] !== 1 || this.stride[1] !== 1) throw new RangeError("Conv2d: padding 'same' needs stride 1");
      const total = this.kernelSize.map((k, i) => (this.dilation[i] as number) * (k - 1));
      if (total.some((t) => t % 2 !== 0)) {
        throw new RangeError(`Conv2d: padding 'same' needs dilation*(kernel-1) even on both sides, got kernel [${this.kernelSize.join(',')}]; pad explicitly`);
      }
      this.padding = [(total[0] as number) / 2, (total[1] as number) / 2];
    } else {
      this.padding = pair(options.padding ?? 0, 'padding', 'Conv2d');
    }
    const { weight, bias } = makeWeightAndBias([outChannels, inChannels / this.groups, ...this.kernelSize], options.bias ?? true ? outChannels : null);
    this.weight = this.registerParameter('weight', weight);
    this.bias = bias === null ? this.registerParameter('bias', null) : this.registerParameter('bias', bias);
  }

  forward(input: Tensor): Tensor {
    return conv2d(input, this.weight, this.bias, { stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups });
  }

  protected override extraRepr(): string {
    const opts = formatOptions(
      { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, dilation: this.dilation, groups: this.groups, bias: this.bias !== null },
      { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1, bias: true },
    );
    return `${this.inChannels}, ${this.outChannels}, ${opts}`;
  }
}

/** Options of {@link ConvTranspose2d}. */
export interface ConvTranspose2dLayerOptions {
  stride?: Pair;
  padding?: Pair;
  /** Extra size added to one side of the output (disambiguates the output size for stride > 1). */
  outputPadding?: Pair;
  dilation?: Pair;
  groups?: number;
  bias?: boolean;
}

/**
 * 2-D transposed convolution (torch.nn.ConvTranspose2d), the learned upsampling of decoders;
 * weight [in, out/groups, kH, kW]. Output size: (in-1)*stride - 2*padding + dilation*(k-1) + outputPadding + 1.
 */
export class ConvTranspose2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly outputPadding: [number, number];
  readonly dilation: [number, number];
  readonly groups: number;
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(readonly inChannels: number, readonly outChannels: number, kernelSize: Pair, options: ConvTranspose2dLayerOptions = {}) {
    super();
    this.groups = options.groups ?? 1;
    checkChannels('ConvTranspose2d', inChannels, outChannels, this.groups);
    this.kernelSize = pair(kernelSize, 'kernelSize', 'ConvTranspose2d');
    this.stride = pair(options.stride ?? 1, 'stride', 'ConvTranspose2d');
    this.padding = pair(options.padding ?? 0, 'padding', 'ConvTranspose2d');
    this.outputPadding = pair(options.outputPadding ?? 0, 'outputPadding', 'ConvTranspose2d');
    this.dilation = pair(options.dilation ?? 1, 'dilation', 'ConvTranspose2d');
    for (let i = 0; i < 2; i++) {
      const op = this.outputPadding[i] as number;
      if (op >= (this.stride[i] as number) && op >= (this.dilation[i] as number)) {
        throw new RangeError(`ConvTranspose2d: outputPadding [${this.outputPadding.join(',')}] must be smaller than stride or dilation`);
      }
    }
    const { weight, bias } = makeWeightAndBias([inChannels, outChannels / this.groups, ...this.kernelSize], options.bias ?? true ? outChannels : null);
    this.weight = this.registerParameter('weight', weight);
    this.bias = bias === null ? this.registerParameter('bias', null) : this.registerParameter('bias', bias);
  }

  forward(input: Tensor): Tensor {
    return convTranspose2d(input, this.weight, this.bias, {
      stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, dilation: this.dilation, groups: this.groups,
    });
  }

  protected override extraRepr(): string {
    const opts = formatOptions(
      { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, outputPadding: this.outputPadding, dilation: this.dilation, groups: this.groups, bias: this.bias !== null },
      { stride: [1, 1], padding: [0, 0], outputPadding: [0, 0], dilation: [1, 1], groups: 1, bias: true },
    );
    return `${this.inChannels}, ${this.outChannels}, ${opts}`;
  }
}
