/**
 * ONNX neural-network operators: Conv, ConvTranspose, Gemm, MatMul, BatchNormalization,
 * InstanceNormalization, LayerNormalization, GroupNormalization, MaxPool, AveragePool, LpPool,
 * GlobalAveragePool, GlobalMaxPool, GlobalLpPool and LRN.
 *
 * The common 2-D cases are one native libtorch call each (conv2d, conv_transpose2d, linear,
 * max_pool2d, avg_pool2d, batch_norm, group_norm, layer_norm), so an imported ResNet runs as fast
 * as PyTorch eager. Other cases are composed of those calls: 1-D as 2-D with a unit height, 3-D
 * convolution as 2-D convolutions summed over the depth taps, 3-D pooling as two separable 2-D
 * poolings, asymmetric padding as an explicit pad. Everything stays differentiable with respect to
 * data and weights.
 */
import { native } from '../../../tensor/native.js';
import { fromHandle, type Tensor } from '../../../tensor/tensor.js';
import { arange, cat, onesLike, where, zeros } from '../../../tensor/index.js';
import { batchNorm, groupNorm, layerNorm, linear } from '../../../nn/functional.js';
import { defineOp, type OnnxOpContext } from '../registry.js';
import { int64Tensor, normAxis, product } from './shape.js';

// ---- padding helpers ---------------------------------------------------------------------------

/** Begin and end padding of each spatial dim. */
interface Padding {
  begin: number[];
  end: number[];
}

/**
 * Explicit padding from `auto_pad` and `pads`: SAME_UPPER / SAME_LOWER give ceil(in / stride)
 * outputs with the odd pixel at the end / the beginning, VALID none, NOTSET the `pads` attribute.
 */
function resolvePads(ctx: OnnxOpContext, spatial: readonly number[], kernel: readonly number[], strides: readonly number[], dilations: readonly number[]): Padding {
  const r = spatial.length;
  const autoPad = ctx.attrString('auto_pad', 'NOTSET');
  if (autoPad === 'NOTSET') {
    const pads = ctx.attrInts('pads', new Array<number>(2 * r).fill(0));
    if (pads.length !== 2 * r) throw ctx.fail(`pads [${pads.join(',')}] must hold ${2 * r} values (begin and end of each spatial dim)`);
    return { begin: pads.slice(0, r), end: pads.slice(r) };
  }
  if (autoPad === 'VALID') return { begin: new Array<number>(r).fill(0), end: new Array<number>(r).fill(0) };
  if (autoPad !== 'SAME_UPPER' && autoPad !== 'SAME_LOWER') throw ctx.fail(`auto_pad '${autoPad}' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID`);
  const begin: number[] = [];
  const end: number[] = [];
  spatial.forEach((size, i) => {
    const s = strides[i] as number;
    const out = Math.ceil(size / s);
    const total = Math.max(0, (out - 1) * s + ((kernel[i] as number) - 1) * (dilations[i] as number) + 1 - size);
    const small = Math.floor(total / 2);
    begin.push(autoPad === 'SAME_UPPER' ? small : total - small);
    end.push(autoPad === 'SAME_UPPER' ? total - small : small);
  });
  return { begin, end };
}

/** torch-style pad list (last dim first) for `begin`/`end` of the trailing spatial dims. */
function torchPads(begin: readonly number[], end: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = begin.length - 1; i >= 0; i--) out.push(begin[i] as number, end[i] as number);
  return out;
}

/** Pads (or, with negative values, crops) the trailing spatial dims with a constant. */
function padSpatial(x: Tensor, begin: readonly number[], end: readonly number[], value = 0): Tensor {
  if (begin.every((b) => b === 0) && end.every((e) => e === 0)) return x;
  return fromHandle(native.pad(x.handle, torchPads(begin, end), 'constant', value));
}

