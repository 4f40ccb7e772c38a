/**
 * ONNX resampling and padding operators: Resize (opsets 10 to 18), the deprecated Upsample, and Pad.
 *
 * Resize computes, per resized axis, the source positions of every output index exactly as the
 * ONNX specification (and its reference implementation) does, for every coordinate transformation
 * and nearest / linear / cubic mode, and gathers them with index_select (one tap for nearest, two
 * for linear, four for cubic, weighted). The interpolation is separable, so N-D resizing is one
 * such pass per axis, and autograd differentiates it with respect to the input. When libtorch's
 * own upsample_nearest2d or upsample_bilinear2d computes the same thing (the usual exports: 2x
 * nearest, bilinear with half-pixel or aligned corners at integral sizes), that single native call
 * is used instead.
 */
import { native } from '../../../tensor/native.js';
import { fromHandle, type Tensor } from '../../../tensor/tensor.js';
import { tensor, where } from '../../../tensor/index.js';
import { defineOp, type OnnxOpContext } from '../registry.js';
import { int64Tensor, normAxis } from './shape.js';

// ---- sampling positions ----------------------------------------------------------------------------

/** How output coordinates map to input coordinates, and how they are sampled. */
interface ResizeMode {
  mode: 'nearest' | 'linear' | 'cubic';
  coordinate: string;
  /** ONNX nearest_mode, or 'simple' (opset 10 and Upsample: floor when enlarging, ceil when shrinking). */
  nearest: string;
  cubicA: number;
  excludeOutside: boolean;
  extrapolation: number;
}

/** One resized axis: output size, scale, and (for tf_crop_and_resize) the region of interest. */
interface AxisPlan {
  axis: number;
  input: number;
  output: number;
  scale: number;
  /** The output length the align_corners and tf_crop_and_resize formulas divide by (the reference's scale * input). */
  width: number;
  roiStart: number;
  roiEnd: number;
}

/** Sampling of one axis: taps (index and weight per output element) and positions to extrapolate. */
interface AxisTaps {
  indices: number[][];
  weights: number[][];
  outside: boolean[] | null;
}

function sourcePosition(j: number, a: AxisPlan, coordinate: string): number {
  switch (coordinate) {
    case 'half_pixel':
      return (j + 0.5) / a.scale - 0.5;
    case 'pytorch_half_pixel':
      return a.output > 1 ? (j + 0.5) / a.scale - 0.5 : -0.5;
    case 'align_corners':
      return a.width === 1 ? 0 : (j * (a.input - 1)) / (a.width - 1);
    case 'asymmetric':
      return j / a.scale;
    case 'tf_half_pixel_for_nn':
      return (j + 0.5) / a.scale;
    case 'tf_crop_and_resize':
      return a.width === 1
        ? ((a.roiEnd - a.roiStart) * (a.input - 1)) / 2 + a.roiStart * (a.input - 1)
        : (j * (a.roiEnd - a.roiStart) * (a.input - 1)) / (a.width - 1) + a.roiStart * (a.input - 1);
    case 'half_pixel_symmetric': {
      const adjustment = a.output / (a.scale * a.input);
      const center = a.input / 2;
      const offset = center * (1 - adjustment);
      return offset + (j + 0.5) / a.scale - 0.5;
    }
    default:
      throw new Error(`coordinate_transformation_mode '${coordinate}'`);
  }
}

function nearestIndex(x: number, mode: string, downsampling: boolean): number {
  switch (mode) {
    case 'round_prefer_floor':
      return Number.isInteger(x) ? x : Math.ceil(x - 0.5);
    case 'round_prefer_ceil':
      return Math.floor(x + 0.5);
    case 'floor':
      return Math.floor(x);
    case 'ceil':
      return Math.ceil(x);
    case 'simple':
      return downsampling ? Math.ceil(x) : Math.trunc(x);
    default:
      throw new Error(`nearest_mode '${mode}'`);
  }
}

function cubicCoefficients(r: number, a: number): number[] {
  const s = 1 - r;
  return [
    ((a * (r + 1) - 5 * a) * (r + 1) + 8 * a) * (r + 1) - 4 * a,
    ((a + 2) * r - (a + 3)) * r * r + 1,
    ((a + 2) * s - (a + 3)) * s * s + 1,
    ((a * (s + 1) - 5 * a) * (s + 1) + 8 * a) * (s + 1) - 4 * a,
  ];
}

