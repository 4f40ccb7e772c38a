/**
 * Stateless neural-network functions and losses (the torch.nn.functional of Bastion).
 * Inputs are checked here with messages in the caller's terms; the math is libtorch's.
 */
import { native } from '../tensor/native.js';
import { fromHandle, type Tensor } from '../tensor/tensor.js';
import { scope } from '../tensor/scope.js';

/** An int or an (height, width) pair. */
export type Pair = number | readonly [number, number];

/** Normalises an int-or-pair argument to [height, width], checking it; errors name `op` and `name`. */
/** Expands an int or (height, width) pair to a checked pair of non-negative integers. */
export function pair(value: Pair, name: string, op: string): [number, number] {
  const p: readonly number[] = typeof value === 'number' ? [value, value] : value;
  if (p.length !== 2 || !p.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new TypeError(`${op}: ${name} must be a non-negative integer or a pair of them, got ${JSON.stringify(value)}`);
  }
  return [p[0] as number, p[1] as number];
}

function shapeOf(t: Tensor): string {
  return `[${t.shape.join(',')}]`;
}

function expectDims(t: Tensor, dims: number, op: string, what: string, layout: string): void {
  if (t.ndim !== dims) throw new TypeError(`${op}: ${what} must be ${dims}-D ${layout}, got ${shapeOf(t)}`);
}

/** Options of {@link conv2d}. */
export interface Conv2dOptions {
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  groups?: number;
}

/** 2-D convolution of NCHW `input` with OIHW `weight` (cross-correlation, as PyTorch). */
export function conv2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: Conv2dOptions = {}): Tensor {
  expectDims(input, 4, 'conv2d', 'input', '[N,C,H,W]');
  expectDims(weight, 4, 'conv2d', 'weight', '[out,in/groups,kH,kW]');
  const groups = options.groups ?? 1;
  if (input.shape[1] !== (weight.shape[1] as number) * groups) {
    throw new TypeError(
      `conv2d: input ${shapeOf(input)} has ${input.shape[1]} channels but weight ${shapeOf(weight)} expects ` +
        `${(weight.shape[1] as number) * groups} (groups=${groups})`,
    );
  }
  return fromHandle(
    native.conv2d(input.handle, weight.handle, bias?.handle ?? null, pair(options.stride ?? 1, 'stride', 'conv2d'),
      pair(options.padding ?? 0, 'padding', 'conv2d'), pair(options.dilation ?? 1, 'dilation', 'conv2d'), groups),
  );
}

/** Options of {@link convTranspose2d}. */
export interface ConvTranspose2dOptions extends Conv2dOptions {
  outputPadding?: Pair;
  /**
   * 'native' (default): libtorch's transposed convolution. 'convolution': the same result computed
   * as a convolution over zero-interleaved input (see {@link convTranspose2d}).
   */
  algorithm?: 'native' | 'convolution';
}

/**
 * 2-D transposed convolution; `weight` is [in, out/groups, kH, kW] as in PyTorch.
 *
 * `algorithm: 'convolution'` computes it with the exact identity convT(x, w) = conv(z, w'), where z
 * is x with (stride - 1) zeros between pixels and dilation*(k-1) - padding zeros around it (plus
 * outputPadding at the end), and w' is w with input and output channels swapped (per group) and
 * the kernel flipped; autograd differentiates it like any other ops, and results equal the native
 * op up to float rounding. It used to be the CPU default; measured again against Debian's libtorch
 * 1.13 on this 2-core machine, the native op is 2-3x faster for the CAE/CSAAE decoder layers at
 * batch 1 to 256, forward and backward, NCHW or channels-last, one or two threads (and 10-30x for
 * a decoder's 1-channel output layer), so native is the default everywhere and the identity stays
 * as an option and as a cross-check in the tests.
 */