/** Splits padding into a symmetric part (for the native op) and the asymmetric rest (explicit). */
function splitPads(p: Padding): { symmetric: number[]; extraBegin: number[]; extraEnd: number[] } {
  const symmetric = p.begin.map((b, i) => Math.max(0, Math.min(b, p.end[i] as number)));
  return {
    symmetric,
    extraBegin: p.begin.map((b, i) => b - (symmetric[i] as number)),
    extraEnd: p.end.map((e, i) => e - (symmetric[i] as number)),
  };
}

function spatialAttrs(ctx: OnnxOpContext, name: string, r: number, fallback: number): number[] {
  const v = ctx.attrInts(name, new Array<number>(r).fill(fallback));
  if (v.length !== r) throw ctx.fail(`${name} [${v.join(',')}] must hold ${r} values (one per spatial dim)`);
  return v;
}

// ---- Conv ----------------------------------------------------------------------------------------

function conv2dRaw(x: Tensor, w: Tensor, b: Tensor | null, stride: number[], padding: number[], dilation: number[], groups: number): Tensor {
  return fromHandle(native.conv2d(x.handle, w.handle, b?.handle ?? null, stride, padding, dilation, groups));
}

function convKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  const w = ctx.input(1);
  const b = ctx.optionalInput(2);
  const r = x.ndim - 2;
  if (r < 1 || w.ndim !== x.ndim) throw ctx.fail(`input [${x.shape.join(',')}] and weight [${w.shape.join(',')}] must be [N,C,spatial...] and [M,C/group,kernel...] of the same rank`);
  const kernel = w.shape.slice(2);
  if (ctx.has('kernel_shape') && ctx.attrInts('kernel_shape').join(',') !== kernel.join(',')) {
    throw ctx.fail(`kernel_shape [${ctx.attrInts('kernel_shape').join(',')}] disagrees with the weight [${w.shape.join(',')}]`);
  }
  const strides = spatialAttrs(ctx, 'strides', r, 1);
  const dilations = spatialAttrs(ctx, 'dilations', r, 1);
  const groups = ctx.attrInt('group', 1);
  const pads = resolvePads(ctx, x.shape.slice(2), kernel, strides, dilations);
  const { symmetric, extraBegin, extraEnd } = splitPads(pads);
  const input = padSpatial(x, extraBegin, extraEnd);
  if (r === 2) return conv2dRaw(input, w, b, strides, symmetric, dilations, groups);
  if (r === 1) {
    const y = conv2dRaw(input.unsqueeze(2), w.unsqueeze(2), b, [1, strides[0] as number], [0, symmetric[0] as number], [1, dilations[0] as number], groups);
    return y.squeeze(2);
  }
  if (r === 3) return conv3d(input, w, b, strides, symmetric, dilations, groups);
  throw ctx.fail(`${r}-D convolution is not supported (1-D, 2-D and 3-D are)`);
}

/**
 * 3-D convolution as a sum over the depth taps of 2-D convolutions of depth frames: for tap kd,
 * the frames kd*dilation, kd*dilation + stride, ... convolved with the weight's kd-th 2-D slice.
 */
function conv3d(x: Tensor, w: Tensor, b: Tensor | null, strides: number[], padding: number[], dilations: number[], groups: number): Tensor {
  const [sd, sh, sw] = strides as [number, number, number];
  const [dd, dh, dw] = dilations as [number, number, number];
  const [pd, ph, pw] = padding as [number, number, number];
  const padded = padSpatial(x, [pd, 0, 0], [pd, 0, 0]);
  const [n, c, depth, h, wd] = padded.shape as [number, number, number, number, number];
  const kd = w.shape[2] as number;
  const outDepth = Math.floor((depth - dd * (kd - 1) - 1) / sd) + 1;
  if (outDepth < 1) throw new RangeError(`conv3d: input depth ${depth} is smaller than the dilated kernel`);
  let sum: Tensor | null = null;
  for (let k = 0; k < kd; k++) {
    const frames = padded.slice(2, k * dd, k * dd + (outDepth - 1) * sd + 1, sd).permute([0, 2, 1, 3, 4]).reshape([n * outDepth, c, h, wd]);
    const y = conv2dRaw(frames, w.select(2, k), null, [sh, sw], [ph, pw], [dh, dw], groups);
    sum = sum === null ? y : sum.add(y);
  }
  const s = sum as Tensor;
  const [, m, oh, ow] = s.shape as [number, number, number, number];
  const out = s.reshape([n, outDepth, m, oh, ow]).permute([0, 2, 1, 3, 4]);
  return b === null ? out.contiguous() : out.add(b.reshape([1, m, 1, 1, 1]));
}

