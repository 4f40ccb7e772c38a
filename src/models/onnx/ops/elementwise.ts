/**
 * Element-wise ONNX operators: arithmetic (numpy broadcasting), math functions, activations,
 * comparisons and logic, Clip, the variadic Sum/Mean/Max/Min, Identity, Cast/CastLike and Dropout.
 *
 * Activations use libtorch's own ops (or compositions of differentiable ops), so gradients through
 * an imported graph are those PyTorch would compute.
 */
import { bernoulli, fullLike, where, type DType, type Tensor } from '../../../tensor/index.js';
import { native } from '../../../tensor/native.js';
import { fromHandle } from '../../../tensor/tensor.js';
import { defineOp, type OnnxKernel, type OnnxOpContext } from '../registry.js';
import { dtypeOfOnnxCode, onnxCodeName } from '../tensors.js';
import { ownEntry } from '../../../util/records.js';

const FLOAT_DTYPES: ReadonlySet<DType> = new Set(['float32', 'float64', 'float16', 'bfloat16']);

/** Whether `t` holds floating-point values. */
export function isFloat(t: Tensor): boolean {
  return FLOAT_DTYPES.has(t.dtype);
}

/** A new handle on the same values (and autograd history): kernels never hand out their inputs themselves. */
export function alias(t: Tensor): Tensor {
  return t.reshape(t.shape);
}

/** Registers one kernel for every opset from 1 (the op's semantics never changed in a way Bastion sees). */
function simple(opType: string, kernel: OnnxKernel, since = 1): void {
  defineOp({ opType, versions: { [since]: kernel } });
}

/** Registers a one-input op. */
function unary(opType: string, fn: (x: Tensor, ctx: OnnxOpContext) => Tensor, since = 1): void {
  simple(opType, (ctx) => fn(ctx.input(0), ctx), since);
}

/** Registers a two-input broadcasting op. */
function binary(opType: string, fn: (a: Tensor, b: Tensor, ctx: OnnxOpContext) => Tensor, since = 1): void {
  simple(opType, (ctx) => {
    // Opset < 7 had explicit broadcast/axis attributes; with axis, b aligns to a's dims from `axis`.
    let b = ctx.input(1);
    const a = ctx.input(0);
    if (ctx.opset < 7 && ctx.attrInt('broadcast', 0) === 1 && ctx.has('axis') && b.ndim > 0) {
      const axis = normAxis(ctx, ctx.attrInt('axis'), a.ndim);
      const trailing = a.ndim - axis - b.ndim;
      if (trailing > 0) b = b.reshape([...b.shape, ...new Array<number>(trailing).fill(1)]);
    }
    return fn(a, b, ctx);
  }, since);
}

/** An axis in [0, rank), from ONNX's [-rank, rank). */
export function normAxis(ctx: OnnxOpContext, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= Math.max(rank, 1)) throw ctx.fail(`axis ${axis} is out of range for a rank-${rank} input`);
  return a;
}

/** Casts `t` to `dtype` unless it already has it. */
function castTo(t: Tensor, dtype: DType): Tensor {
  return t.dtype === dtype ? t : t.to(dtype);
}

function requireFloat(ctx: OnnxOpContext, x: Tensor): Tensor {
  if (!isFloat(x)) throw ctx.fail(`input is ${x.dtype}; this op takes floating-point tensors`);
  return x;
}