export function convTranspose2d(input: Tensor, weight: Tensor, bias: Tensor | null = null, options: ConvTranspose2dOptions = {}): Tensor {
  expectDims(input, 4, 'convTranspose2d', 'input', '[N,C,H,W]');
  expectDims(weight, 4, 'convTranspose2d', 'weight', '[in,out/groups,kH,kW]');
  if (input.shape[1] !== weight.shape[0]) {
    throw new TypeError(`convTranspose2d: input ${shapeOf(input)} has ${input.shape[1]} channels but weight ${shapeOf(weight)} expects ${weight.shape[0]}`);
  }
  const stride = pair(options.stride ?? 1, 'stride', 'convTranspose2d');
  const padding = pair(options.padding ?? 0, 'padding', 'convTranspose2d');
  const outputPadding = pair(options.outputPadding ?? 0, 'outputPadding', 'convTranspose2d');
  const dilation = pair(options.dilation ?? 1, 'dilation', 'convTranspose2d');
  const groups = options.groups ?? 1;
  if ((options.algorithm ?? 'native') === 'native') {
    return fromHandle(native.convTranspose2d(input.handle, weight.handle, bias?.handle ?? null, stride, padding, outputPadding, groups, dilation));
  }
  const kernel = [weight.shape[2] as number, weight.shape[3] as number];
  const border = [0, 1].map((i) => (dilation[i] as number) * ((kernel[i] as number) - 1) - (padding[i] as number));
  if (border.some((b) => b < 0)) throw new RangeError(`convTranspose2d: padding [${padding.join(',')}] larger than dilation*(kernel-1) needs algorithm 'native'`);
  return scope(() => {
    const [n, c, h, w] = input.shape as [number, number, number, number];
    const [bh, bw] = border as [number, number];
    const [sh, sw] = stride;
    const spanH = (h - 1) * sh + 1;
    const spanW = (w - 1) * sw + 1;
    // Zeros laid out NHWC and viewed as NCHW: the convolution below stays channels-last.
    const zeros = fromHandle(native.zeros([n, spanH + 2 * bh + outputPadding[0], spanW + 2 * bw + outputPadding[1], c], input.dtype, input.device)).permute(0, 3, 1, 2);
    zeros.slice(2, bh, bh + spanH, sh).slice(3, bw, bw + spanW, sw).copy_(input);
    const [inChannels, outPerGroup, kh, kw] = weight.shape as [number, number, number, number];
    const flipped = weight.reshape(groups, inChannels / groups, outPerGroup, kh, kw).transpose(1, 2)
      .reshape(groups * outPerGroup, inChannels / groups, kh, kw).flip([2, 3]);
    return conv2d(zeros, flipped.channelsLast(), bias, { dilation, groups });
  });
}

/** y = x W^T + b over the last dimension. */
export function linear(input: Tensor, weight: Tensor, bias: Tensor | null = null): Tensor {
  expectDims(weight, 2, 'linear', 'weight', '[out,in]');
  if (input.shape[input.ndim - 1] !== weight.shape[1]) {
    throw new TypeError(`linear: input ${shapeOf(input)} has ${input.shape[input.ndim - 1]} features but weight ${shapeOf(weight)} expects ${weight.shape[1]}`);
  }
  return fromHandle(native.linear(input.handle, weight.handle, bias?.handle ?? null));
}

/** Options of the 2-D pooling functions. */
export interface Pool2dOptions {
  /** Default: the kernel size. */
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
}

/** Max pooling over NCHW input. */
export function maxPool2d(input: Tensor, kernel: Pair, options: Pool2dOptions & { dilation?: Pair } = {}): Tensor {
  expectDims(input, 4, 'maxPool2d', 'input', '[N,C,H,W]');
  const k = pair(kernel, 'kernel', 'maxPool2d');
  return fromHandle(native.maxPool2d(input.handle, k, pair(options.stride ?? k, 'stride', 'maxPool2d'),
    pair(options.padding ?? 0, 'padding', 'maxPool2d'), pair(options.dilation ?? 1, 'dilation', 'maxPool2d'), options.ceilMode ?? false));
}

/** Average pooling over NCHW input. */
export function avgPool2d(input: Tensor, kernel: Pair, options: Pool2dOptions & { countIncludePad?: boolean } = {}): Tensor {
  expectDims(input, 4, 'avgPool2d', 'input', '[N,C,H,W]');
  const k = pair(kernel, 'kernel', 'avgPool2d');
  return fromHandle(native.avgPool2d(input.handle, k, pair(options.stride ?? k, 'stride', 'avgPool2d'),
    pair(options.padding ?? 0, 'padding', 'avgPool2d'), options.ceilMode ?? false, options.countIncludePad ?? true));
}

/** Average pooling to a fixed output size. */
export function adaptiveAvgPool2d(input: Tensor, outputSize: Pair): Tensor {
  expectDims(input, 4, 'adaptiveAvgPool2d', 'input', '[N,C,H,W]');
  return fromHandle(native.adaptiveAvgPool2d(input.handle, pair(outputSize, 'outputSize', 'adaptiveAvgPool2d')));
}

