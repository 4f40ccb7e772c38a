/**
 * The `Tensor` class: a typed, fluent face over a libtorch tensor handle.
 *
 * Lifetime is deterministic (see scope.ts): every tensor joins the innermost open `scope()`, is
 * freed by `dispose()` (or `using`), or — as a safety net — by a FinalizationRegistry when the
 * JavaScript object is collected. The addon reports each tensor's bytes to V8, so the collector
 * knows about native memory, but nothing in a training loop should wait for it.
 */
import { native, type NativeHandle } from './native.js';
import { scopedBrand, track, type ScopedResource } from './scope.js';

/** Element types supported by Bastion tensors (names as in NumPy / PyTorch). */
export type DType = 'float32' | 'float64' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'int16' | 'int8' | 'uint8' | 'bool';
/** A device name: `cpu`, `cuda` or `cuda:N` (CUDA only with a CUDA-enabled LIBTORCH). */
export type DeviceName = 'cpu' | 'cuda' | `cuda:${number}`;
/** A tensor or a plain number, for operands that broadcast. */
export type TensorOrNumber = Tensor | number;

/** Typed array returned by {@link Tensor.toArray} for each dtype. */
export type TypedArrayOf<D extends DType> = D extends 'float32' | 'float16' | 'bfloat16'
  ? Float32Array
  : D extends 'float64'
    ? Float64Array
    : D extends 'int64'
      ? BigInt64Array
      : D extends 'int32'
        ? Int32Array
        : D extends 'int16'
          ? Int16Array
          : D extends 'int8'
            ? Int8Array
            : Uint8Array;

/** Options of backward(). */
export interface BackwardOptions {
  /** Keep the graph for another backward pass (default: same as createGraph). */
  retainGraph?: boolean;
  /** Record the backward pass itself, for higher-order gradients. */
  createGraph?: boolean;
}

const stats = { created: 0, disposed: 0, collected: 0 };

/** Counters of tensor handles: created, disposed explicitly or by a scope, and collected by GC. */
export function tensorStats(): { created: number; disposed: number; collected: number; live: number } {
  return { ...stats, live: stats.created - stats.disposed - stats.collected };
}

const registry = new FinalizationRegistry<NativeHandle>((handle) => {
  stats.collected++;
  native.dispose(handle);
});

function h(value: TensorOrNumber): NativeHandle | number {
  return typeof value === 'number' ? value : value.handle;
}

/** Wraps a native handle in a new Tensor (internal: used by creation functions and ops). */
export function fromHandle(handle: NativeHandle): Tensor {
  return new Tensor(handle, constructionKey);
}

const constructionKey = Symbol('Tensor.construct');

/**
 * An n-dimensional array on a device, backed by libtorch. Create tensors with the functions of
 * src/tensor/creation.ts (`tensor`, `zeros`, `randn`, ...); ops return new tensors unless their name
 * ends in `_` (in place, returning `this`).
 */
export class Tensor implements ScopedResource {
  readonly [scopedBrand] = true;
  #handle: NativeHandle | null;
  #shape: readonly number[] | null = null;
  #dtype: DType | null = null;
  #kept = false;

  /** @internal Use the creation functions instead. */
  constructor(handle: NativeHandle, key: symbol) {
    if (key !== constructionKey) throw new TypeError('Tensor: use tensor(), zeros(), ... to create tensors');
    this.#handle = handle;
    stats.created++;
    registry.register(this, handle, this);
    track(this);
  }