// ---- arithmetic -------------------------------------------------------------------------------
binary('Add', (a, b) => a.add(b));
binary('Sub', (a, b) => a.sub(b));
binary('Mul', (a, b) => a.mul(b));
// Integer division truncates toward zero, as C (and onnxruntime) do.
binary('Div', (a, b) => (isFloat(a) || isFloat(b) ? a.div(b) : castTo(a.divRounding(b, 'trunc'), a.dtype)));
binary('Pow', (a, b, ctx) => {
  if (!isFloat(a) && isFloat(b)) return a.to(b.dtype).pow(b).to(a.dtype);
  if (!isFloat(a) && !isFloat(b)) {
    if (b.lt(0).any()) throw ctx.fail('raises integers to negative powers');
    return castTo(a.pow(b), a.dtype);
  }
  return castTo(a.pow(b), a.dtype);
});
simple('Mod', (ctx) => {
  const a = ctx.input(0);
  const b = ctx.input(1);
  // fmod=1: remainder with the dividend's sign (C fmod); fmod=0: the divisor's sign (Python %).
  return ctx.attrInt('fmod', 0) === 1 ? a.fmod(b) : a.remainder(b);
}, 10);
unary('Neg', (x) => x.neg());
unary('Abs', (x) => x.abs());
unary('Sign', (x) => x.sign(), 9);
unary('Sqrt', (x, ctx) => requireFloat(ctx, x).sqrt());
unary('Reciprocal', (x) => x.reciprocal());
unary('Exp', (x) => x.exp());
unary('Log', (x) => x.log());
unary('Floor', (x) => (isFloat(x) ? x.floor() : alias(x)));
unary('Ceil', (x) => (isFloat(x) ? x.ceil() : alias(x)));
// Round half to even, like numpy and ONNX.
unary('Round', (x) => x.round(), 11);
unary('Sin', (x) => x.sin(), 7);
unary('Cos', (x) => x.cos(), 7);
unary('Tan', (x) => x.tan(), 7);
unary('Asin', (x) => x.asin(), 7);
unary('Acos', (x) => x.acos(), 7);
unary('Atan', (x) => x.atan(), 7);
unary('Sinh', (x) => x.sinh(), 9);
unary('Cosh', (x) => x.cosh(), 9);
unary('Asinh', (x) => x.asinh(), 9);
unary('Acosh', (x) => x.acosh(), 9);
unary('Atanh', (x) => x.atanh(), 9);
unary('Erf', (x, ctx) => requireFloat(ctx, x).erf(), 9);

// ---- activations ------------------------------------------------------------------------------
unary('Relu', (x) => x.relu());
unary('LeakyRelu', (x, ctx) => fromHandle(native.leakyRelu(x.handle, ctx.attrFloat('alpha', 0.01))));
/** PRelu: x where x >= 0, slope * x elsewhere. */
function prelu(x: Tensor, slope: Tensor): Tensor {
  return where(x.lt(0), x.mul(slope), x);
}
defineOp({
  opType: 'PRelu',
  versions: {
    // Before opset 7 a 1-D slope of size C was per channel (dim 1), as PyTorch's exporter wrote it.
    1: (ctx) => {
      const x = ctx.input(0);
      let slope = ctx.input(1);
      if (slope.ndim === 1 && x.ndim >= 2 && slope.shape[0]! > 1 && slope.shape[0] === x.shape[1]) {
        slope = slope.reshape([slope.shape[0]!, ...new Array<number>(x.ndim - 2).fill(1)]);
      }
      return prelu(x, slope);
    },
    // From opset 7 the slope broadcasts to x as numpy does.
    7: (ctx) => prelu(ctx.input(0), ctx.input(1)),
  },
});
unary('Elu', (x, ctx) => fromHandle(native.elu(x.handle, ctx.attrFloat('alpha', 1), 1, 1)));
unary('Selu', (x, ctx) =>
  fromHandle(native.elu(x.handle, ctx.attrFloat('alpha', 1.67326319217681884765625), ctx.attrFloat('gamma', 1.05070102214813232421875), 1)),
);
unary('Celu', (x, ctx) => fromHandle(native.celu(x.handle, ctx.attrFloat('alpha', 1))), 12);
unary('ThresholdedRelu', (x, ctx) => where(x.gt(ctx.attrFloat('alpha', 1)), x, 0), 10);
unary('Sigmoid', (x) => x.sigmoid());
unary('HardSigmoid', (x, ctx) => x.mul(ctx.attrFloat('alpha', 0.2)).add(ctx.attrFloat('beta', 0.5)).clamp(0, 1));
unary('HardSwish', (x) => fromHandle(native.hardswish(x.handle)), 14);
unary('Tanh', (x) => x.tanh());
// log(1 + exp(x)); libtorch returns x itself above x = 20, where the two agree to float precision.
unary('Softplus', (x) => fromHandle(native.softplus(x.handle, 1, 20)));
unary('Softsign', (x) => x.div(x.abs().add(1)));
unary('Mish', (x) => fromHandle(native.mish(x.handle)), 18);
unary('Gelu', (x, ctx) => {
  const approximate = ctx.attrString('approximate', 'none');
  if (approximate !== 'none' && approximate !== 'tanh') throw ctx.fail(`has approximate='${approximate}'; expected 'none' or 'tanh'`);
  return fromHandle(native.gelu(x.handle, approximate));
}, 20);

