/**
 * Creating tensors: from JavaScript data, filled, ranges and random. Shapes and dtypes are
 * checked here so that mistakes are reported in the caller's terms.
 */
import { native } from './native.js';
import { fromHandle, type DeviceName, type DType, Tensor } from './tensor.js';

/** Options shared by the creation functions. */
export interface CreateOptions {
  dtype?: DType;
  device?: DeviceName;
  /** Make the new tensor a leaf that records gradients. */
  requiresGrad?: boolean;
}

type NestedNumbers = number | boolean | readonly NestedNumbers[];
type DataArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Int16Array | Int8Array;

const DTYPES: readonly DType[] = ['float32', 'float64', 'float16', 'bfloat16', 'int64', 'int32', 'int16', 'int8', 'uint8', 'bool'];

/** Throws unless `dtype` names a supported element type. */
export function checkDType(dtype: string, where: string): DType {
  if (!(DTYPES as readonly string[]).includes(dtype)) {
    throw new TypeError(`${where}: unknown dtype '${dtype}'; expected one of ${DTYPES.join(', ')}`);
  }
  return dtype as DType;
}

/** Throws unless `shape` is an array of non-negative integers. */
export function checkShape(shape: readonly number[], where: string): readonly number[] {
  if (!Array.isArray(shape)) throw new TypeError(`${where}: shape must be an array of integers, got ${String(shape)}`);
  for (const s of shape) {
    if (!Number.isInteger(s) || s < 0) throw new TypeError(`${where}: shape [${shape.join(',')}] must hold non-negative integers`);
  }
  return shape;
}

function finish(t: Tensor, options: CreateOptions): Tensor {
  let out = t;
  if (options.device !== undefined && options.device !== 'cpu') {
    out = t.toDevice(options.device);
    t.dispose();
  }
  if (options.requiresGrad === true) out.requiresGrad_(true);
  return out;
}

function naturalDType(data: DataArray): DType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int16Array) return 'int16';
  if (data instanceof Int8Array) return 'int8';
  return 'uint8';
}

function inferShape(data: NestedNumbers): number[] {
  const shape: number[] = [];
  let level: NestedNumbers = data;
  while (Array.isArray(level)) {
    shape.push(level.length);
    if (level.length === 0) break;
    level = (level as readonly NestedNumbers[])[0] as NestedNumbers;
  }
  return shape;
}

function flattenNested(data: NestedNumbers, shape: readonly number[], depth: number, out: number[]): void {
  if (depth === shape.length) {
    if (Array.isArray(data)) throw new TypeError('tensor(): ragged nested array (elements at different depths)');
    out.push(typeof data === 'boolean' ? (data ? 1 : 0) : (data as number));
    return;
  }
  if (!Array.isArray(data) || data.length !== shape[depth]) {
    throw new TypeError(`tensor(): ragged nested array; expected length ${shape[depth]} at depth ${depth}`);
  }
  for (const item of data as readonly NestedNumbers[]) flattenNested(item, shape, depth + 1, out);
}

function firstLeaf(data: NestedNumbers): number | boolean | undefined {
  let level: NestedNumbers = data;
  while (Array.isArray(level)) {
    if (level.length === 0) return undefined;
    level = (level as readonly NestedNumbers[])[0] as NestedNumbers;
  }
  return level as number | boolean;
}

/**
 * Creates a tensor from a number, a (nested) array, or a typed array. Typed arrays keep their
 * element type unless `dtype` says otherwise and need `shape` unless 1-D; nested arrays default
 * to float32 (bool for booleans).
 */
export function tensor(data: NestedNumbers | DataArray, options: CreateOptions & { shape?: readonly number[] } = {}): Tensor {
  if (ArrayBuffer.isView(data)) {
    const array = data as DataArray;
    const shape = checkShape(options.shape ?? [array.length], 'tensor()');
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== array.length) {
      throw new TypeError(`tensor(): shape [${shape.join(',')}] holds ${count} elements but the typed array has ${array.length}`);
    }
    const natural = options.dtype === 'bool' && array instanceof Uint8Array ? 'bool' : naturalDType(array);
    let t = fromHandle(native.fromBuffer(array, shape, natural));
    if (options.dtype !== undefined && options.dtype !== natural) {
      const cast = t.to(checkDType(options.dtype, 'tensor()'));
      t.dispose();
      t = cast;
    }
    return finish(t, options);
  }
  const shape = options.shape ?? inferShape(data as NestedNumbers);
  const values: number[] = [];
  if (Array.isArray(data)) flattenNested(data as NestedNumbers, inferShape(data as NestedNumbers), 0, values);
  else values.push(typeof data === 'boolean' ? (data ? 1 : 0) : (data as number));
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== values.length) {
    throw new TypeError(`tensor(): shape [${shape.join(',')}] holds ${count} elements but the data has ${values.length}`);
  }
  const dtype = checkDType(options.dtype ?? (typeof firstLeaf(data as NestedNumbers) === 'boolean' ? 'bool' : 'float32'), 'tensor()');
  let buffer: DataArray;
  let bufferType: DType;
  if (dtype === 'float64') [buffer, bufferType] = [Float64Array.from(values), 'float64'];
  else if (dtype === 'int64') [buffer, bufferType] = [BigInt64Array.from(values, (v) => BigInt(Math.trunc(v))), 'int64'];
  else if (dtype === 'int32') [buffer, bufferType] = [Int32Array.from(values), 'int32'];
  else if (dtype === 'uint8' || dtype === 'bool') [buffer, bufferType] = [Uint8Array.from(values, (v) => (dtype === 'bool' ? (v ? 1 : 0) : v)), dtype];
  else [buffer, bufferType] = [Float32Array.from(values), 'float32'];
  let t = fromHandle(native.fromBuffer(buffer, shape, bufferType));
  if (bufferType !== dtype) {
    const cast = t.to(dtype);
    t.dispose();
    t = cast;
  }
  return finish(t, options);
}

