/**
 * ONNX shape and indexing operators: Shape, Size, Reshape, Flatten, Transpose, Squeeze, Unsqueeze,
 * Concat, Split, Slice, Gather, GatherElements, GatherND, ScatterElements (and the deprecated
 * Scatter), ScatterND, Constant, ConstantOfShape, Expand, Tile, Range, Trilu, OneHot, NonZero,
 * DepthToSpace and SpaceToDepth.
 *
 * Every kernel is composed of libtorch ops with autograd (views, index_select, gather, scatter),
 * so gradients flow through data inputs; shape-like inputs are read as small integer lists.
 */
import { arange, cat, full, tensor, where, type DType, type Tensor } from '../../../tensor/index.js';
import { defineOp, type OnnxOpContext } from '../registry.js';

// ---- helpers shared by the op files ----------------------------------------------------------

/** An int64 tensor holding `values` (1-D unless `shape` is given; `[]` gives a 0-d tensor). */
export function int64Tensor(values: readonly number[], shape?: readonly number[]): Tensor {
  return tensor(BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))), { shape: shape ?? [values.length] });
}

/** `axis` normalised into [0, rank) (negative counts from the end); fails naming `what` if out of range. */
export function normAxis(ctx: OnnxOpContext, axis: number, rank: number, what = 'axis'): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw ctx.fail(`${what} ${axis} is out of range for a rank-${rank} tensor`);
  return a;
}

/** The integer values of input `i`, failing with a message naming `what` when it is absent. */
export function requiredInts(ctx: OnnxOpContext, i: number, what: string): number[] {
  const v = ctx.inputInts(i);
  if (v === null) throw ctx.fail(`needs input ${i} (${what})`);
  return v;
}

/** Product of a list of sizes. */
export function product(sizes: readonly number[]): number {
  let n = 1;
  for (const s of sizes) n *= s;
  return n;
}

/** Indices as int64 with negative entries wrapped by `size` (tensor ops only; no data read into JS). */
function wrapIndices(indices: Tensor, size: number | Tensor): Tensor {
  const idx = indices.dtype === 'int64' ? indices : indices.to('int64');
  return where(idx.lt(0), idx.add(size), idx);
}

// ---- Shape, Size -----------------------------------------------------------------------------

function shapeKernel(ctx: OnnxOpContext): Tensor {
  const dims = ctx.input(0).shape;
  const rank = dims.length;
  const clampAxis = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clampAxis(ctx.attrInt('start', 0));
  const end = ctx.has('end') ? clampAxis(ctx.attrInt('end')) : rank;
  return int64Tensor(dims.slice(start, Math.max(start, end)));
}

defineOp({ opType: 'Shape', versions: { 1: shapeKernel, 15: shapeKernel } });
defineOp({ opType: 'Size', versions: { 1: (ctx) => int64Tensor([ctx.input(0).numel], []) } });

// ---- Reshape, Flatten, Transpose, Squeeze, Unsqueeze ---------------------------------------

function reshapeTo(ctx: OnnxOpContext, x: Tensor, requested: readonly number[], allowZero: boolean): Tensor {
  const shape = requested.map((d, i) => {
    if (d === 0 && !allowZero) {
      const copied = x.shape[i];
      if (copied === undefined) throw ctx.fail(`shape [${requested.join(',')}] copies dim ${i} (0) of a rank-${x.ndim} input`);
      return copied;
    }
    if (d < -1) throw ctx.fail(`shape [${requested.join(',')}] has a negative size other than -1`);
    return d;
  });
  if (shape.filter((d) => d === -1).length > 1) throw ctx.fail(`shape [${requested.join(',')}] has more than one -1`);
  return x.reshape(shape);
}

defineOp({
  opType: 'Reshape',
  versions: {
    1: (ctx) => reshapeTo(ctx, ctx.input(0), ctx.attrInts('shape'), false),
    5: (ctx) => reshapeTo(ctx, ctx.input(0), requiredInts(ctx, 1, 'shape'), ctx.attrInt('allowzero', 0) !== 0),
  },
  constantInputs: [1],
});

function flattenKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  let axis = ctx.attrInt('axis', 1);
  if (axis < 0) axis += x.ndim;
  if (axis < 0 || axis > x.ndim) throw ctx.fail(`axis ${ctx.attrInt('axis', 1)} is out of range for a rank-${x.ndim} input`);
  return x.reshape([product(x.shape.slice(0, axis)), product(x.shape.slice(axis))]);
}