defineOp({ opType: 'Conv', versions: { 1: convKernel, 11: convKernel } });

// ---- ConvTranspose -------------------------------------------------------------------------------

function convTransposeRaw(x: Tensor, w: Tensor, b: Tensor | null, stride: number[], padding: number[], outputPadding: number[], groups: number, dilation: number[]): Tensor {
  return fromHandle(native.convTranspose2d(x.handle, w.handle, b?.handle ?? null, stride, padding, outputPadding, groups, dilation));
}

function convTransposeKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  const w = ctx.input(1);
  const b = ctx.optionalInput(2);
  const r = x.ndim - 2;
  if (r < 1 || w.ndim !== x.ndim) throw ctx.fail(`input [${x.shape.join(',')}] and weight [${w.shape.join(',')}] must be [N,C,spatial...] and [C,M/group,kernel...] of the same rank`);
  if (r > 3) throw ctx.fail(`${r}-D transposed convolution is not supported (1-D, 2-D and 3-D are)`);
  const spatial = x.shape.slice(2);
  const kernel = w.shape.slice(2);
  const strides = spatialAttrs(ctx, 'strides', r, 1);
  const dilations = spatialAttrs(ctx, 'dilations', r, 1);
  const outputPadding = spatialAttrs(ctx, 'output_padding', r, 0);
  const groups = ctx.attrInt('group', 1);
  const autoPad = ctx.attrString('auto_pad', 'NOTSET');
  const full = spatial.map((size, i) => (strides[i] as number) * (size - 1) + ((kernel[i] as number) - 1) * (dilations[i] as number) + 1);
  let begin: number[];
  let end: number[];
  let extra = [...outputPadding];
  const outputShape = ctx.has('output_shape') ? ctx.attrInts('output_shape').slice(-r) : null;
  if (outputShape !== null || autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') {
    const target = outputShape ?? spatial.map((size, i) => size * (strides[i] as number));
    begin = [];
    end = [];
    target.forEach((out, i) => {
      const total = (full[i] as number) + (outputPadding[i] as number) - out;
      if (total < 0) {
        // A larger output than the full one: the rest is output padding at the end.
        begin.push(0);
        end.push(0);
        extra[i] = (extra[i] as number) - total;
        return;
      }
      const half = Math.floor(total / 2);
      begin.push(autoPad === 'SAME_UPPER' ? half : total - half);
      end.push(autoPad === 'SAME_UPPER' ? total - half : half);
    });
  } else if (autoPad === 'NOTSET' || autoPad === 'VALID') {
    const pads = autoPad === 'VALID' ? new Array<number>(2 * r).fill(0) : ctx.attrInts('pads', new Array<number>(2 * r).fill(0));
    if (pads.length !== 2 * r) throw ctx.fail(`pads [${pads.join(',')}] must hold ${2 * r} values`);
    begin = pads.slice(0, r);
    end = pads.slice(r);
  } else {
    throw ctx.fail(`auto_pad '${autoPad}' is not NOTSET, SAME_UPPER, SAME_LOWER or VALID`);
  }
  const simple = begin.every((p, i) => p === end[i] && p >= 0) && extra.every((e, i) => e >= 0 && (e < (strides[i] as number) || e < (dilations[i] as number)));
  if (r === 2 && simple) return convTransposeRaw(x, w, b, strides, begin, extra, groups, dilations);
  if (r === 1 && simple) {
    return convTransposeRaw(x.unsqueeze(2), w.unsqueeze(2), b, [1, strides[0] as number], [0, begin[0] as number], [0, extra[0] as number], groups, [1, dilations[0] as number]).squeeze(2);
  }
  // The full output, then cropped by the pads and extended by the output padding.
  let y: Tensor;
  if (r === 2) y = convTransposeRaw(x, w, null, strides, [0, 0], [0, 0], groups, dilations);
  else if (r === 1) y = convTransposeRaw(x.unsqueeze(2), w.unsqueeze(2), null, [1, strides[0] as number], [0, 0], [0, 0], groups, [1, dilations[0] as number]).squeeze(2);
  else y = convTranspose3dFull(x, w, strides, dilations, groups);
  y = padSpatial(y, begin.map((p) => -p), end.map((p, i) => (extra[i] as number) - p));
  const m = y.shape[1] as number;
  return b === null ? y : y.add(b.reshape([1, m, ...new Array<number>(r).fill(1)]));
}