/** Clip before opset 11: bounds as attributes. */
const clipAttributes: OnnxKernel = (ctx) => {
  const x = ctx.input(0);
  const lo = ctx.has('min') ? ctx.attrFloat('min') : null;
  const hi = ctx.has('max') ? ctx.attrFloat('max') : null;
  if (lo === null && hi === null) return alias(x);
  return x.clamp(lo, hi);
};
/** Clip from opset 11: optional scalar inputs min and max. */
const clipInputs: OnnxKernel = (ctx) => {
  const x = ctx.input(0);
  const lo = ctx.optionalInput(1);
  const hi = ctx.optionalInput(2);
  if (lo === null && hi === null) return alias(x);
  // Tensor bounds of x's dtype keep integer inputs integer (number bounds would promote them).
  return x.clamp(lo === null ? null : castTo(lo, x.dtype), hi === null ? null : castTo(hi, x.dtype));
};
defineOp({ opType: 'Clip', versions: { 1: clipAttributes, 11: clipInputs }, constantInputs: [1, 2] });

// ---- variadic ---------------------------------------------------------------------------------
function variadic(opType: string, combine: (a: Tensor, b: Tensor) => Tensor, finish?: (total: Tensor, count: number) => Tensor): void {
  simple(opType, (ctx) => {
    const inputs: Tensor[] = [];
    for (let i = 0; i < ctx.inputCount; i++) {
      const t = ctx.optionalInput(i);
      if (t) inputs.push(t);
    }
    if (inputs.length === 0) throw ctx.fail('needs at least one input');
    let total = inputs[0]!;
    for (const t of inputs.slice(1)) total = combine(total, t);
    if (finish) return finish(total, inputs.length);
    return total === inputs[0] ? alias(total) : total;
  });
}
variadic('Sum', (a, b) => a.add(b));
variadic('Mean', (a, b) => a.add(b), (total, n) => (n === 1 ? alias(total) : total.div(n)));
variadic('Max', (a, b) => a.maximum(b));
variadic('Min', (a, b) => a.minimum(b));

// ---- identity, casts, dropout -----------------------------------------------------------------
unary('Identity', (x) => alias(x));

function castKernel(ctx: OnnxOpContext): Tensor {
  const to = ctx.attr('to');
  if (to === undefined) throw ctx.fail("needs attribute 'to'");
  // Opset 1-5 gave the type by name ('FLOAT', ...); from 6 by TensorProto.DataType code.
  let dtype: DType | null;
  if (to.type === 'string') {
    const byName: Record<string, number> = { FLOAT: 1, UINT8: 2, INT8: 3, INT16: 5, INT32: 6, INT64: 7, BOOL: 9, FLOAT16: 10, DOUBLE: 11, BFLOAT16: 16 };
    dtype = dtypeOfOnnxCode(ownEntry(byName, to.value.toUpperCase()) ?? -1);
    if (dtype === null) throw ctx.fail(`casts to ${to.value}, which Bastion has no dtype for`);
  } else {
    const code = ctx.attrInt('to');
    dtype = dtypeOfOnnxCode(code);
    if (dtype === null) throw ctx.fail(`casts to ${onnxCodeName(code)}, which Bastion has no dtype for`);
  }
  const x = ctx.input(0);
  return x.dtype === dtype ? alias(x) : x.to(dtype);
}
simple('Cast', castKernel);
simple('CastLike', (ctx) => {
  const x = ctx.input(0);
  const dtype = ctx.input(1).dtype;
  return x.dtype === dtype ? alias(x) : x.to(dtype);
}, 15);