/** The taps of one axis, as the ONNX reference samples it (edge values beyond the border). */
function axisTaps(a: AxisPlan, m: ResizeMode): AxisTaps {
  const tapCount = m.mode === 'nearest' ? 1 : m.mode === 'linear' ? 2 : 4;
  const indices = Array.from({ length: tapCount }, () => new Array<number>(a.output));
  const weights = Array.from({ length: tapCount }, () => new Array<number>(a.output));
  const outside = m.coordinate === 'tf_crop_and_resize' ? new Array<boolean>(a.output).fill(false) : null;
  const last = a.input - 1;
  const clamp = (i: number): number => Math.min(Math.max(i, 0), last);
  for (let j = 0; j < a.output; j++) {
    const x = sourcePosition(j, a, m.coordinate);
    if (outside) outside[j] = x < 0 || x > last;
    if (m.mode === 'nearest') {
      indices[0]![j] = clamp(nearestIndex(x, m.nearest, a.scale < 1));
      weights[0]![j] = 1;
      continue;
    }
    const base = Math.floor(x);
    const r = x - base;
    if (m.mode === 'linear') {
      indices[0]![j] = clamp(base);
      indices[1]![j] = clamp(base + 1);
      weights[0]![j] = 1 - r;
      weights[1]![j] = r;
      continue;
    }
    const coefficients = cubicCoefficients(r, m.cubicA);
    const taps = [base - 1, base, base + 1, base + 2];
    if (m.excludeOutside) {
      const kept = coefficients.map((c, t) => (taps[t]! < 0 || taps[t]! > last ? 0 : c));
      const total = kept.reduce((s, c) => s + c, 0);
      kept.forEach((c, t) => (coefficients[t] = c / total));
    }
    taps.forEach((i, t) => {
      indices[t]![j] = clamp(i);
      weights[t]![j] = coefficients[t]!;
    });
  }
  return { indices, weights, outside };
}

function isIdentity(taps: AxisTaps, a: AxisPlan): boolean {
  if (a.output !== a.input || (taps.outside && taps.outside.some((o) => o))) return false;
  for (let j = 0; j < a.output; j++) {
    let w = 0;
    for (let t = 0; t < taps.indices.length; t++) {
      const weight = taps.weights[t]![j]!;
      if (weight === 0) continue;
      if (taps.indices[t]![j] !== j) return false;
      w += weight;
    }
    if (Math.abs(w - 1) > 1e-12) return false;
  }
  return true;
}

/** Resamples `x` along one axis by its taps (weighted index_select), extrapolating where asked. */
function resampleAxis(x: Tensor, a: AxisPlan, taps: AxisTaps, extrapolation: number): Tensor {
  const shape = x.shape.map((_, i) => (i === a.axis ? a.output : 1));
  let y: Tensor | null = null;
  for (let t = 0; t < taps.indices.length; t++) {
    const picked = x.indexSelect(a.axis, int64Tensor(taps.indices[t]!));
    if (taps.indices.length === 1) {
      y = picked;
      break;
    }
    const w = tensor(Float64Array.from(taps.weights[t]!), { shape, dtype: x.dtype });
    const term = picked.mul(w);
    y = y === null ? term : y.add(term);
  }
  let out = y as Tensor;
  if (taps.outside && taps.outside.some((o) => o)) {
    const mask = tensor(Uint8Array.from(taps.outside, (o) => (o ? 1 : 0)), { shape, dtype: 'bool' });
    out = where(mask, tensor([extrapolation], { shape: [], dtype: out.dtype }), out);
  }
  return out;
}