/**
 * The full (unpadded) 3-D transposed convolution from 2-D ones: for depth tap kd, the 2-D
 * transposed convolution of every input frame with the weight's kd-th slice lands at output depth
 * kd*dilation + stride*frame; the taps are summed.
 */
function convTranspose3dFull(x: Tensor, w: Tensor, strides: number[], dilations: number[], groups: number): Tensor {
  const [sd, sh, sw] = strides as [number, number, number];
  const [dd, dh, dw] = dilations as [number, number, number];
  const [n, c, depth, h, wd] = x.shape as [number, number, number, number, number];
  const kd = w.shape[2] as number;
  const frames = x.permute([0, 2, 1, 3, 4]).reshape([n * depth, c, h, wd]);
  const span = (depth - 1) * sd + 1;
  const fullDepth = span + (kd - 1) * dd;
  let sum: Tensor | null = null;
  for (let k = 0; k < kd; k++) {
    const y = convTransposeRaw(frames, w.select(2, k), null, [sh, sw], [0, 0], [0, 0], groups, [dh, dw]);
    const [, m, oh, ow] = y.shape as [number, number, number, number];
    let seq = y.reshape([n, depth, m, oh, ow]);
    if (sd > 1) {
      const gap = zeros([n, depth, sd - 1, m, oh, ow], { dtype: y.dtype });
      seq = cat([seq.unsqueeze(2), gap], 2).reshape([n, depth * sd, m, oh, ow]).slice(1, 0, span);
    }
    const placed = fromHandle(native.pad(seq.handle, [0, 0, 0, 0, 0, 0, k * dd, fullDepth - span - k * dd], 'constant', 0));
    sum = sum === null ? placed : sum.add(placed);
  }
  return (sum as Tensor).permute([0, 2, 1, 3, 4]);
}

defineOp({ opType: 'ConvTranspose', versions: { 1: convTransposeKernel, 11: convTransposeKernel } });

// ---- Gemm, MatMul ----------------------------------------------------------------------------------

function gemmKernel(ctx: OnnxOpContext): Tensor {
  const a = ctx.input(0);
  const bMat = ctx.input(1);
  const c = ctx.optionalInput(2);
  const alpha = ctx.attrFloat('alpha', 1);
  const beta = ctx.attrFloat('beta', 1);
  if (a.ndim !== 2 || bMat.ndim !== 2) throw ctx.fail(`A [${a.shape.join(',')}] and B [${bMat.shape.join(',')}] must be matrices`);
  const left = ctx.attrInt('transA', 0) !== 0 ? a.t() : a;
  // linear() takes the weight as [N, K]: B itself when transB, else its transpose (a view).
  const weight = ctx.attrInt('transB', 0) !== 0 ? bMat : bMat.t();
  const n = weight.shape[0] as number;
  if (alpha === 1 && beta === 1 && c !== null && c.numel === n && n > 1 && (c.ndim === 1 || (c.ndim === 2 && c.shape[0] === 1))) {
    return linear(left, weight, c.ndim === 1 ? c : c.reshape([n]));
  }
  let y = linear(left, weight, null);
  if (alpha !== 1) y = y.mul(alpha);
  if (c !== null && beta !== 0) y = y.add(beta === 1 ? c : c.mul(beta));
  return y;
}

