/**
 * Other generic ONNX operators: the losses NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss,
 * Einsum, Det, Shrink, EyeLike, Compress, ReverseSequence, MeanVarianceNormalization, the
 * window functions (Hann, Hamming, Blackman) and linear (de)quantization.
 */
import { arange, where, zeros, type DType, type Tensor } from '../../../tensor/index.js';
import { native } from '../../../tensor/native.js';
import { fromHandle } from '../../../tensor/tensor.js';
import { defineOp, type OnnxOpContext } from '../registry.js';
import { dtypeOfOnnxCode, onnxCodeName } from '../tensors.js';
import { normAxis } from './elementwise.js';

// ---- losses -----------------------------------------------------------------------------------
/**
 * The negative log-likelihood of `logProbs` [N, C, d1...] at `target` [N, d1...]: per element,
 * -logProbs[n, target, d...] * weight[target], 0 where target == ignore_index; then reduced.
 */
function nll(ctx: OnnxOpContext, logProbs: Tensor, targetIn: Tensor, weight: Tensor | null): Tensor {
  const reduction = ctx.attrString('reduction', 'mean');
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') throw ctx.fail(`has reduction '${reduction}'; expected mean, sum or none`);
  if (logProbs.ndim < 2) throw ctx.fail(`takes input [N, C, ...], got [${logProbs.shape.join(',')}]`);
  let target = targetIn.dtype === 'int64' ? targetIn : targetIn.to('int64');
  let ignored: Tensor | null = null;
  if (ctx.has('ignore_index')) {
    ignored = target.eq(ctx.attrInt('ignore_index'));
    // Any valid class index will do where the target is ignored: its term is zeroed below.
    target = where(ignored, 0, target);
  }
  const picked = logProbs.gather(1, target.unsqueeze(1)).squeeze(1);
  let w: Tensor | null = weight ? weight.indexSelect(0, target.flatten()).reshape(target.shape) : null;
  if (ignored) w = w ? where(ignored, 0, w) : where(ignored, 0, 1).to(logProbs.dtype);
  const loss = w ? picked.mul(w).neg() : picked.neg();
  if (reduction === 'none') return loss;
  if (reduction === 'sum') return loss.sum();
  return w ? loss.sum().div(w.sum()) : loss.mean();
}

defineOp({
  opType: 'NegativeLogLikelihoodLoss',
  versions: { 12: (ctx) => nll(ctx, ctx.input(0), ctx.input(1), ctx.optionalInput(2)) },
});
defineOp({
  opType: 'SoftmaxCrossEntropyLoss',
  versions: {
    12: (ctx) => {
      const scores = ctx.input(0);
      const logProbs = scores.logSoftmax(1);
      const loss = nll(ctx, logProbs, ctx.input(1), ctx.optionalInput(2));
      return ctx.node.outputs.length > 1 && ctx.node.outputs[1] !== '' ? [loss, logProbs] : [loss];
    },
  },
});

// ---- linear algebra ---------------------------------------------------------------------------
defineOp({
  opType: 'Einsum',
  versions: {
    12: (ctx) => {
      const operands: Tensor[] = [];
      for (let i = 0; i < ctx.inputCount; i++) operands.push(ctx.input(i));
      return fromHandle(native.einsum(ctx.attrString('equation').replace(/\s+/g, ''), operands.map((t) => t.handle)));
    },
  },
});
defineOp({ opType: 'Det', versions: { 11: (ctx) => fromHandle(native.det(ctx.input(0).handle)) } });

// ---- element-wise odds and ends ---------------------------------------------------------------
defineOp({
  opType: 'Shrink',
  versions: {
    9: (ctx) => {
      const x = ctx.input(0);
      const lambd = ctx.attrFloat('lambd', 0.5);
      const bias = ctx.attrFloat('bias', 0);
      const zero = x.mul(0);
      return where(x.lt(-lambd), x.add(bias), where(x.gt(lambd), x.sub(bias), zero));
    },
  },
});