defineOp({ opType: 'Flatten', versions: { 1: flattenKernel } });

defineOp({
  opType: 'Transpose',
  versions: {
    1: (ctx) => {
      const x = ctx.input(0);
      const perm = ctx.has('perm') ? ctx.attrInts('perm') : x.shape.map((_, i) => x.ndim - 1 - i);
      if (perm.length !== x.ndim || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
        throw ctx.fail(`perm [${perm.join(',')}] is not a permutation of the ${x.ndim} axes`);
      }
      return x.permute(perm);
    },
  },
});

function squeezeWith(ctx: OnnxOpContext, axes: readonly number[] | null): Tensor {
  const x = ctx.input(0);
  let drop: Set<number>;
  if (axes === null || axes.length === 0) {
    drop = new Set(x.shape.flatMap((d, i) => (d === 1 ? [i] : [])));
  } else {
    drop = new Set(axes.map((a) => normAxis(ctx, a, x.ndim)));
    for (const a of drop) if (x.shape[a] !== 1) throw ctx.fail(`cannot squeeze axis ${a} of size ${x.shape[a]} (input [${x.shape.join(',')}])`);
  }
  return x.reshape(x.shape.filter((_, i) => !drop.has(i)));
}

defineOp({
  opType: 'Squeeze',
  versions: {
    1: (ctx) => squeezeWith(ctx, ctx.has('axes') ? ctx.attrInts('axes') : null),
    13: (ctx) => squeezeWith(ctx, ctx.inputInts(1)),
  },
  constantInputs: [1],
});

function unsqueezeWith(ctx: OnnxOpContext, axes: readonly number[]): Tensor {
  const x = ctx.input(0);
  const rank = x.ndim + axes.length;
  const inserted = new Set(axes.map((a) => normAxis(ctx, a, rank)));
  if (inserted.size !== axes.length) throw ctx.fail(`axes [${axes.join(',')}] repeat an axis`);
  const shape: number[] = [];
  let k = 0;
  for (let i = 0; i < rank; i++) shape.push(inserted.has(i) ? 1 : (x.shape[k++] as number));
  return x.reshape(shape);
}

defineOp({
  opType: 'Unsqueeze',
  versions: {
    1: (ctx) => unsqueezeWith(ctx, ctx.attrInts('axes')),
    13: (ctx) => unsqueezeWith(ctx, requiredInts(ctx, 1, 'axes')),
  },
  constantInputs: [1],
});

// ---- Concat, Split ---------------------------------------------------------------------------

defineOp({
  opType: 'Concat',
  versions: {
    1: (ctx) => {
      const inputs: Tensor[] = [];
      for (let i = 0; i < ctx.inputCount; i++) {
        const t = ctx.optionalInput(i);
        if (t) inputs.push(t);
      }
      if (inputs.length === 0) throw ctx.fail('has no inputs');
      const first = inputs[0] as Tensor;
      const axis = normAxis(ctx, ctx.opset < 4 ? ctx.attrInt('axis', 1) : ctx.attrInt('axis'), first.ndim);
      if (inputs.length === 1) return first.reshape(first.shape);
      return cat(inputs, axis);
    },
  },
});

function splitWith(ctx: OnnxOpContext, sizes: readonly number[] | null): Tensor[] {
  const x = ctx.input(0);
  const axis = normAxis(ctx, ctx.attrInt('axis', 0), x.ndim);
  const length = x.shape[axis] as number;
  let pieces: number[];
  if (sizes !== null && sizes.length > 0) {
    if (sizes.reduce((a, b) => a + b, 0) !== length || sizes.some((s) => s < 0)) {
      throw ctx.fail(`split [${sizes.join(',')}] does not add up to the size ${length} of axis ${axis}`);
    }
    pieces = [...sizes];
  } else {
    const count = ctx.has('num_outputs') ? ctx.attrInt('num_outputs') : ctx.node.outputs.length;
    if (count < 1) throw ctx.fail('has no outputs to split into');
    if (ctx.opset >= 18) {
      const chunk = Math.ceil(length / count);
      pieces = Array.from({ length: count }, (_, i) => Math.max(0, Math.min(chunk, length - i * chunk)));
    } else {
      if (length % count !== 0) throw ctx.fail(`cannot split axis ${axis} of size ${length} into ${count} equal parts`);
      pieces = new Array<number>(count).fill(length / count);
    }
  }
  return x.split(pieces, axis);
}