/** The single native call computing the same resize of a 4-D tensor, if there is one. */
function nativeResize(x: Tensor, plans: readonly AxisPlan[], taps: readonly AxisTaps[], m: ResizeMode): Tensor | null {
  if (x.ndim !== 4 || plans.some((a) => a.axis < 2) || m.coordinate === 'tf_crop_and_resize') return null;
  const size = [x.shape[2] as number, x.shape[3] as number];
  for (const a of plans) size[a.axis - 2] = a.output;
  if (m.mode === 'nearest') {
    // libtorch picks floor(j * in / out); exact for 2x enlarging and integral shrinking.
    const matches = plans.every((a, k) => {
      const index = taps[k]!.indices[0]!;
      if (a.output === 2 * a.input) return index.every((i, j) => i === j >> 1);
      if (a.input % a.output === 0) return index.every((i, j) => i === (j * a.input) / a.output);
      return false;
    });
    return matches ? fromHandle(native.upsampleNearest2d(x.handle, size)) : null;
  }
  if (m.mode !== 'linear') return null;
  const exact = plans.every((a) => a.width === a.output && a.scale === a.output / a.input);
  if (!exact) return null;
  if (m.coordinate === 'align_corners') return fromHandle(native.upsampleBilinear2d(x.handle, size, true));
  const halfPixel = m.coordinate === 'half_pixel' || (m.coordinate === 'pytorch_half_pixel' && plans.every((a) => a.output > 1));
  return halfPixel ? fromHandle(native.upsampleBilinear2d(x.handle, size, false)) : null;
}

/** Resizes `x` to the per-axis plans. */
function resize(x: Tensor, plans: readonly AxisPlan[], m: ResizeMode): Tensor {
  const taps = plans.map((a) => axisTaps(a, m));
  const active = plans.map((a, k) => ({ a, taps: taps[k]! })).filter((p) => !isIdentity(p.taps, p.a));
  if (active.length === 0) return x.reshape(x.shape);
  const fast = x.isFloatingPoint ? nativeResize(x, active.map((p) => p.a), active.map((p) => p.taps), m) : null;
  if (fast) return fast;
  const integral = !x.isFloatingPoint && m.mode !== 'nearest';
  let y = integral ? x.to('float32') : x;
  for (const p of active) y = resampleAxis(y, p.a, p.taps, m.extrapolation);
  return integral ? y.round().to(x.dtype) : y;
}

// ---- Resize, Upsample -------------------------------------------------------------------------------

function modeOf(ctx: OnnxOpContext, legacy: boolean): ResizeMode {
  let mode = ctx.attrString('mode', 'nearest');
  if (mode === 'bilinear' || mode === 'trilinear') mode = 'linear';
  if (mode !== 'nearest' && mode !== 'linear' && mode !== 'cubic') throw ctx.fail(`mode '${mode}' is not nearest, linear or cubic`);
  if (legacy && mode === 'cubic') throw ctx.fail(`mode 'cubic' is not defined at opset ${ctx.opset}`);
  const coordinate = legacy ? 'asymmetric' : ctx.attrString('coordinate_transformation_mode', 'half_pixel');
  const coordinates = ['half_pixel', 'pytorch_half_pixel', 'align_corners', 'asymmetric', 'tf_half_pixel_for_nn', 'tf_crop_and_resize', 'half_pixel_symmetric'];
  if (!coordinates.includes(coordinate)) throw ctx.fail(`coordinate_transformation_mode '${coordinate}' is not supported`);
  const nearest = legacy ? 'simple' : ctx.attrString('nearest_mode', 'round_prefer_floor');
  if (!['round_prefer_floor', 'round_prefer_ceil', 'floor', 'ceil', 'simple'].includes(nearest)) throw ctx.fail(`nearest_mode '${nearest}' is not supported`);
  return {
    mode,
    coordinate,
    nearest,
    cubicA: ctx.attrFloat('cubic_coeff_a', -0.75),
    excludeOutside: ctx.attrInt('exclude_outside', 0) !== 0,
    extrapolation: ctx.attrFloat('extrapolation_value', 0),
  };
}