defineOp({ opType: 'Gemm', versions: { 1: gemmKernel } });

defineOp({ opType: 'MatMul', versions: { 1: (ctx) => ctx.input(0).matmul(ctx.input(1)) } });

// ---- normalisation ----------------------------------------------------------------------------------

function batchNormKernel(ctx: OnnxOpContext): Tensor | Tensor[] {
  const x = ctx.input(0);
  const scale = ctx.input(1);
  const bias = ctx.input(2);
  const mean = ctx.input(3);
  const variance = ctx.input(4);
  const eps = ctx.attrFloat('epsilon', 1e-5);
  const momentum = ctx.attrFloat('momentum', 0.9);
  const extraOutputs = ctx.node.outputs.slice(1).some((o) => o !== '');
  const trainingMode = ctx.opset >= 14 ? ctx.attrInt('training_mode', 0) !== 0 : extraOutputs;
  if (x.ndim < 2) throw ctx.fail(`input [${x.shape.join(',')}] must be at least [N,C]`);
  const spatial = ctx.opset < 9 ? ctx.attrInt('spatial', 1) !== 0 : true;
  if (!trainingMode) {
    if (!spatial && scale.ndim > 1) {
      // Per-element statistics of shape [C, D1, ...]: broadcast over the batch.
      const invStd = variance.add(eps).rsqrt();
      return x.sub(mean).mul(invStd.mul(scale)).add(bias);
    }
    return batchNorm(x, mean, variance, { weight: scale, bias, training: false, eps });
  }
  if (!ctx.training && ctx.opset < 14) {
    // Before opset 14 only the extra outputs mark training; an evaluating network normalises
    // with the running statistics, which then stay as they are.
    const y = batchNorm(x, mean, variance, { weight: scale, bias, training: false, eps });
    return [y, mean.clone(), variance.clone(), mean.clone(), variance.clone()];
  }
  // From opset 14, training_mode=1 is the graph's own statement: normalise with batch statistics
  // whatever mode the network is in (each image's scores then depend on its batch; a model meant
  // for inference should be exported in eval mode).
  const dims = x.shape.map((_, i) => i).filter((i) => i !== 1);
  const y = batchNorm(x, null, null, { weight: scale, bias, training: true, eps });
  if (!extraOutputs) return y;
  const batchMean = x.mean(dims);
  const batchVar = x.var(dims, { correction: 0 });
  const runningMean = mean.mul(momentum).add(batchMean.mul(1 - momentum));
  const runningVar = variance.mul(momentum).add(batchVar.mul(1 - momentum));
  return [y, runningMean, runningVar, batchMean, batchVar];
}

defineOp({ opType: 'BatchNormalization', versions: { 1: batchNormKernel, 14: batchNormKernel } });

defineOp({
  opType: 'InstanceNormalization',
  versions: {
    1: (ctx) => {
      const x = ctx.input(0);
      if (x.ndim < 3) throw ctx.fail(`input [${x.shape.join(',')}] must be [N,C,spatial...]`);
      return groupNorm(x, x.shape[1] as number, ctx.input(1), ctx.input(2), ctx.attrFloat('epsilon', 1e-5));
    },
  },
});

defineOp({
  opType: 'LayerNormalization',
  versions: {
    17: (ctx) => {
      const x = ctx.input(0);
      const axis = normAxis(ctx, ctx.attrInt('axis', -1), x.ndim);
      const eps = ctx.attrFloat('epsilon', 1e-5);
      const normalized = x.shape.slice(axis);
      const fit = (t: Tensor | null): Tensor | null => (t === null || t.shape.join(',') === normalized.join(',') ? t : t.expand(normalized));
      const y = layerNorm(x, normalized, fit(ctx.input(1)), fit(ctx.optionalInput(2)), eps);
      if (!ctx.node.outputs.slice(1).some((o) => o !== '')) return y;
      const dims = normalized.map((_, i) => axis + i);
      const mean = x.mean(dims, { keepdim: true });
      const invStd = x.var(dims, { correction: 0, keepdim: true }).add(eps).rsqrt();
      return [y, mean, invStd];
    },
  },
});

function groupNormKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  if (x.ndim < 3) throw ctx.fail(`input [${x.shape.join(',')}] must be [N,C,spatial...]`);
  const groups = ctx.attrInt('num_groups');
  const channels = x.shape[1] as number;
  if (channels % groups !== 0) throw ctx.fail(`${channels} channels do not split into num_groups=${groups}`);
  const eps = ctx.attrFloat('epsilon', 1e-5);
  const scale = ctx.input(1);
  const bias = ctx.input(2);
  if (scale.numel === channels && bias.numel === channels) return groupNorm(x, groups, scale.reshape([channels]), bias.reshape([channels]), eps);
  // Opset 18: one scale and bias per group.
  const perChannel = (t: Tensor): Tensor => t.reshape([groups, 1]).expand([groups, channels / groups]).reshape([channels]);
  return groupNorm(x, groups, perChannel(scale), perChannel(bias), eps);
}

defineOp({ opType: 'GroupNormalization', versions: { 18: groupNormKernel } });

// ---- pooling -----------------------------------------------------------------------------------------

interface PoolSpec {
  kind: 'max' | 'avg';
  kernel: number[];
  strides: number[];
  dilations: number[];
  pads: Padding;
  ceil: boolean;
  countIncludePad: boolean;
}

/** One 2-D pooling of a 4-D tensor, with any padding (asymmetric or large padding made explicit). */
function pool2d(x: Tensor, kind: 'max' | 'avg', kernel: number[], strides: number[], dilations: number[], begin: number[], end: number[], ceil: boolean, countIncludePad: boolean): Tensor {
  const symmetric = begin.every((b, i) => b === end[i] && b >= 0);
  const fits = begin.every((b, i) => b <= Math.floor((((kernel[i] as number) - 1) * (dilations[i] as number) + 1) / 2) && (kind === 'max' || b <= Math.floor((kernel[i] as number) / 2)));
  if (kind === 'max') {
    if (symmetric && fits) return fromHandle(native.maxPool2d(x.handle, kernel, strides, begin, dilations, ceil));
    const padded = padSpatial(x, begin, end, -Infinity);
    return fromHandle(native.maxPool2d(padded.handle, kernel, strides, [0, 0], dilations, ceil));
  }
  if (symmetric && fits) return fromHandle(native.avgPool2d(x.handle, kernel, strides, begin, ceil, countIncludePad));
  const padded = padSpatial(x, begin, end, 0);
  const sums = fromHandle(native.avgPool2d(padded.handle, kernel, strides, [0, 0], ceil, true));
  if (countIncludePad) return sums;
  const [h, w] = x.shape.slice(2) as [number, number];
  const mask = padSpatial(onesLike(x.narrow(0, 0, 1).narrow(1, 0, 1)).reshape([1, 1, h, w]), begin, end, 0);
  const counts = fromHandle(native.avgPool2d(mask.handle, kernel, strides, [0, 0], ceil, true));
  return sums.div(counts);
}