defineOp({
  opType: 'Split',
  versions: {
    1: (ctx) => splitWith(ctx, ctx.has('split') ? ctx.attrInts('split') : ctx.inputInts(1)),
    2: (ctx) => splitWith(ctx, ctx.has('split') ? ctx.attrInts('split') : null),
    13: (ctx) => splitWith(ctx, ctx.inputInts(1)),
  },
  constantInputs: [1],
});

// ---- Slice -----------------------------------------------------------------------------------

/** One axis of an ONNX slice: `start`/`end` clamped as the spec says, any non-zero `step`. */
function sliceAxis(x: Tensor, axis: number, start: number, end: number, step: number): Tensor {
  const n = x.shape[axis] as number;
  let s = start < 0 ? start + n : start;
  let e = end < 0 ? end + n : end;
  if (step > 0) {
    s = Math.min(Math.max(s, 0), n);
    e = Math.min(Math.max(e, 0), n);
    return x.slice(axis, s, Math.max(s, e), step);
  }
  s = Math.min(Math.max(s, 0), n - 1);
  e = Math.min(Math.max(e, -1), n - 1);
  const count = s > e ? Math.ceil((s - e) / -step) : 0;
  if (count === 0) return x.slice(axis, 0, 0, 1);
  const last = s + (count - 1) * step;
  const forward = x.slice(axis, last, s + 1, -step);
  return forward.flip([axis]);
}

function sliceWith(ctx: OnnxOpContext, starts: readonly number[], ends: readonly number[], axesIn: readonly number[] | null, stepsIn: readonly number[] | null): Tensor {
  const x = ctx.input(0);
  if (starts.length !== ends.length) throw ctx.fail(`starts [${starts.join(',')}] and ends [${ends.join(',')}] differ in length`);
  const axes = (axesIn ?? starts.map((_, i) => i)).map((a) => normAxis(ctx, a, x.ndim, 'axes entry'));
  const steps = stepsIn ?? starts.map(() => 1);
  if (axes.length !== starts.length || steps.length !== starts.length) throw ctx.fail('starts, ends, axes and steps differ in length');
  if (new Set(axes).size !== axes.length) throw ctx.fail(`axes [${axes.join(',')}] repeat an axis`);
  let out = x;
  axes.forEach((axis, i) => {
    const step = steps[i] as number;
    if (step === 0) throw ctx.fail('steps must not be 0');
    out = sliceAxis(out, axis, starts[i] as number, ends[i] as number, step);
  });
  return out === x ? x.reshape(x.shape) : out;
}

defineOp({
  opType: 'Slice',
  versions: {
    1: (ctx) => sliceWith(ctx, ctx.attrInts('starts'), ctx.attrInts('ends'), ctx.has('axes') ? ctx.attrInts('axes') : null, null),
    10: (ctx) => sliceWith(ctx, requiredInts(ctx, 1, 'starts'), requiredInts(ctx, 2, 'ends'), ctx.inputInts(3), ctx.inputInts(4)),
  },
  constantInputs: [1, 2, 3, 4],
});

// ---- Gather, GatherElements, GatherND ----------------------------------------------------------

defineOp({
  opType: 'Gather',
  versions: {
    1: (ctx) => {
      const x = ctx.input(0);
      const indices = ctx.input(1);
      const axis = normAxis(ctx, ctx.attrInt('axis', 0), x.ndim);
      const size = x.shape[axis] as number;
      const idx = wrapIndices(indices, size);
      const picked = x.indexSelect(axis, idx.reshape([-1]));
      return picked.reshape([...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)]);
    },
  },
});

defineOp({
  opType: 'GatherElements',
  versions: {
    11: (ctx) => {
      const x = ctx.input(0);
      const axis = normAxis(ctx, ctx.attrInt('axis', 0), x.ndim);
      return x.gather(axis, wrapIndices(ctx.input(1), x.shape[axis] as number));
    },
  },
});

/**
 * Linear positions into the leading `k` dims (after `batchDims` batch dims) of `data` addressed by
 * the last dim of `indices`, plus the batch offset: one int64 index per index tuple, shaped
 * `[batch, tuples]`; and the shape of one gathered slice.
 */