/** A 0-d tensor holding one number. */
export function scalar(value: number, options: CreateOptions = {}): Tensor {
  return tensor(value, options);
}

function filled(kind: 'zeros' | 'ones' | 'empty', shape: readonly number[], options: CreateOptions): Tensor {
  checkShape(shape, kind);
  const dtype = options.dtype === undefined ? null : checkDType(options.dtype, kind);
  const t = fromHandle(native[kind](shape, dtype, options.device ?? null));
  if (options.requiresGrad === true) t.requiresGrad_(true);
  return t;
}

/** A tensor of zeros (float32 unless `dtype`). */
export function zeros(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return filled('zeros', shape, options);
}
/** A tensor of ones (float32 unless `dtype`). */
export function ones(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return filled('ones', shape, options);
}
/** An uninitialised tensor (contents arbitrary). */
export function empty(shape: readonly number[], options: CreateOptions = {}): Tensor {
  return filled('empty', shape, options);
}
/** A tensor filled with `value`. */
export function full(shape: readonly number[], value: number | boolean, options: CreateOptions = {}): Tensor {
  checkShape(shape, 'full');
  const t = fromHandle(native.full(shape, value, options.dtype ?? null, options.device ?? null));
  if (options.requiresGrad === true) t.requiresGrad_(true);
  return t;
}
/** Values start, start+step, ... below end (int64 unless `dtype`). */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const [lo, hi] = end === undefined ? [0, start] : [start, end];
  if (step === 0) throw new RangeError('arange: step must not be 0');
  const integral = Number.isInteger(lo) && Number.isInteger(hi) && Number.isInteger(step);
  const dtype = options.dtype ?? (integral ? 'int64' : 'float32');
  return fromHandle(native.arange(lo, hi, step, dtype, options.device ?? null));
}
/** `steps` evenly spaced values from start to end inclusive. */
export function linspace(start: number, end: number, steps: number, options: CreateOptions = {}): Tensor {
  return fromHandle(native.linspace(start, end, steps, options.dtype ?? null, options.device ?? null));
}
/** The n x n identity matrix. */
export function eye(n: number, options: CreateOptions = {}): Tensor {
  return fromHandle(native.eye(n, options.dtype ?? null, options.device ?? null));
}
/** Uniform samples in [0, 1) from the global generator (seed with manualSeed). */
export function rand(shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkShape(shape, 'rand');
  return finishRandom(fromHandle(native.rand(shape, options.dtype ?? null, options.device ?? null)), options);
}
/** Standard normal samples from the global generator. */
export function randn(shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkShape(shape, 'randn');
  return finishRandom(fromHandle(native.randn(shape, options.dtype ?? null, options.device ?? null)), options);
}
/** Integers uniform in [low, high) (int64 unless `dtype`). */
export function randint(low: number, high: number, shape: readonly number[], options: CreateOptions = {}): Tensor {
  checkShape(shape, 'randint');
  if (!(high > low)) throw new RangeError(`randint: high (${high}) must be greater than low (${low})`);
  return fromHandle(native.randint(low, high, shape, options.dtype ?? null, options.device ?? null));
}
/** A random permutation of 0..n-1 (int64). */
export function randperm(n: number, options: CreateOptions = {}): Tensor {
  return fromHandle(native.randperm(n, options.dtype ?? null, options.device ?? null));
}
function finishRandom(t: Tensor, options: CreateOptions): Tensor {
  if (options.requiresGrad === true) t.requiresGrad_(true);
  return t;
}

/** Zeros with the shape, dtype and device of `like`. */
export function zerosLike(like: Tensor): Tensor {
  return fromHandle(native.zerosLike(like.handle));
}
/** Ones with the shape, dtype and device of `like`. */
export function onesLike(like: Tensor): Tensor {
  return fromHandle(native.onesLike(like.handle));
}
/** `value` everywhere, with the shape, dtype and device of `like`. */
export function fullLike(like: Tensor, value: number | boolean): Tensor {
  return fromHandle(native.fullLike(like.handle, value));
}
/** U[0,1) samples shaped like `like`. */
export function randLike(like: Tensor): Tensor {
  return fromHandle(native.randLike(like.handle));
}
/** N(0,1) samples shaped like `like`. */
export function randnLike(like: Tensor): Tensor {
  return fromHandle(native.randnLike(like.handle));
}
/** Bernoulli samples: 1 with probability p (element-wise). */
export function bernoulli(p: Tensor): Tensor {
  return fromHandle(native.bernoulli(p.handle));
}