  /** The native handle; throws a clear error if the tensor was disposed. */
  get handle(): NativeHandle {
    if (this.#handle === null) {
      const known = [this.#shape ? `[${this.#shape.join(',')}]` : '', this.#dtype ?? ''].filter((p) => p !== '');
      const what = known.length > 0 ? `a ${known.join(' ')} tensor` : 'a tensor';
      throw new Error(
        `Tensor used after dispose: ${what} was freed by dispose() or at the end of the scope() that created it. ` +
          'Return it from the scope, or call keep() on it, to use it afterwards.',
      );
    }
    return this.#handle;
  }

  /** True after dispose() (or the end of its scope). */
  get isDisposed(): boolean {
    return this.#handle === null;
  }

  /** True once keep() exempted this tensor from every scope. */
  get kept(): boolean {
    return this.#kept;
  }

  /** Releases the native memory now. Safe to call twice. */
  dispose(): void {
    if (this.#handle === null) return;
    registry.unregister(this);
    native.dispose(this.#handle);
    this.#handle = null;
    stats.disposed++;
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Exempts this tensor from every scope (it then lives until dispose() or GC). Returns this. */
  keep(): this {
    this.#kept = true;
    return this;
  }

  // ---- queries ------------------------------------------------------------------------------
  /** Sizes of each dimension. */
  get shape(): readonly number[] {
    if (this.#shape === null) this.#shape = Object.freeze(native.shape(this.handle));
    return this.#shape;
  }
  get dtype(): DType {
    if (this.#dtype === null) this.#dtype = native.dtype(this.handle) as DType;
    return this.#dtype;
  }
  get ndim(): number {
    return this.shape.length;
  }
  /** Number of elements. */
  get numel(): number {
    let n = 1;
    for (const s of this.shape) n *= s;
    return n;
  }
  get device(): DeviceName {
    return native.device(this.handle) as DeviceName;
  }
  /** Size of one dimension (negative counts from the end). */
  size(dim: number): number {
    const d = dim < 0 ? this.ndim + dim : dim;
    const s = this.shape[d];
    if (s === undefined) throw new RangeError(`size(${dim}): tensor has ${this.ndim} dimensions [${this.shape.join(',')}]`);
    return s;
  }
  get isFloatingPoint(): boolean {
    const d = this.dtype;
    return d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';
  }
  isContiguous(): boolean {
    return native.isContiguous(this.handle);
  }
  toString(): string {
    return this.isDisposed ? 'Tensor(disposed)' : `Tensor([${this.shape.join(',')}] ${this.dtype} ${this.device})`;
  }

  // ---- data out -----------------------------------------------------------------------------
  /** Copies the elements (row-major) into a new typed array matching the dtype. */
  toArray(): Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array {
    return native.toBuffer(this.handle);
  }
  /** Copies the elements into a Float32Array (casting if needed). */
  toFloat32Array(): Float32Array {
    if (this.dtype === 'float32') return native.toBuffer(this.handle) as Float32Array;
    const cast = native.toDType(this.handle, 'float32');
    try {
      return native.toBuffer(cast) as Float32Array;
    } finally {
      native.dispose(cast);
    }
  }
  /** Copies the elements into a plain number array (int64 converted to number). */
  toNumbers(): number[] {
    const data = this.toArray();
    return data instanceof BigInt64Array ? Array.from(data, Number) : Array.from(data as ArrayLike<number>);
  }
  /** The value of a one-element tensor. */
  item(): number {
    return Number(native.item(this.handle));
  }
  /** The value of a one-element boolean tensor. */
  itemBool(): boolean {
    return Boolean(native.item(this.handle));
  }

  // ---- conversion and copies ----------------------------------------------------------------
  /** Casts to another dtype (a new tensor even if the dtype is unchanged). */
  to(dtype: DType): Tensor {
    return fromHandle(native.toDType(this.handle, dtype));
  }
  float(): Tensor {
    return this.to('float32');
  }
  long(): Tensor {
    return this.to('int64');
  }
  /** Moves to a device (`cpu`, `cuda`, `cuda:1`). */
  toDevice(device: DeviceName): Tensor {
    return fromHandle(native.toDevice(this.handle, device));
  }
  clone(): Tensor {
    return fromHandle(native.clone(this.handle));
  }
  /** A tensor sharing storage but cut from the autograd graph. */
  detach(): Tensor {
    return fromHandle(native.detach(this.handle));
  }
  /** A contiguous copy (or this data if already contiguous), optionally in channels-last layout. */
  contiguous(format?: 'channels_last' | 'contiguous'): Tensor {
    return fromHandle(native.contiguous(this.handle, format ?? null));
  }

  /**
   * This data with true channels-last (NHWC) strides, for 4-D tensors. Unlike
   * `contiguous('channels_last')` it also restrides one-channel images, whose layout libtorch
   * otherwise treats as NCHW; convolutions and pooling then stay channels-last all the way, which
   * is several times faster on CPU (oneDNN). Differentiable; always a new tensor (a copy).
   */
  channelsLast(): Tensor {
    if (this.ndim !== 4) throw new TypeError(`channelsLast: expected a 4-D [N,C,H,W] tensor, got [${this.shape.join(',')}]`);
    const out = fromHandle(native.emptyLike(this.handle, 'channels_last'));
    out.copy_(this);
    return out;
  }

  // ---- autograd -----------------------------------------------------------------------------
  get requiresGrad(): boolean {
    return native.requiresGrad(this.handle);
  }
  /** Sets requires_grad in place (leaf tensors only). Returns this. */
  requiresGrad_(flag = true): this {
    native.setRequiresGrad(this.handle, flag);
    return this;
  }
  /** The accumulated gradient (a new handle sharing its storage), or null. */
  get grad(): Tensor | null {
    const g = native.grad(this.handle);
    return g === null ? null : fromHandle(g);
  }
  /** Replaces the accumulated gradient; null drops it (the next backward writes a fresh one). */
  setGrad(gradient: Tensor | null): void {
    native.setGrad(this.handle, gradient === null ? null : gradient.handle);
  }
  /** Keeps .grad for a non-leaf tensor after backward. */
  retainGrad(): this {
    native.retainGrad(this.handle);
    return this;
  }
  get isLeaf(): boolean {
    return native.isLeaf(this.handle);
  }
  /** Name of the autograd node that produced this tensor, or null for leaves. */
  get gradFn(): string | null {
    return native.gradFn(this.handle);
  }
  /** Back-propagates from this tensor (a scalar, or pass `gradient` of the same shape). */
  backward(gradient?: Tensor, options: BackwardOptions = {}): void {
    native.backward(this.handle, gradient?.handle ?? null, options.retainGraph ?? null, options.createGraph ?? false);
  }

  // ---- element-wise arithmetic ----------------------------------------------------------------
  add(other: TensorOrNumber, alpha?: number): Tensor {
    return fromHandle(native.add(this.handle, h(other), alpha ?? null));
  }
  sub(other: TensorOrNumber, alpha?: number): Tensor {
    return fromHandle(native.sub(this.handle, h(other), alpha ?? null));
  }
  /** `value - this`. */
  rsub(value: number): Tensor {
    return fromHandle(native.rsub(this.handle, value));
  }
  mul(other: TensorOrNumber): Tensor {
    return fromHandle(native.mul(this.handle, h(other)));
  }
  div(other: TensorOrNumber): Tensor {
    return fromHandle(native.div(this.handle, h(other)));
  }
  remainder(other: TensorOrNumber): Tensor {
    return fromHandle(native.remainder(this.handle, h(other)));
  }
  pow(exponent: TensorOrNumber): Tensor {
    return fromHandle(native.pow(this.handle, h(exponent)));
  }
  maximum(other: Tensor): Tensor {
    return fromHandle(native.maximum(this.handle, other.handle));
  }
  minimum(other: Tensor): Tensor {
    return fromHandle(native.minimum(this.handle, other.handle));
  }
  /** Clamps into [min, max]; bounds are numbers, broadcastable tensors, or null for no bound. */
  clamp(min: TensorOrNumber | null, max: TensorOrNumber | null = null): Tensor {
    return fromHandle(native.clamp(this.handle, min === null ? null : h(min), max === null ? null : h(max)));
  }
  neg(): Tensor {
    return fromHandle(native.neg(this.handle));
  }
  abs(): Tensor {
    return fromHandle(native.abs(this.handle));
  }
  sign(): Tensor {
    return fromHandle(native.sign(this.handle));
  }
  sqrt(): Tensor {
    return fromHandle(native.sqrt(this.handle));
  }
  rsqrt(): Tensor {
    return fromHandle(native.rsqrt(this.handle));
  }
  exp(): Tensor {
    return fromHandle(native.exp(this.handle));
  }
  log(): Tensor {
    return fromHandle(native.log(this.handle));
  }
  log1p(): Tensor {
    return fromHandle(native.log1p(this.handle));
  }
  square(): Tensor {
    return fromHandle(native.square(this.handle));
  }
  reciprocal(): Tensor {
    return fromHandle(native.reciprocal(this.handle));
  }
  floor(): Tensor {
    return fromHandle(native.floor(this.handle));
  }
  ceil(): Tensor {
    return fromHandle(native.ceil(this.handle));
  }
  round(): Tensor {
    return fromHandle(native.round(this.handle));
  }
  sin(): Tensor {
    return fromHandle(native.sin(this.handle));
  }
  cos(): Tensor {
    return fromHandle(native.cos(this.handle));
  }
  erf(): Tensor {
    return fromHandle(native.erf(this.handle));
  }
  tan(): Tensor {
    return fromHandle(native.tan(this.handle));
  }
  asin(): Tensor {
    return fromHandle(native.asin(this.handle));
  }
  acos(): Tensor {
    return fromHandle(native.acos(this.handle));
  }
  atan(): Tensor {
    return fromHandle(native.atan(this.handle));
  }
  sinh(): Tensor {
    return fromHandle(native.sinh(this.handle));
  }
  cosh(): Tensor {
    return fromHandle(native.cosh(this.handle));
  }
  asinh(): Tensor {
    return fromHandle(native.asinh(this.handle));
  }
  acosh(): Tensor {
    return fromHandle(native.acosh(this.handle));
  }
  atanh(): Tensor {
    return fromHandle(native.atanh(this.handle));
  }
  /** Rounds toward zero. */
  trunc(): Tensor {
    return fromHandle(native.trunc(this.handle));
  }
  /** Remainder with the sign of the dividend (C's fmod); {@link remainder} has the divisor's sign. */
  fmod(other: TensorOrNumber): Tensor {
    return fromHandle(native.fmod(this.handle, h(other)));
  }
  /** Division rounded toward zero ('trunc', as C integer division) or down ('floor'). */
  divRounding(other: TensorOrNumber, mode: 'trunc' | 'floor'): Tensor {
    if (mode !== 'trunc' && mode !== 'floor') throw new TypeError(`divRounding: mode must be 'trunc' or 'floor', got '${String(mode)}'`);
    return fromHandle(native.divRounding(this.handle, h(other), mode));
  }
  relu(): Tensor {
    return fromHandle(native.relu(this.handle));
  }
  sigmoid(): Tensor {
    return fromHandle(native.sigmoid(this.handle));
  }
  tanh(): Tensor {
    return fromHandle(native.tanh(this.handle));
  }

  // ---- comparison and logic -----------------------------------------------------------------
  eq(other: TensorOrNumber): Tensor {
    return fromHandle(native.eq(this.handle, h(other)));
  }
  ne(other: TensorOrNumber): Tensor {
    return fromHandle(native.ne(this.handle, h(other)));
  }
  lt(other: TensorOrNumber): Tensor {
    return fromHandle(native.lt(this.handle, h(other)));
  }
  le(other: TensorOrNumber): Tensor {
    return fromHandle(native.le(this.handle, h(other)));
  }
  gt(other: TensorOrNumber): Tensor {
    return fromHandle(native.gt(this.handle, h(other)));
  }
  ge(other: TensorOrNumber): Tensor {
    return fromHandle(native.ge(this.handle, h(other)));
  }
  logicalAnd(other: Tensor): Tensor {
    return fromHandle(native.logicalAnd(this.handle, other.handle));
  }
  logicalOr(other: Tensor): Tensor {
    return fromHandle(native.logicalOr(this.handle, other.handle));
  }
  logicalXor(other: Tensor): Tensor {
    return fromHandle(native.logicalXor(this.handle, other.handle));
  }
  logicalNot(): Tensor {
    return fromHandle(native.logicalNot(this.handle));
  }
  isnan(): Tensor {
    return fromHandle(native.isnan(this.handle));
  }
  isfinite(): Tensor {
    return fromHandle(native.isfinite(this.handle));
  }
  /** True where the element is +Infinity or -Infinity. */
  isinf(): Tensor {
    return fromHandle(native.isinf(this.handle));
  }
  /** True if both have the same shape and elements. */
  equal(other: Tensor): boolean {
    return native.equal(this.handle, other.handle);
  }
  /** |this - other| <= atol + rtol * |other| everywhere. */
  allclose(other: Tensor, rtol = 1e-5, atol = 1e-8): boolean {
    return native.allclose(this.handle, other.handle, rtol, atol);
  }

  // ---- in place (return this) ---------------------------------------------------------------
  add_(other: TensorOrNumber, alpha?: number): this {
    native.add_(this.handle, h(other), alpha ?? null);
    return this;
  }
  sub_(other: TensorOrNumber, alpha?: number): this {
    native.sub_(this.handle, h(other), alpha ?? null);
    return this;
  }
  mul_(other: TensorOrNumber): this {
    native.mul_(this.handle, h(other));
    return this;
  }
  div_(other: TensorOrNumber): this {
    native.div_(this.handle, h(other));
    return this;
  }
  pow_(exponent: TensorOrNumber): this {
    native.pow_(this.handle, h(exponent));
    return this;
  }
  fill_(value: TensorOrNumber): this {
    native.fill_(this.handle, h(value));
    return this;
  }
  /** this += value * t1 * t2 */
  addcmul_(t1: Tensor, t2: Tensor, value = 1): this {
    native.addcmul_(this.handle, t1.handle, t2.handle, value);
    return this;
  }
  /** this += value * t1 / t2 */
  addcdiv_(t1: Tensor, t2: Tensor, value = 1): this {
    native.addcdiv_(this.handle, t1.handle, t2.handle, value);
    return this;
  }
  /** this += weight * (end - this) */
  lerp_(end: Tensor, weight: number): this {
    native.lerp_(this.handle, end.handle, weight);
    return this;
  }
  /** Copies `source` (broadcast, cast and moved as needed) into this tensor. */
  copy_(source: Tensor): this {
    native.copy_(this.handle, source.handle);
    return this;
  }
  zero_(): this {
    native.zero_(this.handle);
    return this;
  }
  clamp_(min: TensorOrNumber | null, max: TensorOrNumber | null = null): this {
    native.clamp_(this.handle, min === null ? null : h(min), max === null ? null : h(max));
    return this;
  }
  maskedFill_(mask: Tensor, value: TensorOrNumber): this {
    native.maskedFill_(this.handle, mask.handle, h(value));
    return this;
  }
  sqrt_(): this {
    native.sqrt_(this.handle);
    return this;
  }
  sign_(): this {
    native.sign_(this.handle);
    return this;
  }
  neg_(): this {
    native.neg_(this.handle);
    return this;
  }
  abs_(): this {
    native.abs_(this.handle);
    return this;
  }
  relu_(): this {
    native.relu_(this.handle);
    return this;
  }
  /** Fills with U(from, to) samples from the global generator. */
  uniform_(from = 0, to = 1): this {
    native.uniform_(this.handle, from, to);
    return this;
  }
  /** Fills with N(mean, std^2) samples from the global generator. */
  normal_(mean = 0, std = 1): this {
    native.normal_(this.handle, mean, std);
    return this;
  }
  /** this[index] = source along `dim` (index: int64). */
  indexCopy_(dim: number, index: Tensor, source: Tensor): this {
    native.indexCopy_(this.handle, dim, index.handle, source.handle);
    return this;
  }

  // ---- reductions ---------------------------------------------------------------------------
  /** Sum over `dims` (all when omitted). */
  sum(dims?: number | readonly number[] | null, options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    return fromHandle(native.sum(this.handle, dimsArg(dims), options.keepdim ?? false, options.dtype ?? null));
  }
  /** Mean over `dims` (all when omitted). */
  mean(dims?: number | readonly number[] | null, options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    return fromHandle(native.mean(this.handle, dimsArg(dims), options.keepdim ?? false, options.dtype ?? null));
  }
  amax(dims?: number | readonly number[] | null, keepdim = false): Tensor {
    return fromHandle(native.amax(this.handle, dimsArg(dims), keepdim));
  }
  amin(dims?: number | readonly number[] | null, keepdim = false): Tensor {
    return fromHandle(native.amin(this.handle, dimsArg(dims), keepdim));
  }
  /** Index of the maximum (over all elements when dim is omitted). */
  argmax(dim?: number | null, keepdim = false): Tensor {
    return fromHandle(native.argmax(this.handle, dim ?? null, keepdim));
  }
  argmin(dim?: number | null, keepdim = false): Tensor {
    return fromHandle(native.argmin(this.handle, dim ?? null, keepdim));
  }
  /** Maximum and its index along `dim`. */
  maxAlong(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.maxDim(this.handle, dim, keepdim);
    return { values: fromHandle(v), indices: fromHandle(i) };
  }
  minAlong(dim: number, keepdim = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.minDim(this.handle, dim, keepdim);
    return { values: fromHandle(v), indices: fromHandle(i) };
  }
  /** Product along `dim` (of every element when dim is omitted or null). */
  prod(dim?: number | null, options: { keepdim?: boolean; dtype?: DType } = {}): Tensor {
    return fromHandle(native.prod(this.handle, dim ?? null, options.keepdim ?? false, options.dtype ?? null));
  }
  /** Maximum over all elements (0-d tensor). */
  max(): Tensor {
    return fromHandle(native.maxAll(this.handle));
  }
  /** Minimum over all elements (0-d tensor). */
  min(): Tensor {
    return fromHandle(native.minAll(this.handle));
  }
  any(): boolean {
    const r = native.any(this.handle);
    try {
      return Boolean(native.item(r));
    } finally {
      native.dispose(r);
    }
  }
  all(): boolean {
    const r = native.all(this.handle);
    try {
      return Boolean(native.item(r));
    } finally {
      native.dispose(r);
    }
  }
  /** Vector p-norm over `dims` (all when omitted); p may be Infinity. */
  norm(p = 2, dims?: number | readonly number[] | null, keepdim = false): Tensor {
    return fromHandle(native.norm(this.handle, p, dimsArg(dims), keepdim));
  }
  /** Standard deviation with Bessel's correction by default (correction=1). */
  std(dims?: number | readonly number[] | null, options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return fromHandle(native.std(this.handle, dimsArg(dims), options.correction ?? 1, options.keepdim ?? false));
  }
  var(dims?: number | readonly number[] | null, options: { correction?: number; keepdim?: boolean } = {}): Tensor {
    return fromHandle(native.var(this.handle, dimsArg(dims), options.correction ?? 1, options.keepdim ?? false));
  }
  logsumexp(dims: number | readonly number[], keepdim = false): Tensor {
    return fromHandle(native.logsumexp(this.handle, dimsArg(dims) ?? [], keepdim));
  }
  cumsum(dim: number): Tensor {
    return fromHandle(native.cumsum(this.handle, dim));
  }
  topk(k: number, dim = -1, largest = true, sorted = true): { values: Tensor; indices: Tensor } {
    const [v, i] = native.topk(this.handle, k, dim, largest, sorted);
    return { values: fromHandle(v), indices: fromHandle(i) };
  }
  sort(dim = -1, descending = false): { values: Tensor; indices: Tensor } {
    const [v, i] = native.sort(this.handle, dim, descending);
    return { values: fromHandle(v), indices: fromHandle(i) };
  }
  softmax(dim: number): Tensor {
    return fromHandle(native.softmax(this.handle, dim));
  }
  logSoftmax(dim: number): Tensor {
    return fromHandle(native.logSoftmax(this.handle, dim));
  }

  // ---- indexing -----------------------------------------------------------------------------
  gather(dim: number, index: Tensor): Tensor {
    return fromHandle(native.gather(this.handle, dim, index.handle));
  }
  scatter(dim: number, index: Tensor, source: TensorOrNumber): Tensor {
    return fromHandle(native.scatter(this.handle, dim, index.handle, h(source)));
  }
  scatterAdd(dim: number, index: Tensor, source: Tensor): Tensor {
    return fromHandle(native.scatterAdd(this.handle, dim, index.handle, source.handle));
  }
  /** One-hot encoding of an int64 tensor of class indices (int64 result). */
  oneHot(numClasses: number): Tensor {
    return fromHandle(native.oneHot(this.handle, numClasses));
  }
  indexSelect(dim: number, index: Tensor): Tensor {
    return fromHandle(native.indexSelect(this.handle, dim, index.handle));
  }
  maskedFill(mask: Tensor, value: TensorOrNumber): Tensor {
    return fromHandle(native.maskedFill(this.handle, mask.handle, h(value)));
  }
  maskedSelect(mask: Tensor): Tensor {
    return fromHandle(native.maskedSelect(this.handle, mask.handle));
  }
  /** Indices of non-zero elements, shape [count, ndim]. */
  nonzero(): Tensor {
    return fromHandle(native.nonzero(this.handle));
  }
  /** The sub-tensor at `index` along `dim` (that dimension removed). */
  select(dim: number, index: number): Tensor {
    return fromHandle(native.select(this.handle, dim, index));
  }
  /** Python-style slice `start:end:step` along `dim` (a view). */
  slice(dim: number, start?: number | null, end?: number | null, step = 1): Tensor {
    return fromHandle(native.slice(this.handle, dim, start ?? null, end ?? null, step));
  }
  /** `length` elements from `start` along `dim` (a view). */
  narrow(dim: number, start: number, length: number): Tensor {
    return fromHandle(native.narrow(this.handle, dim, start, length));
  }

  // ---- shape --------------------------------------------------------------------------------
  reshape(...shape: number[] | [readonly number[]]): Tensor {
    return fromHandle(native.reshape(this.handle, shapeArg(shape)));
  }
  view(...shape: number[] | [readonly number[]]): Tensor {
    return fromHandle(native.view(this.handle, shapeArg(shape)));
  }
  permute(...dims: number[] | [readonly number[]]): Tensor {
    return fromHandle(native.permute(this.handle, shapeArg(dims)));
  }
  transpose(dim0: number, dim1: number): Tensor {
    return fromHandle(native.transpose(this.handle, dim0, dim1));
  }
  /** Transpose of a 2-D tensor. */
  t(): Tensor {
    return this.transpose(0, 1);
  }
  flatten(startDim = 0, endDim = -1): Tensor {
    return fromHandle(native.flatten(this.handle, startDim, endDim));
  }
  squeeze(dim?: number): Tensor {
    return fromHandle(native.squeeze(this.handle, dim ?? null));
  }
  unsqueeze(dim: number): Tensor {
    return fromHandle(native.unsqueeze(this.handle, dim));
  }
  expand(...shape: number[] | [readonly number[]]): Tensor {
    return fromHandle(native.expand(this.handle, shapeArg(shape)));
  }
  expandAs(other: Tensor): Tensor {
    return this.expand(other.shape);
  }
  repeat(...counts: number[] | [readonly number[]]): Tensor {
    return fromHandle(native.repeat(this.handle, shapeArg(counts)));
  }
  chunk(chunks: number, dim = 0): Tensor[] {
    return native.chunk(this.handle, chunks, dim).map(fromHandle);
  }
  /** Splits into pieces of `size` (or of the given sizes) along `dim`. */
  split(sizeOrSizes: number | readonly number[], dim = 0): Tensor[] {
    return native.split(this.handle, sizeOrSizes, dim).map(fromHandle);
  }
  flip(dims: number | readonly number[]): Tensor {
    return fromHandle(native.flip(this.handle, typeof dims === 'number' ? [dims] : dims));
  }
  roll(shifts: number | readonly number[], dims: number | readonly number[]): Tensor {
    return fromHandle(
      native.roll(this.handle, typeof shifts === 'number' ? [shifts] : shifts, typeof dims === 'number' ? [dims] : dims),
    );
  }

  // ---- linear algebra -----------------------------------------------------------------------
  matmul(other: Tensor): Tensor {
    return fromHandle(native.matmul(this.handle, other.handle));
  }
  mm(other: Tensor): Tensor {
    return fromHandle(native.mm(this.handle, other.handle));
  }
  bmm(other: Tensor): Tensor {
    return fromHandle(native.bmm(this.handle, other.handle));
  }
}

function dimsArg(dims: number | readonly number[] | null | undefined): readonly number[] | null {
  if (dims === undefined || dims === null) return null;
  return typeof dims === 'number' ? [dims] : dims;
}

function shapeArg(args: number[] | [readonly number[]]): readonly number[] {
  const first = args[0];
  return Array.isArray(first) ? (first as readonly number[]) : (args as number[]);
}