function linearIndices(ctx: OnnxOpContext, data: Tensor, indices: Tensor, batchDims: number): { flat: Tensor; rows: number; slice: number[] } {
  const k = indices.shape[indices.ndim - 1] as number;
  if (indices.ndim < 1 || k > data.ndim - batchDims) throw ctx.fail(`indices [${indices.shape.join(',')}] address more dims than data [${data.shape.join(',')}] has`);
  const batch = data.shape.slice(0, batchDims);
  const addressed = data.shape.slice(batchDims, batchDims + k);
  const strides = addressed.map((_, j) => product(addressed.slice(j + 1)));
  const idx = wrapIndices(indices, int64Tensor(addressed));
  let lin = k === 0 ? full(indices.shape.slice(0, -1), 0, { dtype: 'int64' }) : idx.mul(int64Tensor(strides)).sum(-1);
  const perBatch = product(addressed);
  const batchCount = product(batch);
  if (batchDims > 0) {
    const offsets = arange(0, batchCount).mul(perBatch).reshape([...batch, ...new Array<number>(lin.ndim - batchDims).fill(1)]);
    lin = lin.add(offsets);
  }
  return { flat: lin.reshape([-1]), rows: batchCount * perBatch, slice: data.shape.slice(batchDims + k) };
}

defineOp({
  opType: 'GatherND',
  versions: {
    11: (ctx) => {
      const data = ctx.input(0);
      const indices = ctx.input(1);
      const batchDims = ctx.attrInt('batch_dims', 0);
      const { flat, rows, slice } = linearIndices(ctx, data, indices, batchDims);
      const picked = data.reshape([rows, ...slice]).indexSelect(0, flat);
      return picked.reshape([...indices.shape.slice(0, -1), ...slice]);
    },
  },
});

/**
 * Rows `source[j]` combined into rows `index[j]` of the 2-D `table` by mul, max or min, duplicates
 * included: the index tuples are read (they are small) and split into rounds in which no row
 * repeats, each round one gather, one element-wise op and one scatter (all differentiable).
 */
function scatterCombine(ctx: OnnxOpContext, table: Tensor, index: Tensor, source: Tensor, reduction: string): Tensor {
  if (reduction !== 'mul' && reduction !== 'max' && reduction !== 'min') throw ctx.fail(`reduction '${reduction}' is not supported`);
  const rows = index.toNumbers();
  const seen = new Map<number, number>();
  const rounds: number[][] = [];
  rows.forEach((row, j) => {
    const k = seen.get(row) ?? 0;
    seen.set(row, k + 1);
    (rounds[k] ??= []).push(j);
  });
  const width = table.shape[1] as number;
  let out = table;
  for (const round of rounds) {
    const picked = int64Tensor(round);
    const targets = index.indexSelect(0, picked);
    const current = out.indexSelect(0, targets);
    const incoming = source.indexSelect(0, picked);
    const combined = reduction === 'mul' ? current.mul(incoming) : reduction === 'max' ? current.maximum(incoming) : current.minimum(incoming);
    out = out.scatter(0, targets.reshape([-1, 1]).expand([round.length, width]), combined);
  }
  return out;
}

function scatterElementsKernel(ctx: OnnxOpContext): Tensor {
  const data = ctx.input(0);
  const axis = normAxis(ctx, ctx.attrInt('axis', 0), data.ndim);
  const indices = ctx.input(1);
  const idx = wrapIndices(indices, data.shape[axis] as number);
  const updates = ctx.input(2);
  const reduction = ctx.attrString('reduction', 'none');
  if (reduction === 'none') return data.scatter(axis, idx, updates);
  if (reduction === 'add') return data.scatterAdd(axis, idx, updates);
  // Flat positions of the targets: the index along `axis`, the element's own position elsewhere.
  const strides = data.shape.map((_, d) => product(data.shape.slice(d + 1)));
  let flat = idx.mul(strides[axis] as number);
  indices.shape.forEach((size, d) => {
    if (d === axis) return;
    const shape = indices.shape.map((_, e) => (e === d ? size : 1));
    flat = flat.add(arange(0, size).mul(strides[d] as number).reshape(shape));
  });
  const out = scatterCombine(ctx, data.reshape([-1, 1]), flat.reshape([-1]), updates.reshape([-1, 1]), reduction);
  return out.reshape(data.shape);
}