defineOp({
  opType: 'EyeLike',
  versions: {
    9: (ctx) => {
      const x = ctx.input(0);
      if (x.ndim !== 2) throw ctx.fail(`takes a 2-D input, got [${x.shape.join(',')}]`);
      let dtype: DType = x.dtype;
      if (ctx.has('dtype')) {
        const code = ctx.attrInt('dtype');
        const d = dtypeOfOnnxCode(code);
        if (d === null) throw ctx.fail(`has dtype ${onnxCodeName(code)}, which Bastion has no dtype for`);
        dtype = d;
      }
      const k = ctx.attrInt('k', 0);
      const rows = arange(0, x.shape[0]!).unsqueeze(1);
      const cols = arange(0, x.shape[1]!).unsqueeze(0);
      return cols.sub(rows).eq(k).to(dtype);
    },
  },
});

defineOp({
  opType: 'Compress',
  versions: {
    9: (ctx) => {
      let x = ctx.input(0);
      const condition = ctx.input(1);
      if (condition.ndim !== 1) throw ctx.fail(`takes a 1-D condition, got [${condition.shape.join(',')}]`);
      let axis = 0;
      if (ctx.has('axis')) axis = normAxis(ctx, ctx.attrInt('axis'), x.ndim);
      else x = x.flatten();
      const length = x.shape[axis]!;
      if (condition.shape[0]! > length) throw ctx.fail(`has a condition of ${condition.shape[0]} entries for an axis of ${length}`);
      const index = condition.to('bool').nonzero().flatten();
      return x.indexSelect(axis, index);
    },
  },
});

defineOp({
  opType: 'ReverseSequence',
  versions: {
    10: (ctx) => {
      const x = ctx.input(0);
      const lengths = ctx.input(1).to('int64');
      const batchAxis = normAxis(ctx, ctx.attrInt('batch_axis', 1), x.ndim);
      const timeAxis = normAxis(ctx, ctx.attrInt('time_axis', 0), x.ndim);
      if (batchAxis === timeAxis || x.ndim < 2) throw ctx.fail('needs distinct batch and time axes');
      const steps = x.shape[timeAxis]!;
      // index[t, b] = t < len[b] ? len[b] - 1 - t : t, laid out along (time, batch) of x.
      const t = arange(0, steps).unsqueeze(1);
      const len = lengths.unsqueeze(0);
      let index = where(t.lt(len), len.sub(1).sub(t), t.expand([steps, lengths.shape[0]!]));
      if (batchAxis < timeAxis) index = index.t();
      const shape = x.shape.map((_, i) => (i === timeAxis || i === batchAxis ? x.shape[i]! : 1));
      return x.gather(timeAxis, index.reshape(shape).expand(x.shape).contiguous());
    },
  },
});

defineOp({
  opType: 'MeanVarianceNormalization',
  versions: {
    9: (ctx) => {
      const x = ctx.input(0);
      const axes = ctx.attrInts('axes', [0, 2, 3]).map((a) => normAxis(ctx, a, x.ndim));
      const centred = x.sub(x.mean(axes, { keepdim: true }));
      const variance = centred.mul(centred).mean(axes, { keepdim: true });
      // As the op's function body: (X - E[X]) / (sqrt(E[(X - E[X])^2]) + 1e-9).
      return centred.div(variance.sqrt().add(1e-9));
    },
  },
});