/** Pooling of 1-D, 2-D or 3-D spatial data (3-D as two separable 2-D poolings). */
function poolNd(ctx: OnnxOpContext, x: Tensor, spec: PoolSpec): Tensor {
  const r = x.ndim - 2;
  const { kind, kernel, strides, dilations, pads, ceil, countIncludePad } = spec;
  const isInt = !x.isFloatingPoint;
  const data = kind === 'max' && isInt ? x.to('float32') : x;
  let y: Tensor;
  if (r === 2) y = pool2d(data, kind, kernel, strides, dilations, pads.begin, pads.end, ceil, countIncludePad);
  else if (r === 1) {
    y = pool2d(data.unsqueeze(2), kind, [1, kernel[0] as number], [1, strides[0] as number], [1, dilations[0] as number], [0, pads.begin[0] as number], [0, pads.end[0] as number], ceil, countIncludePad).squeeze(2);
  } else if (r === 3) {
    const [n, c, d, h, w] = data.shape as [number, number, number, number, number];
    const planes = pool2d(data.reshape([n, c * d, h, w]), kind, kernel.slice(1), strides.slice(1), dilations.slice(1), pads.begin.slice(1), pads.end.slice(1), ceil, countIncludePad);
    const [, , oh, ow] = planes.shape as [number, number, number, number];
    const depth = pool2d(planes.reshape([n, c, d, oh * ow]), kind, [kernel[0] as number, 1], [strides[0] as number, 1], [dilations[0] as number, 1], [pads.begin[0] as number, 0], [pads.end[0] as number, 0], ceil, countIncludePad);
    y = depth.reshape([n, c, depth.shape[2] as number, oh, ow]);
  } else {
    throw ctx.fail(`${r}-D pooling is not supported (1-D, 2-D and 3-D are)`);
  }
  return data === x ? y : y.to(x.dtype);
}

function poolSpec(ctx: OnnxOpContext, x: Tensor, kind: 'max' | 'avg'): PoolSpec {
  const r = x.ndim - 2;
  if (r < 1) throw ctx.fail(`input [${x.shape.join(',')}] must be [N,C,spatial...]`);
  const kernel = ctx.attrInts('kernel_shape');
  if (kernel.length !== r) throw ctx.fail(`kernel_shape [${kernel.join(',')}] must hold ${r} values`);
  const strides = spatialAttrs(ctx, 'strides', r, 1);
  const dilations = spatialAttrs(ctx, 'dilations', r, 1);
  const pads = resolvePads(ctx, x.shape.slice(2), kernel, strides, dilations);
  return { kind, kernel, strides, dilations, pads, ceil: ctx.attrInt('ceil_mode', 0) !== 0, countIncludePad: ctx.attrInt('count_include_pad', 0) !== 0 };
}

function maxPoolKernel(ctx: OnnxOpContext): Tensor | Tensor[] {
  const x = ctx.input(0);
  const spec = poolSpec(ctx, x, 'max');
  const y = poolNd(ctx, x, spec);
  if (!ctx.node.outputs[1]) return y;
  if (x.ndim !== 4) throw ctx.fail('output Indices is supported for 2-D pooling only');
  return [y, maxPoolIndices(x, y, spec, ctx.attrInt('storage_order', 0) !== 0)];
}

/**
 * The Indices output of MaxPool (flat positions in the input, as onnxruntime numbers them: plane
 * offset plus row-major, or column-major with storage_order=1, position in the plane): for each
 * kernel offset, the strided window elements that equal the maximum; the first offset wins ties.
 */
function maxPoolIndices(x: Tensor, y: Tensor, spec: PoolSpec, columnMajor: boolean): Tensor {
  const [n, c, h, w] = x.shape as [number, number, number, number];
  const [oh, ow] = y.shape.slice(2) as [number, number];
  const [kh, kw] = spec.kernel as [number, number];
  const [sh, sw] = spec.strides as [number, number];
  const [dh, dw] = spec.dilations as [number, number];
  const [ph, pw] = spec.pads.begin as [number, number];
  const needH = (oh - 1) * sh + (kh - 1) * dh + 1;
  const needW = (ow - 1) * sw + (kw - 1) * dw + 1;
  const data = x.isFloatingPoint ? x : x.to('float32');
  const target = y.dtype === data.dtype ? y : y.to(data.dtype);
  const padded = padSpatial(data, [ph, pw], [Math.max(0, needH - h - ph), Math.max(0, needW - w - pw)], -Infinity);
  const planes = arange(0, n * c).mul(h * w).reshape([n, c, 1, 1]);
  let index: Tensor | null = null;
  for (let a = kh - 1; a >= 0; a--) {
    for (let b = kw - 1; b >= 0; b--) {
      const window = padded.slice(2, a * dh, a * dh + (oh - 1) * sh + 1, sh).slice(3, b * dw, b * dw + (ow - 1) * sw + 1, sw);
      const positions: number[] = [];
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          const row = i * sh + a * dh - ph;
          const col = j * sw + b * dw - pw;
          positions.push(columnMajor ? row + col * h : row * w + col);
        }
      }
      const here = int64Tensor(positions, [1, 1, oh, ow]).add(planes);
      index = index === null ? here : where(window.eq(target), here, index);
    }
  }
  return index as Tensor;
}

