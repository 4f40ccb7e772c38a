/** Pooling layers (torch.nn.MaxPool2d, AvgPool2d, AdaptiveAvgPool2d); no state. */
import type { Tensor } from '../tensor/index.js';
import { adaptiveAvgPool2d, avgPool2d, maxPool2d, pair, type Pair } from './functional.js';
import { formatOptions } from './internal.js';
import { Module } from './module.js';

/** Options of {@link MaxPool2d}. */
export interface MaxPool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  /** Round the output size up instead of down. */
  ceilMode?: boolean;
}

/** Max pooling over [N,C,H,W] (torch.nn.MaxPool2d). Fast on channels-last input (see conv.ts). */
export class MaxPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly dilation: [number, number];
  readonly ceilMode: boolean;

  constructor(kernelSize: Pair, options: MaxPool2dOptions = {}) {
    super();
    this.kernelSize = pair(kernelSize, 'kernelSize', 'MaxPool2d');
    this.stride = pair(options.stride ?? kernelSize, 'stride', 'MaxPool2d');
    this.padding = pair(options.padding ?? 0, 'padding', 'MaxPool2d');
    this.dilation = pair(options.dilation ?? 1, 'dilation', 'MaxPool2d');
    this.ceilMode = options.ceilMode ?? false;
  }

  forward(input: Tensor): Tensor {
    return maxPool2d(input, this.kernelSize, { stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode });
  }

  protected override extraRepr(): string {
    return formatOptions(
      { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, dilation: this.dilation, ceilMode: this.ceilMode },
      { padding: [0, 0], dilation: [1, 1], ceilMode: false },
    );
  }
}

/** Options of {@link AvgPool2d}. */
export interface AvgPool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  /** Count padded zeros in the average (default true, as PyTorch). */
  countIncludePad?: boolean;
}

/** Average pooling over [N,C,H,W] (torch.nn.AvgPool2d). */
export class AvgPool2d extends Module {
  readonly kernelSize: [number, number];
  readonly stride: [number, number];
  readonly padding: [number, number];
  readonly ceilMode: boolean;
  readonly countIncludePad: boolean;

  constructor(kernelSize: Pair, options: AvgPool2dOptions = {}) {
    super();
    this.kernelSize = pair(kernelSize, 'kernelSize', 'AvgPool2d');
    this.stride = pair(options.stride ?? kernelSize, 'stride', 'AvgPool2d');
    this.padding = pair(options.padding ?? 0, 'padding', 'AvgPool2d');
    this.ceilMode = options.ceilMode ?? false;
    this.countIncludePad = options.countIncludePad ?? true;
  }

  forward(input: Tensor): Tensor {
    return avgPool2d(input, this.kernelSize, { stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad });
  }

  protected override extraRepr(): string {
    return formatOptions(
      { kernelSize: this.kernelSize, stride: this.stride, padding: this.padding, ceilMode: this.ceilMode, countIncludePad: this.countIncludePad },
      { padding: [0, 0], ceilMode: false, countIncludePad: true },
    );
  }
}

/** Average pooling to a fixed output size, whatever the input size (torch.nn.AdaptiveAvgPool2d). */
export class AdaptiveAvgPool2d extends Module {
  readonly outputSize: [number, number];

  constructor(outputSize: Pair) {
    super();
    this.outputSize = pair(outputSize, 'outputSize', 'AdaptiveAvgPool2d');
  }

  forward(input: Tensor): Tensor {
    return adaptiveAvgPool2d(input, this.outputSize);
  }

  protected override extraRepr(): string {
    return formatOptions({ outputSize: this.outputSize });
  }
}