defineOp({ opType: 'ScatterElements', versions: { 11: scatterElementsKernel } });
defineOp({ opType: 'Scatter', versions: { 9: scatterElementsKernel } });

defineOp({
  opType: 'ScatterND',
  versions: {
    11: (ctx) => {
      const data = ctx.input(0);
      const indices = ctx.input(1);
      const updates = ctx.input(2);
      const reduction = ctx.attrString('reduction', 'none');
      const { flat, rows, slice } = linearIndices(ctx, data, indices, 0);
      const width = product(slice);
      const table = data.reshape([rows, width]);
      const source = updates.reshape([flat.shape[0] as number, width]);
      const index = flat.reshape([-1, 1]).expand([flat.shape[0] as number, width]);
      let out: Tensor;
      if (reduction === 'none') out = table.scatter(0, index, source);
      else if (reduction === 'add') out = table.scatterAdd(0, index, source);
      else out = scatterCombine(ctx, table, flat, source, reduction);
      return out.reshape(data.shape);
    },
  },
});

// ---- Constant, ConstantOfShape, Expand, Tile, Range ---------------------------------------------

defineOp({
  opType: 'Constant',
  versions: {
    1: (ctx) => {
      if (ctx.has('value')) return ctx.attrTensor('value');
      if (ctx.has('value_float')) return tensor([ctx.attrFloat('value_float')], { shape: [] });
      if (ctx.has('value_floats')) return tensor(Float32Array.from(ctx.attrFloats('value_floats')));
      if (ctx.has('value_int')) return int64Tensor([ctx.attrInt('value_int')], []);
      if (ctx.has('value_ints')) return int64Tensor(ctx.attrInts('value_ints'));
      const other = ['sparse_value', 'value_string', 'value_strings'].find((n) => ctx.has(n));
      throw ctx.fail(other ? `attribute '${other}' is not supported (no sparse or string tensors)` : 'has no value attribute');
    },
  },
});

defineOp({
  opType: 'ConstantOfShape',
  versions: {
    9: (ctx) => {
      const shape = requiredInts(ctx, 0, 'shape');
      if (!ctx.has('value')) return full(shape, 0, { dtype: 'float32' });
      const value = ctx.attrTensor('value');
      if (value.numel !== 1) throw ctx.fail(`attribute 'value' must hold one element, it holds ${value.numel}`);
      return value.reshape([]).expand(shape).clone();
    },
  },
  constantInputs: [0],
});

/** Numpy-style broadcast of two shapes; null if they do not broadcast. */
export function broadcastShapes(a: readonly number[], b: readonly number[]): number[] | null {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const x = a[a.length - rank + i] ?? 1;
    const y = b[b.length - rank + i] ?? 1;
    if (x !== y && x !== 1 && y !== 1) return null;
    out.push(x === 1 ? y : x);
  }
  return out;
}

defineOp({
  opType: 'Expand',
  versions: {
    8: (ctx) => {
      const x = ctx.input(0);
      const shape = requiredInts(ctx, 1, 'shape');
      const target = broadcastShapes(x.shape, shape);
      if (target === null) throw ctx.fail(`input [${x.shape.join(',')}] does not broadcast to [${shape.join(',')}]`);
      return x.expand(target);
    },
  },
  constantInputs: [1],
});

defineOp({
  opType: 'Tile',
  versions: {
    6: (ctx) => {
      const x = ctx.input(0);
      const repeats = requiredInts(ctx, 1, 'repeats');
      if (repeats.length !== x.ndim) throw ctx.fail(`repeats [${repeats.join(',')}] must have one entry per input dim (${x.ndim})`);
      return x.repeat(repeats);
    },
  },
  constantInputs: [1],
});

defineOp({
  opType: 'Range',
  versions: {
    11: (ctx) => {
      const start = ctx.input(0);
      const [s] = requiredInts(ctx, 0, 'start');
      const [limit] = requiredInts(ctx, 1, 'limit');
      const [delta] = requiredInts(ctx, 2, 'delta');
      if (s === undefined || limit === undefined || delta === undefined || delta === 0) throw ctx.fail('needs scalar start, limit and a non-zero delta');
      const count = Math.max(Math.ceil((limit - s) / delta), 0);
      const dtype: DType = start.dtype;
      if (dtype === 'float32' || dtype === 'float64') return arange(0, count, 1, { dtype }).mul(delta).add(s);
      return arange(s, s + count * delta, delta, { dtype });
    },
  },
  constantInputs: [0, 1, 2],
});