defineOp({ opType: 'MaxPool', versions: { 1: maxPoolKernel, 8: maxPoolKernel, 10: maxPoolKernel, 11: maxPoolKernel, 12: maxPoolKernel } });

function averagePoolKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  const spec = poolSpec(ctx, x, 'avg');
  if (spec.dilations.some((d) => d !== 1)) throw ctx.fail(`dilations [${spec.dilations.join(',')}] are not supported for average pooling`);
  return poolNd(ctx, x, spec);
}

defineOp({ opType: 'AveragePool', versions: { 1: averagePoolKernel, 7: averagePoolKernel, 10: averagePoolKernel, 11: averagePoolKernel } });

function lpPoolKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  const p = ctx.attrInt('p', 2);
  const spec = { ...poolSpec(ctx, x, 'avg'), countIncludePad: true };
  if (spec.dilations.some((d) => d !== 1)) throw ctx.fail(`dilations [${spec.dilations.join(',')}] are not supported for Lp pooling`);
  const powered = p === 2 ? x.square() : p === 1 ? x.abs() : x.abs().pow(p);
  const sums = poolNd(ctx, powered, spec).mul(product(spec.kernel));
  return p === 1 ? sums : p === 2 ? sums.sqrt() : sums.pow(1 / p);
}

defineOp({ opType: 'LpPool', versions: { 2: lpPoolKernel, 11: lpPoolKernel } });

function spatialDims(ctx: OnnxOpContext, x: Tensor): number[] {
  if (x.ndim < 3) throw ctx.fail(`input [${x.shape.join(',')}] must be [N,C,spatial...]`);
  return x.shape.slice(2).map((_, i) => i + 2);
}

defineOp({ opType: 'GlobalAveragePool', versions: { 1: (ctx) => ctx.input(0).mean(spatialDims(ctx, ctx.input(0)), { keepdim: true }) } });
defineOp({ opType: 'GlobalMaxPool', versions: { 1: (ctx) => ctx.input(0).amax(spatialDims(ctx, ctx.input(0)), true) } });
defineOp({ opType: 'GlobalLpPool', versions: { 2: (ctx) => ctx.input(0).norm(ctx.attrInt('p', 2), spatialDims(ctx, ctx.input(0)), true) } });

defineOp({
  opType: 'LRN',
  versions: {
    1: (ctx) => {
      const x = ctx.input(0);
      if (x.ndim < 3) throw ctx.fail(`input [${x.shape.join(',')}] must be [N,C,spatial...]`);
      const size = ctx.attrInt('size');
      const alpha = ctx.attrFloat('alpha', 1e-4);
      const beta = ctx.attrFloat('beta', 0.75);
      const bias = ctx.attrFloat('bias', 1);
      const [n, c] = x.shape as [number, number];
      const rest = product(x.shape.slice(2));
      const squares = x.square().reshape([n, 1, c, rest]);
      const before = Math.floor((size - 1) / 2);
      const padded = padSpatial(squares, [before, 0], [size - 1 - before, 0], 0);
      const mean = fromHandle(native.avgPool2d(padded.handle, [size, 1], [1, 1], [0, 0], false, true)).reshape(x.shape);
      return x.div(mean.mul(alpha).add(bias).pow(beta));
    },
  },
});