/** Per-axis plans from scales or sizes (both given for `axes`, every axis when axes is null). */
function plansOf(ctx: OnnxOpContext, x: Tensor, m: ResizeMode, scalesIn: number[] | null, sizesIn: number[] | null, roiIn: number[] | null, axesIn: number[] | null): AxisPlan[] {
  const rank = x.ndim;
  const axes = axesIn === null ? x.shape.map((_, i) => i) : axesIn.map((a) => normAxis(ctx, a, rank, 'axes entry'));
  const scales = scalesIn !== null && scalesIn.length > 0 ? scalesIn : null;
  const sizes = sizesIn !== null && sizesIn.length > 0 ? sizesIn : null;
  if ((scales === null) === (sizes === null)) throw ctx.fail('needs exactly one of scales and sizes');
  const given = (scales ?? sizes) as number[];
  if (given.length !== axes.length) throw ctx.fail(`${scales ? 'scales' : 'sizes'} [${given.join(',')}] must hold ${axes.length} values (one per resized axis)`);
  const roi = roiIn !== null && roiIn.length > 0 ? roiIn : null;
  if (m.coordinate === 'tf_crop_and_resize' && (roi === null || roi.length !== 2 * axes.length)) throw ctx.fail(`tf_crop_and_resize needs roi with ${2 * axes.length} values`);
  const policy = ctx.attrString('keep_aspect_ratio_policy', 'stretch');
  if (!['stretch', 'not_larger', 'not_smaller'].includes(policy)) throw ctx.fail(`keep_aspect_ratio_policy '${policy}' is not supported`);
  let uniform: number | null = null;
  if (sizes && policy !== 'stretch') {
    const ratios = axes.map((axis, k) => (sizes[k] as number) / (x.shape[axis] as number));
    uniform = policy === 'not_larger' ? Math.min(...ratios) : Math.max(...ratios);
  }
  return axes.map((axis, k) => {
    const input = x.shape[axis] as number;
    const roiStart = roi ? (roi[k] as number) : 0;
    const roiEnd = roi ? (roi[axes.length + k] as number) : 1;
    let output: number;
    let scale: number;
    let width: number;
    if (uniform !== null) {
      scale = uniform;
      output = Math.round(scale * input);
      width = scale * input;
    } else if (sizes) {
      output = sizes[k] as number;
      scale = output / input;
      width = output;
    } else {
      scale = scales![k] as number;
      if (!(scale > 0)) throw ctx.fail(`scale ${scale} of axis ${axis} must be positive`);
      const span = m.coordinate === 'tf_crop_and_resize' ? roiEnd - roiStart : 1;
      output = Math.floor(input * span * scale);
      width = input * scale;
    }
    if (!(output >= 1) || !Number.isInteger(output)) throw ctx.fail(`output size ${output} of axis ${axis} is not a positive integer`);
    return { axis, input, output, scale, width, roiStart, roiEnd };
  });
}

function resizeKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  const legacy = ctx.opset < 11;
  const m = modeOf(ctx, legacy);
  if (legacy) return resize(x, plansOf(ctx, x, m, ctx.inputFloats(1), null, null, null), m);
  const axes = ctx.opset >= 18 && ctx.has('axes') ? ctx.attrInts('axes') : null;
  const plans = plansOf(ctx, x, m, ctx.inputFloats(2), ctx.inputInts(3), ctx.inputFloats(1), axes);
  if (ctx.opset >= 18 && ctx.attrInt('antialias', 0) !== 0 && m.mode !== 'nearest' && plans.some((a) => a.scale < 1)) {
    throw ctx.fail('antialias=1 when shrinking is not supported');
  }
  return resize(x, plans, m);
}

defineOp({ opType: 'Resize', versions: { 10: resizeKernel, 11: resizeKernel, 13: resizeKernel, 18: resizeKernel, 19: resizeKernel }, constantInputs: [1, 2, 3] });

function upsampleKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  const m = modeOf(ctx, true);
  const scales = ctx.opset >= 9 ? ctx.inputFloats(1) : ctx.attrFloats('scales');
  if (scales === null) throw ctx.fail('needs the scales input');
  return resize(x, plansOf(ctx, x, m, scales, null, null, null), m);
}

defineOp({ opType: 'Upsample', versions: { 7: upsampleKernel, 9: upsampleKernel }, constantInputs: [1] });

// ---- Pad ------------------------------------------------------------------------------------------------