// ---- Trilu, OneHot, NonZero --------------------------------------------------------------------

defineOp({
  opType: 'Trilu',
  versions: {
    14: (ctx) => {
      const x = ctx.input(0);
      if (x.ndim < 2) throw ctx.fail(`input [${x.shape.join(',')}] must have at least 2 dims`);
      const k = ctx.inputInts(1)?.[0] ?? 0;
      const rows = x.shape[x.ndim - 2] as number;
      const cols = x.shape[x.ndim - 1] as number;
      const diff = arange(0, cols).reshape([1, cols]).sub(arange(0, rows).reshape([rows, 1]));
      const keep = ctx.attrInt('upper', 1) !== 0 ? diff.ge(k) : diff.le(k);
      return where(keep, x, tensor([0], { dtype: x.dtype, shape: [] }));
    },
  },
  constantInputs: [1],
});

defineOp({
  opType: 'OneHot',
  versions: {
    9: (ctx) => {
      const indices = ctx.input(0);
      const depthValue = requiredInts(ctx, 1, 'depth')[0];
      if (depthValue === undefined || !(depthValue >= 1)) throw ctx.fail('depth must be a positive number');
      const depth = Math.trunc(depthValue);
      const values = ctx.input(2);
      if (values.numel !== 2) throw ctx.fail(`values must hold [off, on], got ${values.numel} elements`);
      const axis = normAxis(ctx, ctx.attrInt('axis', -1), indices.ndim + 1);
      let idx = indices.isFloatingPoint ? indices.to('int64') : indices.long();
      if (ctx.opset >= 11) idx = wrapIndices(idx, depth);
      const classes = arange(0, depth).reshape([depth, ...new Array<number>(indices.ndim - axis).fill(1)]);
      const hot = idx.unsqueeze(axis).eq(classes);
      const flat = values.reshape([2]);
      return where(hot, flat.select(0, 1), flat.select(0, 0));
    },
  },
  constantInputs: [1],
});

defineOp({
  opType: 'NonZero',
  versions: {
    9: (ctx) => {
      const x = ctx.input(0);
      if (x.ndim === 0) return x.reshape([1]).nonzero().t().slice(0, 0, 0);
      return x.nonzero().t().contiguous();
    },
  },
});

// ---- DepthToSpace, SpaceToDepth ----------------------------------------------------------------

defineOp({
  opType: 'DepthToSpace',
  versions: {
    1: (ctx) => {
      const x = ctx.input(0);
      if (x.ndim !== 4) throw ctx.fail(`input [${x.shape.join(',')}] must be 4-D [N,C,H,W]`);
      const b = ctx.attrInt('blocksize');
      const [n, c, h, w] = x.shape as [number, number, number, number];
      if (c % (b * b) !== 0) throw ctx.fail(`channels ${c} are not divisible by blocksize^2 = ${b * b}`);
      const mode = ctx.opset >= 11 ? ctx.attrString('mode', 'DCR') : 'DCR';
      let y: Tensor;
      if (mode === 'DCR') y = x.reshape([n, b, b, c / (b * b), h, w]).permute([0, 3, 4, 1, 5, 2]);
      else if (mode === 'CRD') y = x.reshape([n, c / (b * b), b, b, h, w]).permute([0, 1, 4, 2, 5, 3]);
      else throw ctx.fail(`mode '${mode}' is not DCR or CRD`);
      return y.reshape([n, c / (b * b), h * b, w * b]);
    },
  },
});

defineOp({
  opType: 'SpaceToDepth',
  versions: {
    1: (ctx) => {
      const x = ctx.input(0);
      if (x.ndim !== 4) throw ctx.fail(`input [${x.shape.join(',')}] must be 4-D [N,C,H,W]`);
      const b = ctx.attrInt('blocksize');
      const [n, c, h, w] = x.shape as [number, number, number, number];
      if (h % b !== 0 || w % b !== 0) throw ctx.fail(`spatial size ${h}x${w} is not divisible by blocksize ${b}`);
      return x.reshape([n, c, h / b, b, w / b, b]).permute([0, 3, 5, 1, 2, 4]).reshape([n, c * b * b, h / b, w / b]);
    },
  },
});