/** Options of {@link batchNorm}. */
export interface BatchNormOptions {
  weight?: Tensor | null;
  bias?: Tensor | null;
  /** Use batch statistics and update the running ones in place (default false: use running stats). */
  training?: boolean;
  momentum?: number;
  eps?: number;
}

/** Batch normalisation over the channel dimension (dim 1). */
export function batchNorm(input: Tensor, runningMean: Tensor | null, runningVar: Tensor | null, options: BatchNormOptions = {}): Tensor {
  const training = options.training ?? false;
  if (!training && (runningMean === null || runningVar === null)) {
    throw new TypeError('batchNorm: evaluation mode needs running mean and variance (or pass training: true)');
  }
  return fromHandle(native.batchNorm(input.handle, options.weight?.handle ?? null, options.bias?.handle ?? null,
    runningMean?.handle ?? null, runningVar?.handle ?? null, training, options.momentum ?? 0.1, options.eps ?? 1e-5));
}

/** Layer normalisation over the trailing `normalizedShape` dimensions. */
export function layerNorm(input: Tensor, normalizedShape: readonly number[], weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  const tail = input.shape.slice(input.ndim - normalizedShape.length);
  if (tail.join(',') !== normalizedShape.join(',')) {
    throw new TypeError(`layerNorm: input ${shapeOf(input)} does not end with normalizedShape [${normalizedShape.join(',')}]`);
  }
  return fromHandle(native.layerNorm(input.handle, normalizedShape, weight?.handle ?? null, bias?.handle ?? null, eps));
}

/** Group normalisation: channels split into `groups`, each normalised over (C/groups, H, W). */
export function groupNorm(input: Tensor, groups: number, weight: Tensor | null = null, bias: Tensor | null = null, eps = 1e-5): Tensor {
  if ((input.shape[1] as number) % groups !== 0) {
    throw new TypeError(`groupNorm: ${input.shape[1]} channels are not divisible into ${groups} groups`);
  }
  return fromHandle(native.groupNorm(input.handle, groups, weight?.handle ?? null, bias?.handle ?? null, eps));
}

/** Zeroes elements with probability p and scales the rest by 1/(1-p), in training only. */
export function dropout(input: Tensor, p: number, training: boolean): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  return fromHandle(native.dropout(input.handle, p, training));
}

/** Rectified linear unit max(x, 0). */
export function relu(input: Tensor): Tensor {
  return fromHandle(native.relu(input.handle));
}
/**
 * GELU; `approximate: 'tanh'` uses the tanh approximation.
 *
 * libtorch 1.13 computes the exact GELU of a contiguous float tensor with oneDNN, forward and
 * backward, and its backward hands the incoming gradient to oneDNN as if it were contiguous too:
 * a gradient with other strides (e.g. an NCHW gradient arriving at a channels-last map, which is
 * what a convolution or a transposed convolution downstream returns) is read in the wrong order,
 * giving wrong values, zeros or garbage (measured: errors up to 1e28). Bastion therefore routes the
 * result through two reshapes, which are free views forward but make autograd copy any
 * non-contiguous gradient into a contiguous one before it reaches GELU's backward.
 */
export function gelu(input: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  return onNHWCView(input, (x) => {
    const y = fromHandle(native.gelu(x.handle, approximate));
    if (approximate !== 'none' || !y.requiresGrad || !x.isContiguous()) return y;
    return withContiguousGradient(y);
  });
}

/** `t` itself forward; backward, the gradient arriving at it is made contiguous (see {@link gelu}). */
function withContiguousGradient(t: Tensor): Tensor {
  const flat = t.reshape([-1]);
  const out = flat.reshape(t.shape as number[]);
  flat.dispose();
  t.dispose();
  return out;
}

/**
 * Applies an element-wise `op` to a channels-last 4-D tensor through its NHWC view, which is
 * contiguous: libtorch 1.13's vectorised CPU kernels of some element-wise ops (GELU, tanh) only
 * take the contiguous path, and on channels-last strides fall back to a loop about 2.5x slower
 * (measured: GELU forward+backward on [128,16,28,28], 24 ms -> 10 ms). The result keeps
 * channels-last strides; values and gradients are unchanged. Other inputs go straight to `op`.
 */