/** Source index of padded position `j` (from -begin) along an axis of `n` elements. */
function padIndex(j: number, n: number, mode: string): number {
  if (mode === 'edge') return Math.min(Math.max(j, 0), n - 1);
  if (mode === 'wrap') return ((j % n) + n) % n;
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  const m = ((j % period) + period) % period;
  return m < n ? m : period - m;
}

function padKernel(ctx: OnnxOpContext): Tensor {
  const x = ctx.input(0);
  const rank = x.ndim;
  let pads: number[];
  let value: number;
  let axes: number[];
  if (ctx.opset < 11) {
    pads = ctx.opset < 2 ? ctx.attrInts('paddings') : ctx.attrInts('pads');
    value = ctx.attrFloat('value', 0);
    axes = x.shape.map((_, i) => i);
  } else {
    const given = ctx.inputInts(1);
    if (given === null) throw ctx.fail('needs input 1 (pads)');
    pads = given;
    value = ctx.inputFloats(2)?.[0] ?? 0;
    const axesIn = ctx.opset >= 18 ? ctx.inputInts(3) : null;
    axes = axesIn === null ? x.shape.map((_, i) => i) : axesIn.map((a) => normAxis(ctx, a, rank, 'axes entry'));
  }
  if (pads.length !== 2 * axes.length) throw ctx.fail(`pads [${pads.join(',')}] must hold ${2 * axes.length} values (begin and end per axis)`);
  const mode = ctx.attrString('mode', 'constant');
  if (!['constant', 'reflect', 'edge', 'wrap'].includes(mode)) throw ctx.fail(`mode '${mode}' is not constant, reflect, edge or wrap`);
  const begin = new Array<number>(rank).fill(0);
  const end = new Array<number>(rank).fill(0);
  axes.forEach((axis, k) => {
    begin[axis] = pads[k] as number;
    end[axis] = pads[axes.length + k] as number;
  });
  const padded = begin.map((b, i) => b !== 0 || end[i] !== 0);
  if (!padded.some((p) => p)) return x.reshape(x.shape);
  const first = padded.indexOf(true);
  const list = (from: number, b: readonly number[], e: readonly number[]): number[] => {
    const out: number[] = [];
    for (let i = rank - 1; i >= from; i--) out.push(b[i] as number, e[i] as number);
    return out;
  };
  if (mode === 'constant') return fromHandle(native.pad(x.handle, list(first, begin, end), 'constant', value));
  // Crop the negative pads, then pad the positive ones.
  let y = x;
  for (let i = 0; i < rank; i++) {
    const b = begin[i] as number;
    const e = end[i] as number;
    if (b < 0 || e < 0) y = y.slice(i, Math.max(0, -b), (y.shape[i] as number) - Math.max(0, -e));
  }
  const pb = begin.map((b) => Math.max(b, 0));
  const pe = end.map((e) => Math.max(e, 0));
  const grows = pb.map((b, i) => b > 0 || (pe[i] as number) > 0);
  if (!grows.some((g) => g)) return y === x ? x.reshape(x.shape) : y;
  const firstGrown = grows.indexOf(true);
  const trailing = Math.max(rank - firstGrown, rank - 2, 1);
  const fitsNative = mode !== 'wrap' && trailing <= 3 && trailing <= rank - 1 && y.isFloatingPoint &&
    (mode !== 'reflect' || pb.every((b, i) => b < (y.shape[i] as number) && (pe[i] as number) < (y.shape[i] as number)));
  if (fitsNative) return fromHandle(native.pad(y.handle, list(rank - trailing, pb, pe), mode === 'edge' ? 'replicate' : 'reflect', null));
  for (let i = 0; i < rank; i++) {
    const b = pb[i] as number;
    const e = pe[i] as number;
    if (b === 0 && e === 0) continue;
    const n = y.shape[i] as number;
    if (n === 0) throw ctx.fail(`cannot pad an empty axis ${i} in mode '${mode}'`);
    const index = Array.from({ length: n + b + e }, (_, j) => padIndex(j - b, n, mode));
    y = y.indexSelect(i, int64Tensor(index));
  }
  return y;
}

defineOp({ opType: 'Pad', versions: { 1: padKernel, 2: padKernel, 11: padKernel, 13: padKernel, 18: padKernel, 19: padKernel }, constantInputs: [1, 2, 3] });