// ---- window functions (opset 17) --------------------------------------------------------------
function windowOp(opType: string, coefficients: readonly number[]): void {
  defineOp({
    opType,
    versions: {
      17: (ctx) => {
        const size = ctx.inputInts(0);
        if (!size || size.length !== 1 || !(size[0]! >= 0)) throw ctx.fail('needs input size: a one-element non-negative integer tensor');
        const n = size[0]!;
        const code = ctx.attrInt('output_datatype', 1);
        const dtype = dtypeOfOnnxCode(code);
        if (dtype === null) throw ctx.fail(`has output_datatype ${onnxCodeName(code)}, which Bastion has no dtype for`);
        const periodic = ctx.attrInt('periodic', 1) === 1;
        const denominator = periodic ? n : n - 1;
        const angle = arange(0, n, 1, { dtype: 'float64' }).mul((2 * Math.PI) / denominator);
        let out = angle.mul(0).add(coefficients[0]!);
        coefficients.slice(1).forEach((c, k) => {
          const term = angle.mul(k + 1).cos().mul(c);
          out = k % 2 === 0 ? out.sub(term) : out.add(term);
        });
        return out.to(dtype);
      },
    },
    constantInputs: [0],
  });
}
windowOp('HannWindow', [0.5, 0.5]);
windowOp('HammingWindow', [25 / 46, 21 / 46]);
windowOp('BlackmanWindow', [0.42, 0.5, 0.08]);

// ---- linear quantization (per tensor, or per axis with a 1-D scale) -----------------------------
/** The saturation range of a quantized dtype. */
function quantRange(ctx: OnnxOpContext, dtype: DType): [number, number] {
  if (dtype === 'uint8') return [0, 255];
  if (dtype === 'int8') return [-128, 127];
  if (dtype === 'int32') return [-2147483648, 2147483647];
  throw ctx.fail(`quantizes to ${dtype}; expected uint8, int8 or int32`);
}

/** A 1-D per-axis parameter shaped to broadcast along `axis` of `x` (scalars as they are). */
function alongAxis(ctx: OnnxOpContext, p: Tensor, x: Tensor): Tensor {
  if (p.ndim === 0 || p.numel === 1) return p.reshape([]);
  const axis = normAxis(ctx, ctx.attrInt('axis', 1), x.ndim);
  if (p.ndim !== 1 || p.shape[0] !== x.shape[axis]) throw ctx.fail(`has a scale/zero point of shape [${p.shape.join(',')}] for axis ${axis} of [${x.shape.join(',')}]`);
  return p.reshape(x.shape.map((d, i) => (i === axis ? d : 1)));
}

/** round(x / scale) + zero point, rounded half to even and saturated to `dtype`. */
function quantize(ctx: OnnxOpContext, x: Tensor, scale: Tensor, zeroPoint: Tensor | null, dtype: DType): Tensor {
  const [lo, hi] = quantRange(ctx, dtype);
  let q = x.div(scale).round();
  if (zeroPoint) q = q.add(zeroPoint.to(q.dtype));
  return q.clamp(lo, hi).to(dtype);
}

defineOp({
  opType: 'QuantizeLinear',
  versions: {
    10: (ctx) => {
      const x = ctx.input(0);
      const scale = alongAxis(ctx, ctx.input(1), x);
      const zp = ctx.optionalInput(2);
      return quantize(ctx, x, scale, zp ? alongAxis(ctx, zp, x) : null, zp?.dtype ?? 'uint8');
    },
  },
});
defineOp({
  opType: 'DequantizeLinear',
  versions: {
    10: (ctx) => {
      const x = ctx.input(0);
      const scale = alongAxis(ctx, ctx.input(1), x);
      const zp = ctx.optionalInput(2);
      let v = x.to(scale.dtype);
      if (zp) v = v.sub(alongAxis(ctx, zp, x).to(scale.dtype));
      return v.mul(scale);
    },
  },
});
defineOp({
  opType: 'DynamicQuantizeLinear',
  versions: {
    11: (ctx) => {
      const x = ctx.input(0);
      if (x.dtype !== 'float32') throw ctx.fail(`takes float32 input, got ${x.dtype}`);
      // As the spec: the range always includes 0; uint8 output.
      const zero = zeros([], { dtype: 'float32' });
      const xMin = x.min().minimum(zero);
      const xMax = x.max().maximum(zero);
      const scale = xMax.sub(xMin).div(255);
      const zeroPoint = xMin.div(scale).rsub(0).round().clamp(0, 255);
      const y = x.div(scale).round().add(zeroPoint).clamp(0, 255).to('uint8');
      return [y, scale, zeroPoint.to('uint8')];
    },
  },
});