function onNHWCView(input: Tensor, op: (x: Tensor) => Tensor): Tensor {
  if (input.ndim !== 4 || input.isContiguous()) return op(input);
  const nhwc = input.permute([0, 2, 3, 1]);
  if (!nhwc.isContiguous()) {
    nhwc.dispose();
    return op(input);
  }
  const out = op(nhwc);
  const result = out.permute([0, 3, 1, 2]);
  out.dispose();
  nhwc.dispose();
  return result;
}
/** Logistic sigmoid 1 / (1 + e^-x). */
export function sigmoid(input: Tensor): Tensor {
  return fromHandle(native.sigmoid(input.handle));
}
/** Hyperbolic tangent. */
export function tanh(input: Tensor): Tensor {
  return onNHWCView(input, (x) => fromHandle(native.tanh(x.handle)));
}
/** max(x, 0) + negativeSlope * min(x, 0). */
export function leakyRelu(input: Tensor, negativeSlope = 0.01): Tensor {
  return fromHandle(native.leakyRelu(input.handle, negativeSlope));
}
/** log(sigmoid(x)), computed stably. */
export function logSigmoid(input: Tensor): Tensor {
  return fromHandle(native.logSigmoid(input.handle));
}
/** log(1 + e^(beta x)) / beta, linear above `threshold` for stability. */
export function softplus(input: Tensor, beta = 1, threshold = 20): Tensor {
  return fromHandle(native.softplus(input.handle, beta, threshold));
}
/** exp(x) / sum(exp(x)) along `dim`. */
export function softmax(input: Tensor, dim: number): Tensor {
  return fromHandle(native.softmax(input.handle, dim));
}
/** log(softmax(x)) along `dim`, computed stably. */
export function logSoftmax(input: Tensor, dim: number): Tensor {
  return fromHandle(native.logSoftmax(input.handle, dim));
}

/** Options of {@link interpolate}: give `size` or `scaleFactor`. */
export interface InterpolateOptions {
  size?: Pair;
  scaleFactor?: number;
  mode?: 'nearest' | 'bilinear';
  /** Bilinear only (default false, as PyTorch). */
  alignCorners?: boolean;
}

/** Resizes NCHW images by nearest-neighbour or bilinear interpolation. */
export function interpolate(input: Tensor, options: InterpolateOptions): Tensor {
  expectDims(input, 4, 'interpolate', 'input', '[N,C,H,W]');
  let size: [number, number];
  if (options.size !== undefined) size = pair(options.size, 'size', 'interpolate');
  else if (options.scaleFactor !== undefined && options.scaleFactor > 0) {
    size = [Math.floor((input.shape[2] as number) * options.scaleFactor), Math.floor((input.shape[3] as number) * options.scaleFactor)];
  } else throw new TypeError('interpolate: give size or a positive scaleFactor');
  if ((options.mode ?? 'nearest') === 'nearest') return fromHandle(native.upsampleNearest2d(input.handle, size));
  return fromHandle(native.upsampleBilinear2d(input.handle, size, options.alignCorners ?? false));
}

/** Pads the last dimensions: pads = [left, right, top, bottom, ...] as torch.nn.functional.pad. */
export function pad(input: Tensor, pads: readonly number[], mode: 'constant' | 'reflect' | 'replicate' | 'circular' = 'constant', value = 0): Tensor {
  if (pads.length % 2 !== 0 || pads.length / 2 > input.ndim) {
    throw new TypeError(`pad: pads must hold an even number of sizes (at most 2 per dimension), got [${pads.join(',')}]`);
  }
  return fromHandle(native.pad(input.handle, pads, mode, mode === 'constant' ? value : null));
}

/** Loss reduction over the batch. */
export type Reduction = 'mean' | 'sum' | 'none';

/** Options of {@link crossEntropy}. */
export interface CrossEntropyOptions {
  weight?: Tensor | null;
  reduction?: Reduction;
  ignoreIndex?: number;
  /** Mixes the target with the uniform distribution (Szegedy et al. 2016), as PyTorch. */
  labelSmoothing?: number;
}

function asClassIndices(target: Tensor, op: string): { target: Tensor; owned: boolean } {
  if (target.dtype === 'int64') return { target, owned: false };
  if (target.dtype === 'int32' || target.dtype === 'uint8' || target.dtype === 'int16' || target.dtype === 'int8') {
    return { target: target.to('int64'), owned: true };
  }
  if (target.isFloatingPoint) return { target, owned: false };
  throw new TypeError(`${op}: target must hold class indices (integers) or probabilities (floats), got ${target.dtype}`);
}

