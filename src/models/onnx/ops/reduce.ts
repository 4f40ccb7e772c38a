/**
 * Reducing ONNX operators: ReduceSum/Mean/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare,
 * ArgMax/ArgMin, Softmax/LogSoftmax/Hardmax, TopK and CumSum.
 *
 * Reductions keep integer inputs integer (libtorch would widen int32 sums to int64), as ONNX
 * requires the output type to equal the input type.
 */
import { cat, zeros, type DType, type Tensor } from '../../../tensor/index.js';
import { native } from '../../../tensor/native.js';
import { fromHandle } from '../../../tensor/tensor.js';
import { defineOp, type OnnxKernel, type OnnxOpContext } from '../registry.js';
import { alias, isFloat, normAxis } from './elementwise.js';

/** How one reduction computes over `dims` (sorted, distinct, non-negative) of `x`. */
type Reducer = (x: Tensor, dims: number[], keepdim: boolean, ctx: OnnxOpContext) => Tensor;

/** The axes a reduce node names; null means every axis, 'noop' means return the input unchanged. */
function reduceAxes(ctx: OnnxOpContext, fromInput: boolean, rank: number): number[] | null | 'noop' {
  const axes = fromInput ? ctx.inputInts(1) ?? [] : ctx.attrInts('axes', []);
  if (axes.length === 0) return fromInput && ctx.attrInt('noop_with_empty_axes', 0) === 1 ? 'noop' : null;
  const normalised = [...new Set(axes.map((a) => normAxis(ctx, a, rank)))];
  return normalised.sort((a, b) => a - b);
}

function reduceKernel(reducer: Reducer, fromInput: boolean): OnnxKernel {
  return (ctx) => {
    let x = ctx.input(0);
    let keepdim = ctx.attrInt('keepdims', 1) === 1;
    const axes = reduceAxes(ctx, fromInput, x.ndim);
    if (axes === 'noop') return alias(x);
    let dims: number[];
    if (x.ndim === 0) {
      // A scalar reduces to itself: as a one-element vector reduced to a scalar.
      x = x.reshape([1]);
      dims = [0];
      keepdim = false;
    } else {
      dims = axes ?? x.shape.map((_, i) => i);
    }
    return reducer(x, dims, keepdim, ctx);
  };
}

/** Registers a reduction whose axes move from attribute to input at opset `inputSince`. */
function reduction(opType: string, reducer: Reducer, inputSince = 18): void {
  defineOp({ opType, versions: { 1: reduceKernel(reducer, false), [inputSince]: reduceKernel(reducer, true) }, constantInputs: [1] });
}

/** The sum keeping the input's dtype (integers stay integers of the same width). */
function sumKeepType(x: Tensor, dims: number[], keepdim: boolean): Tensor {
  if (isFloat(x)) return x.sum(dims, { keepdim });
  return x.sum(dims, { keepdim, dtype: x.dtype === 'bool' ? 'int64' : x.dtype });
}

/** Computes `f` in float64 for integer inputs and casts back (truncating, as numpy's astype). */
function viaFloat(x: Tensor, f: (v: Tensor) => Tensor): Tensor {
  if (isFloat(x)) return f(x);
  const dtype: DType = x.dtype;
  return f(x.to('float64')).to(dtype);
}

reduction('ReduceSum', (x, dims, keepdim) => sumKeepType(x, dims, keepdim), 13);
reduction('ReduceMean', (x, dims, keepdim) => viaFloat(x, (v) => v.mean(dims, { keepdim })));
reduction('ReduceMax', (x, dims, keepdim) => x.amax(dims, keepdim));
reduction('ReduceMin', (x, dims, keepdim) => x.amin(dims, keepdim));
reduction('ReduceProd', (x, dims, keepdim) => {
  let out = x;
  // One dim at a time, from the last, so the remaining dims keep their positions.
  for (const d of [...dims].reverse()) out = out.prod(d, { keepdim, ...(isFloat(x) ? {} : { dtype: x.dtype }) });
  return out === x ? alias(x) : out;
});
reduction('ReduceL1', (x, dims, keepdim) => sumKeepType(x.abs(), dims, keepdim));
// The vector norm (not sqrt of a sum) so that the gradient at a zero vector is 0, not NaN.
reduction('ReduceL2', (x, dims, keepdim) => viaFloat(x, (v) => v.norm(2, dims, keepdim)));
reduction('ReduceLogSum', (x, dims, keepdim) => viaFloat(x, (v) => v.sum(dims, { keepdim }).log()));
reduction('ReduceLogSumExp', (x, dims, keepdim) => viaFloat(x, (v) => v.logsumexp(dims, keepdim)));
reduction('ReduceSumSquare', (x, dims, keepdim) => sumKeepType(x.mul(x), dims, keepdim));