/** Dropout: identity unless training (the network's training flag, or a true training_mode input). */
function dropout(ctx: OnnxOpContext, ratio: number, trainingMode: boolean): Tensor[] {
  const x = ctx.input(0);
  const wantsMask = ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '';
  if (!(ratio >= 0 && ratio < 1)) throw ctx.fail(`has ratio ${ratio}; expected a value in [0, 1)`);
  const training = (ctx.training || trainingMode) && ratio > 0;
  if (!training) {
    const out = alias(x);
    return wantsMask ? [out, fullLike(x, true).to('bool')] : [out];
  }
  const keep = bernoulli(fullLike(x.detach(), 1 - ratio).to(isFloat(x) ? x.dtype : 'float32'));
  const out = x.mul(keep).div(1 - ratio);
  return wantsMask ? [out, keep.to('bool')] : [out];
}
defineOp({
  opType: 'Dropout',
  versions: {
    // Before opset 7 the is_test attribute chose the mode; Bastion follows the network's flag instead.
    1: (ctx) => dropout(ctx, ctx.attrFloat('ratio', 0.5), false),
    7: (ctx) => dropout(ctx, ctx.attrFloat('ratio', 0.5), false),
    12: (ctx) => {
      const ratio = ctx.inputFloats(1)?.[0] ?? 0.5;
      const mode = ctx.inputInts(2)?.[0] ?? 0;
      return dropout(ctx, ratio, mode !== 0);
    },
  },
  constantInputs: [1, 2],
});

// ---- tests on values --------------------------------------------------------------------------
unary('IsNaN', (x) => x.isnan(), 9);
unary('IsInf', (x, ctx) => {
  const negative = ctx.attrInt('detect_negative', 1) === 1;
  const positive = ctx.attrInt('detect_positive', 1) === 1;
  const inf = x.isinf();
  if (negative && positive) return inf;
  if (!negative && !positive) return fullLike(inf, false);
  return inf.logicalAnd(negative ? x.lt(0) : x.gt(0));
}, 10);

// ---- logic and comparison ---------------------------------------------------------------------
unary('Not', (x) => x.logicalNot());
binary('And', (a, b) => a.logicalAnd(b));
binary('Or', (a, b) => a.logicalOr(b));
binary('Xor', (a, b) => a.logicalXor(b));
binary('Equal', (a, b) => a.eq(b));
binary('Greater', (a, b) => a.gt(b));
binary('Less', (a, b) => a.lt(b));
binary('GreaterOrEqual', (a, b) => a.ge(b), 12);
binary('LessOrEqual', (a, b) => a.le(b), 12);
simple('Where', (ctx) => where(castTo(ctx.input(0), 'bool'), ctx.input(1), ctx.input(2)), 9);

// ---- bitwise (integer dtypes Bastion has: uint8, int8..int64) ---------------------------------
simple('BitShift', (ctx) => {
  const x = ctx.input(0);
  const s = ctx.input(1);
  const direction = ctx.attrString('direction');
  if (direction === 'LEFT') return fromHandle(native.bitwiseLeftShift(x.handle, s.handle));
  if (direction === 'RIGHT') return fromHandle(native.bitwiseRightShift(x.handle, s.handle));
  throw ctx.fail(`has direction '${direction}'; expected 'LEFT' or 'RIGHT'`);
}, 11);
binary('BitwiseAnd', (a, b) => fromHandle(native.bitwiseAnd(a.handle, b.handle)), 18);
binary('BitwiseOr', (a, b) => fromHandle(native.bitwiseOr(a.handle, b.handle)), 18);
binary('BitwiseXor', (a, b) => fromHandle(native.bitwiseXor(a.handle, b.handle)), 18);
unary('BitwiseNot', (x) => fromHandle(native.bitwiseNot(x.handle)), 18);