/**
 * Cross-entropy between `logits` [N,C] and `target`: class indices [N] or probabilities [N,C].
 * Integer targets of any width are accepted (cast to int64).
 */
export function crossEntropy(logits: Tensor, target: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const t = asClassIndices(target, 'crossEntropy');
  if (!t.target.isFloatingPoint && logits.shape[0] !== t.target.shape[0]) {
    throw new TypeError(`crossEntropy: logits ${shapeOf(logits)} and target ${shapeOf(target)} disagree on the batch size`);
  }
  try {
    return fromHandle(native.crossEntropy(logits.handle, t.target.handle, options.weight?.handle ?? null,
      options.reduction ?? 'mean', options.ignoreIndex ?? -100, options.labelSmoothing ?? 0));
  } finally {
    if (t.owned) t.target.dispose();
  }
}

/** Negative log-likelihood of log-probabilities [N,C] at class indices [N]. */
export function nllLoss(logProbs: Tensor, target: Tensor, options: Omit<CrossEntropyOptions, 'labelSmoothing'> = {}): Tensor {
  const t = asClassIndices(target, 'nllLoss');
  try {
    return fromHandle(native.nllLoss(logProbs.handle, t.target.handle, options.weight?.handle ?? null, options.reduction ?? 'mean', options.ignoreIndex ?? -100));
  } finally {
    if (t.owned) t.target.dispose();
  }
}

/** Mean squared error. */
export function mseLoss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return fromHandle(native.mseLoss(input.handle, target.handle, reduction));
}
/** Mean absolute error. */
export function l1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return fromHandle(native.l1Loss(input.handle, target.handle, reduction));
}
/** Huber-style smooth L1 loss. */
export function smoothL1Loss(input: Tensor, target: Tensor, reduction: Reduction = 'mean', beta = 1): Tensor {
  return fromHandle(native.smoothL1Loss(input.handle, target.handle, reduction, beta));
}

/**
 * KL divergence KL(target || exp(logInput)) with `logInput` as log-probabilities (PyTorch's
 * convention). 'batchmean' divides the sum by the batch size, the mathematically correct mean.
 */
export function klDiv(logInput: Tensor, target: Tensor, options: { reduction?: Reduction | 'batchmean'; logTarget?: boolean } = {}): Tensor {
  const reduction = options.reduction ?? 'mean';
  if (reduction === 'batchmean') {
    const summed = fromHandle(native.klDiv(logInput.handle, target.handle, 'sum', options.logTarget ?? false));
    const out = summed.div(logInput.shape[0] ?? 1);
    summed.dispose();
    return out;
  }
  return fromHandle(native.klDiv(logInput.handle, target.handle, reduction, options.logTarget ?? false));
}

/** Binary cross-entropy of probabilities. */
export function binaryCrossEntropy(probs: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return fromHandle(native.binaryCrossEntropy(probs.handle, target.handle, null, reduction));
}
/** Binary cross-entropy of logits (numerically stable). */
export function binaryCrossEntropyWithLogits(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  return fromHandle(native.binaryCrossEntropyWithLogits(logits.handle, target.handle, null, reduction));
}

/**
 * Multi-label soft-margin loss (torch.nn.MultiLabelSoftMarginLoss): per sample, the mean over
 * classes of the binary cross-entropy of sigmoid(logits) against 0/1 targets [N,C]; then
 * reduced over the batch. Paper 004 (eq. 10) uses it as the classification loss L_c.
 */
export function multilabelSoftMarginLoss(logits: Tensor, target: Tensor, reduction: Reduction = 'mean'): Tensor {
  if (logits.shape.join(',') !== target.shape.join(',')) {
    throw new TypeError(`multilabelSoftMarginLoss: logits ${shapeOf(logits)} and targets ${shapeOf(target)} must have the same shape`);
  }
  const perElement = fromHandle(native.binaryCrossEntropyWithLogits(logits.handle, target.handle, null, 'none'));
  const perSample = perElement.mean(-1);
  perElement.dispose();
  if (reduction === 'none') return perSample;
  const out = reduction === 'sum' ? perSample.sum() : perSample.mean();
  perSample.dispose();
  return out;
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