// ---- arg max / min ----------------------------------------------------------------------------
function argKernel(kind: 'max' | 'min'): OnnxKernel {
  return (ctx) => {
    const x = ctx.input(0);
    const keepdim = ctx.attrInt('keepdims', 1) === 1;
    const axis = normAxis(ctx, ctx.attrInt('axis', 0), x.ndim);
    const pick = (t: Tensor): Tensor => (kind === 'max' ? t.argmax(axis, keepdim) : t.argmin(axis, keepdim));
    if (ctx.attrInt('select_last_index', 0) !== 1) return pick(x);
    // The last occurrence: the first one in the flipped tensor, counted from the end.
    const n = x.shape[axis]!;
    return pick(x.flip(axis)).rsub(n - 1);
  };
}
defineOp({ opType: 'ArgMax', versions: { 1: argKernel('max') } });
defineOp({ opType: 'ArgMin', versions: { 1: argKernel('min') } });

// ---- softmax family ---------------------------------------------------------------------------
/** Hardmax: 1 at the first maximum along `dim`, 0 elsewhere (in the input's dtype). */
function hardmax(x: Tensor, dim: number): Tensor {
  const index = x.argmax(dim, true);
  return zeros(x.shape, { dtype: x.dtype }).scatter(dim, index, 1);
}

function softmaxFamily(opType: string, fn: (x: Tensor, dim: number) => Tensor): void {
  // Before opset 13 the input is coerced to 2-D [prod(dims < axis), prod(dims >= axis)], axis default 1.
  const coerced: OnnxKernel = (ctx) => {
    const x = ctx.input(0);
    if (x.ndim === 0) throw ctx.fail('takes a tensor of rank >= 1, got a scalar');
    const axis = normAxis(ctx, ctx.attrInt('axis', 1), x.ndim);
    const outer = x.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = x.shape.slice(axis).reduce((a, b) => a * b, 1);
    return fn(x.reshape([outer, inner]), 1).reshape(x.shape);
  };
  const plain: OnnxKernel = (ctx) => {
    const x = ctx.input(0);
    if (x.ndim === 0) throw ctx.fail('takes a tensor of rank >= 1, got a scalar');
    return fn(x, normAxis(ctx, ctx.attrInt('axis', -1), x.ndim));
  };
  defineOp({ opType, versions: { 1: coerced, 13: plain } });
}
softmaxFamily('Softmax', (x, dim) => x.softmax(dim));
softmaxFamily('LogSoftmax', (x, dim) => x.logSoftmax(dim));
softmaxFamily('Hardmax', hardmax);

// ---- TopK -------------------------------------------------------------------------------------
function topk(ctx: OnnxOpContext, k: number, largest: boolean): Tensor[] {
  const x = ctx.input(0);
  const axis = normAxis(ctx, ctx.attrInt('axis', -1), x.ndim);
  const n = x.shape[axis]!;
  if (!Number.isInteger(k) || k < 0 || k > n) throw ctx.fail(`has k = ${k}, but axis ${axis} holds ${n} elements`);
  // A stable sort, so that of equal values the one with the lower index comes first, as ONNX
  // requires (libtorch's topk leaves the order of ties open). Always sorted: the attribute
  // sorted = 0 allows any order, so sorted output conforms too.
  const [values, indices] = native.sortStable(x.handle, axis, largest).map(fromHandle) as [Tensor, Tensor];
  return [values.narrow(axis, 0, k), indices.narrow(axis, 0, k)];
}
defineOp({
  opType: 'TopK',
  versions: {
    1: (ctx) => topk(ctx, ctx.attrInt('k'), true),
    10: (ctx) => topk(ctx, kInput(ctx), true),
    11: (ctx) => topk(ctx, kInput(ctx), ctx.attrInt('largest', 1) === 1),
  },
  constantInputs: [1],
});
function kInput(ctx: OnnxOpContext): number {
  const k = ctx.inputInts(1);
  if (!k || k.length !== 1) throw ctx.fail('needs input K: a one-element int64 tensor');
  return k[0]!;
}

// ---- CumSum -----------------------------------------------------------------------------------
defineOp({
  opType: 'CumSum',
  versions: {
    11: (ctx) => {
      const x = ctx.input(0);
      const axisValues = ctx.inputInts(1);
      if (!axisValues || axisValues.length !== 1) throw ctx.fail('needs input axis: a one-element integer tensor');
      const axis = normAxis(ctx, axisValues[0]!, x.ndim);
      const reverse = ctx.attrInt('reverse', 0) === 1;
      const exclusive = ctx.attrInt('exclusive', 0) === 1;
      let v = reverse ? x.flip(axis) : x;
      if (exclusive) {
        // Shift by one along the axis: a zero first, the last element dropped.
        const n = v.shape[axis]!;
        const shape = [...v.shape];
        shape[axis] = 1;
        const head = zeros(shape, { dtype: v.dtype });
        v = n <= 1 ? head.expand(v.shape) : cat([head, v.narrow(axis, 0, n - 1)], axis);
      }
      let out = v.cumsum(axis);
      if (out.dtype !== x.dtype) out = out.to(x.dtype);
      return reverse ? out.flip(axis) : out;
    },
  },
  constantInputs: [1],
});
