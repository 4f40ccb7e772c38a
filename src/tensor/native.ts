/**
 * Loads the native addon (native/, C++ over libtorch) and gives it a typed face.
 *
 * Every native function is wrapped once at load time so that a libtorch exception becomes a
 * {@link TensorOpError} that names the op and describes the tensors it was given (shape, dtype,
 * device). Argument checking with friendlier, domain-specific messages is done by the callers in
 * src/tensor and src/nn; this module only loads and translates.
 */
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * An opaque reference to a libtorch tensor owned by the addon: a BigInt naming a slot of the
 * addon's per-thread handle table (so creating one allocates nothing the GC must finalise).
 */
export type NativeHandle = bigint & { readonly __nativeTensor: unique symbol };
type H = NativeHandle;
/** An opaque reference to a loaded TorchScript module (a tagged napi External; see native/src/jit.cc). */
export type JitModuleHandle = object & { readonly __jitModule: unique symbol };
type Opt<T> = T | null | undefined;
type ScalarArg = number | boolean;
type TensorOrScalar = H | ScalarArg;
type Reduction = 'mean' | 'sum' | 'none';

/** The functions exported by native/src/*.cc, one-to-one with ATen and autograd calls. */
export interface NativeAddon {
  // creation.cc
  fromBuffer(data: ArrayBufferView, shape: readonly number[], dtype: string): H;
  toBuffer(t: H): Float32Array | Float64Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;
  zeros(shape: readonly number[], dtype: Opt<string>, device: Opt<string>): H;
  ones(shape: readonly number[], dtype: Opt<string>, device: Opt<string>): H;
  empty(shape: readonly number[], dtype: Opt<string>, device: Opt<string>): H;
  full(shape: readonly number[], value: ScalarArg, dtype: Opt<string>, device: Opt<string>): H;
  arange(start: number, end: number, step: number, dtype: Opt<string>, device: Opt<string>): H;
  linspace(start: number, end: number, steps: number, dtype: Opt<string>, device: Opt<string>): H;
  eye(n: number, dtype: Opt<string>, device: Opt<string>): H;
  rand(shape: readonly number[], dtype: Opt<string>, device: Opt<string>): H;
  randn(shape: readonly number[], dtype: Opt<string>, device: Opt<string>): H;
  randint(low: number, high: number, shape: readonly number[], dtype: Opt<string>, device: Opt<string>): H;
  randperm(n: number, dtype: Opt<string>, device: Opt<string>): H;
  zerosLike(t: H): H;
  onesLike(t: H): H;
  fullLike(t: H, value: ScalarArg): H;
  emptyLike(t: H, format: Opt<'channels_last' | 'contiguous'>): H;
  randLike(t: H): H;
  randnLike(t: H): H;
  uniform_(t: H, from: number, to: number): void;
  normal_(t: H, mean: number, std: number): void;
  bernoulli(p: H): H;
  toDType(t: H, dtype: string): H;
  toDevice(t: H, device: string): H;
  clone(t: H): H;
  detach(t: H): H;
  contiguous(t: H, format: Opt<'channels_last' | 'contiguous'>): H;
  item(t: H): number | boolean;
  shape(t: H): number[];
  dtype(t: H): string;
  numel(t: H): number;
  device(t: H): string;
  isContiguous(t: H): boolean;
  dispose(t: H): void;
  manualSeed(seed: number): void;
  getRngState(): H;
  setRngState(state: H): void;
  // math.cc
  add(a: H, b: TensorOrScalar, alpha: Opt<number>): H;
  sub(a: H, b: TensorOrScalar, alpha: Opt<number>): H;
  mul(a: H, b: TensorOrScalar): H;
  div(a: H, b: TensorOrScalar): H;
  remainder(a: H, b: TensorOrScalar): H;
  pow(a: H, b: TensorOrScalar): H;
  rsub(a: H, b: ScalarArg): H;
  eq(a: H, b: TensorOrScalar): H;
  ne(a: H, b: TensorOrScalar): H;
  lt(a: H, b: TensorOrScalar): H;
  le(a: H, b: TensorOrScalar): H;
  gt(a: H, b: TensorOrScalar): H;
  ge(a: H, b: TensorOrScalar): H;
  maximum(a: H, b: H): H;
  minimum(a: H, b: H): H;
  logicalAnd(a: H, b: H): H;
  logicalOr(a: H, b: H): H;
  logicalXor(a: H, b: H): H;
  matmul(a: H, b: H): H;
  mm(a: H, b: H): H;
  bmm(a: H, b: H): H;
  neg(a: H): H;
  abs(a: H): H;
  sign(a: H): H;
  sqrt(a: H): H;
  rsqrt(a: H): H;
  exp(a: H): H;
  log(a: H): H;
  log1p(a: H): H;
  square(a: H): H;
  reciprocal(a: H): H;
  floor(a: H): H;
  ceil(a: H): H;
  round(a: H): H;
  sin(a: H): H;
  cos(a: H): H;
  erf(a: H): H;
  logicalNot(a: H): H;
  isnan(a: H): H;
  isfinite(a: H): H;
  isinf(a: H): H;
  tan(a: H): H;
  asin(a: H): H;
  acos(a: H): H;
  atan(a: H): H;
  sinh(a: H): H;
  cosh(a: H): H;
  asinh(a: H): H;
  acosh(a: H): H;
  atanh(a: H): H;
  trunc(a: H): H;
  bitwiseNot(a: H): H;
  fmod(a: H, b: TensorOrScalar): H;
  bitwiseAnd(a: H, b: H): H;
  bitwiseOr(a: H, b: H): H;
  bitwiseXor(a: H, b: H): H;
  bitwiseLeftShift(a: H, b: H): H;
  bitwiseRightShift(a: H, b: H): H;
  divRounding(a: H, b: TensorOrScalar, mode: 'trunc' | 'floor'): H;
  prod(a: H, dim: Opt<number>, keepdim: boolean, dtype: Opt<string>): H;
  einsum(equation: string, operands: H[]): H;
  det(a: H): H;
  add_(a: H, b: TensorOrScalar, alpha: Opt<number>): void;
  sub_(a: H, b: TensorOrScalar, alpha: Opt<number>): void;
  mul_(a: H, b: TensorOrScalar): void;
  div_(a: H, b: TensorOrScalar): void;
  pow_(a: H, b: TensorOrScalar): void;
  fill_(a: H, value: TensorOrScalar): void;
  addcmul_(a: H, t1: H, t2: H, value: Opt<number>): void;
  addcdiv_(a: H, t1: H, t2: H, value: Opt<number>): void;
  lerp_(a: H, end: H, weight: number): void;
  copy_(a: H, src: H): void;
  zero_(a: H): void;
  maskedFill_(a: H, mask: H, value: TensorOrScalar): void;
  sqrt_(a: H): void;
  sign_(a: H): void;
  neg_(a: H): void;
  abs_(a: H): void;
  relu_(a: H): void;
  clamp(a: H, min: Opt<TensorOrScalar>, max: Opt<TensorOrScalar>): H;
  clamp_(a: H, min: Opt<TensorOrScalar>, max: Opt<TensorOrScalar>): void;
  where(cond: H, a: TensorOrScalar, b: TensorOrScalar): H;
  sum(a: H, dims: Opt<readonly number[]>, keepdim: boolean, dtype: Opt<string>): H;
  mean(a: H, dims: Opt<readonly number[]>, keepdim: boolean, dtype: Opt<string>): H;
  amax(a: H, dims: Opt<readonly number[]>, keepdim: boolean): H;
  amin(a: H, dims: Opt<readonly number[]>, keepdim: boolean): H;
  argmax(a: H, dim: Opt<number>, keepdim: boolean): H;
  argmin(a: H, dim: Opt<number>, keepdim: boolean): H;
  maxDim(a: H, dim: number, keepdim: boolean): [H, H];
  minDim(a: H, dim: number, keepdim: boolean): [H, H];
  maxAll(a: H): H;
  minAll(a: H): H;
  any(a: H): H;
  all(a: H): H;
  norm(a: H, p: number, dims: Opt<readonly number[]>, keepdim: boolean): H;
  std(a: H, dims: Opt<readonly number[]>, correction: number, keepdim: boolean): H;
  var(a: H, dims: Opt<readonly number[]>, correction: number, keepdim: boolean): H;
  logsumexp(a: H, dims: readonly number[], keepdim: boolean): H;
  cumsum(a: H, dim: number): H;
  topk(a: H, k: number, dim: number, largest: boolean, sorted: boolean): [H, H];
  sort(a: H, dim: number, descending: boolean): [H, H];
  sortStable(a: H, dim: number, descending: boolean): [H, H];
  softmax(a: H, dim: number): H;
  logSoftmax(a: H, dim: number): H;
  gather(a: H, dim: number, index: H): H;
  scatter(a: H, dim: number, index: H, src: TensorOrScalar): H;
  scatterAdd(a: H, dim: number, index: H, src: H): H;
  oneHot(a: H, numClasses: number): H;
  indexSelect(a: H, dim: number, index: H): H;
  maskedFill(a: H, mask: H, value: TensorOrScalar): H;
  maskedSelect(a: H, mask: H): H;
  nonzero(a: H): H;
  indexCopy_(a: H, dim: number, index: H, source: H): void;
  equal(a: H, b: H): boolean;
  allclose(a: H, b: H, rtol: number, atol: number): boolean;
  // shape.cc
  cat(list: H[], dim: number): H;
  stack(list: H[], dim: number): H;
  reshape(a: H, shape: readonly number[]): H;
  view(a: H, shape: readonly number[]): H;
  permute(a: H, dims: readonly number[]): H;
  transpose(a: H, d0: number, d1: number): H;
  flatten(a: H, start: number, end: number): H;
  squeeze(a: H, dim: Opt<number>): H;
  unsqueeze(a: H, dim: number): H;
  expand(a: H, shape: readonly number[]): H;
  repeat(a: H, counts: readonly number[]): H;
  narrow(a: H, dim: number, start: number, length: number): H;
  slice(a: H, dim: number, start: Opt<number>, end: Opt<number>, step: Opt<number>): H;
  select(a: H, dim: number, index: number): H;
  chunk(a: H, chunks: number, dim: number): H[];
  split(a: H, sizeOrSizes: number | readonly number[], dim: number): H[];
  flip(a: H, dims: readonly number[]): H;
  roll(a: H, shifts: readonly number[], dims: readonly number[]): H;
  // nn.cc
  conv2d(x: H, w: H, b: Opt<H>, stride: readonly number[], padding: readonly number[], dilation: readonly number[], groups: number): H;
  convTranspose2d(x: H, w: H, b: Opt<H>, stride: readonly number[], padding: readonly number[], outputPadding: readonly number[], groups: number, dilation: readonly number[]): H;
  linear(x: H, w: H, b: Opt<H>): H;
  maxPool2d(x: H, kernel: readonly number[], stride: readonly number[], padding: readonly number[], dilation: readonly number[], ceilMode: boolean): H;
  maxPool2dWithIndices(x: H, kernel: readonly number[], stride: readonly number[], padding: readonly number[], dilation: readonly number[], ceilMode: boolean): [H, H];
  avgPool2d(x: H, kernel: readonly number[], stride: readonly number[], padding: readonly number[], ceilMode: boolean, countIncludePad: boolean): H;
  adaptiveAvgPool2d(x: H, outputSize: readonly number[]): H;
  batchNorm(x: H, weight: Opt<H>, bias: Opt<H>, runningMean: Opt<H>, runningVar: Opt<H>, training: boolean, momentum: number, eps: number): H;
  layerNorm(x: H, normalizedShape: readonly number[], weight: Opt<H>, bias: Opt<H>, eps: number): H;
  groupNorm(x: H, groups: number, weight: Opt<H>, bias: Opt<H>, eps: number): H;
  dropout(x: H, p: number, training: boolean): H;
  relu(x: H): H;
  sigmoid(x: H): H;
  tanh(x: H): H;
  logSigmoid(x: H): H;
  softplus(x: H, beta: number, threshold: number): H;
  gelu(x: H, approximate: Opt<'none' | 'tanh'>): H;
  leakyRelu(x: H, slope: number): H;
  elu(x: H, alpha: number, scale: number, inputScale: number): H;
  celu(x: H, alpha: number): H;
  mish(x: H): H;
  hardswish(x: H): H;
  upsampleNearest2d(x: H, size: readonly number[]): H;
  upsampleBilinear2d(x: H, size: readonly number[], alignCorners: boolean): H;
  pad(x: H, pads: readonly number[], mode: string, value: Opt<number>): H;
  crossEntropy(logits: H, target: H, weight: Opt<H>, reduction: Reduction, ignoreIndex: Opt<number>, labelSmoothing: Opt<number>): H;
  nllLoss(logProbs: H, target: H, weight: Opt<H>, reduction: Reduction, ignoreIndex: Opt<number>): H;
  mseLoss(a: H, b: H, reduction: Reduction): H;
  l1Loss(a: H, b: H, reduction: Reduction): H;
  smoothL1Loss(a: H, b: H, reduction: Reduction, beta: number): H;
  klDiv(logInput: H, target: H, reduction: Reduction, logTarget: boolean): H;
  binaryCrossEntropy(p: H, target: H, weight: Opt<H>, reduction: Reduction): H;
  binaryCrossEntropyWithLogits(logits: H, target: H, weight: Opt<H>, reduction: Reduction): H;
  // autograd.cc
  requiresGrad(t: H): boolean;
  setRequiresGrad(t: H, flag: boolean): void;
  isLeaf(t: H): boolean;
  gradFn(t: H): string | null;
  grad(t: H): H | null;
  setGrad(t: H, g: Opt<H>): void;
  retainGrad(t: H): void;
  backward(t: H, gradient: Opt<H>, retainGraph: Opt<boolean>, createGraph: boolean): void;
  autogradGrad(outputs: H[], inputs: H[], gradOutputs: Opt<H[]>, retainGraph: Opt<boolean>, createGraph: boolean, allowUnused: boolean): (H | null)[];
  setGradEnabled(flag: boolean): boolean;
  isGradEnabled(): boolean;
  // runtime.cc
  setNumThreads(n: number): void;
  getNumThreads(): number;
  version(): string;
  cudaAvailable(): boolean;
  cudaDeviceCount(): number;
  mkldnnAvailable(): boolean;
  cpuBFloat16Native(): boolean;
  parallelInfo(): string;
  buildConfig(): string;
  setDeterministic(flag: boolean): void;
  cpuMemoryStats(): { caching: boolean; inUse?: number; cached?: number; peakInUse?: number; limit?: number };
  emptyCache(): void;
  setAutocast(device: string, enabled: boolean, dtype: string): [boolean, 'float32' | 'float64' | 'float16' | 'bfloat16'];
  autocastNesting(delta: number): number;
  liveHandles(): number;
  mallocStats(): { inUse: number; freeHeld: number; mmapped: number; arena: number } | null;
  // jit.cc
  jitLoad(path: string, device: Opt<string>): JitModuleHandle;
  jitDispose(module: JitModuleHandle): void;
  jitForward(module: JitModuleHandle, input: H, outputIndex: Opt<number>, outputKey: Opt<string>): H;
  jitNamedParameters(module: JitModuleHandle): [string, H][];
  jitNamedBuffers(module: JitModuleHandle): [string, H][];
  jitTrain(module: JitModuleHandle, flag: boolean): void;
  jitIsTraining(module: JitModuleHandle): boolean;
  jitMethods(module: JitModuleHandle): string[];
  jitOpCounts(module: JitModuleHandle): Record<string, number>;
}

/** An error raised by a tensor op; the message names the op and describes its tensor arguments. */
export class TensorOpError extends Error {
  constructor(readonly op: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TensorOpError';
  }
}

/** The root folder of the Bastion package (the one holding package.json and native/). */
export const packageRoot: string = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

function findPackageRoot(start: string): string {
  let dir = start;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) {
      try {
        if ((JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'bastion') return dir;
      } catch {
        // keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find Bastion's package.json above ${start}`);
    dir = parent;
  }
}

/**
 * OpenMP threads of libtorch wait for work passively (sleep) unless the user chose a policy.
 * libgomp's default is to spin before sleeping; when other processes share the cores, spinning
 * threads stall every parallel region (measured on 2 shared cores, simple-CNN training: 184
 * images/s spinning, 1,120 passive). libgomp reads this when it loads, i.e. with the addon.
 */
function defaultOpenMpWaitPolicy(): void {
  if (process.env['OMP_WAIT_POLICY'] === undefined && process.env['GOMP_SPINCOUNT'] === undefined) {
    process.env['OMP_WAIT_POLICY'] = 'PASSIVE';
  }
}

function loadAddon(): NativeAddon {
  defaultOpenMpWaitPolicy();
  const path = process.env['BASTION_NATIVE'] ?? join(packageRoot, 'native', 'build', 'Release', 'bastion_native.node');
  if (!existsSync(path)) {
    throw new Error(
      `Bastion's native addon is not built (${path} is missing). Run \`npm run build:native\`; ` +
        'it needs libtorch (`sudo apt-get install libtorch-dev`, or LIBTORCH=/path/to/libtorch).',
    );
  }
  try {
    return createRequire(import.meta.url)(path) as NativeAddon;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(
      `cannot load Bastion's native addon ${path}: ${reason}. If a libtorch library is missing, install ` +
        '`libtorch-dev` (Debian) or put your LIBTORCH/lib folder on LD_LIBRARY_PATH, then rebuild with `npm run build:native`.',
      { cause: error },
    );
  }
}

/** Describes native arguments for error messages: tensors as `[2,3] float32 cpu`, others as JSON. */
function describeArgs(raw: NativeAddon, args: readonly unknown[]): string {
  const parts: string[] = [];
  for (const arg of args) {
    if (arg === undefined) continue;
    parts.push(describeValue(raw, arg));
  }
  return parts.join(', ');
}

function describeValue(raw: NativeAddon, value: unknown): string {
  if (typeof value === 'bigint') {
    try {
      const h = value as H;
      return `tensor[${raw.shape(h).join(',')}] ${raw.dtype(h)}${raw.device(h) === 'cpu' ? '' : ' ' + raw.device(h)}`;
    } catch {
      return 'disposed tensor';
    }
  }
  if (Array.isArray(value) && value.length > 0 && typeof value[0] === 'bigint') {
    return `[${value.map((v) => describeValue(raw, v)).join(', ')}]`;
  }
  if (ArrayBuffer.isView(value)) return `${value.constructor.name}(${(value as Uint8Array).length})`;
  return JSON.stringify(value) ?? String(value);
}

function firstLine(message: string): string {
  const line = message.split('\n').find((l) => l.trim() !== '') ?? message;
  return line.replace(/^\s*(Exception raised from .*)$/, '').trim();
}

function wrapAll(raw: NativeAddon): NativeAddon {
  const wrapped: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(raw)) {
    if (typeof fn !== 'function') continue;
    const f = fn as (...a: unknown[]) => unknown;
    wrapped[name] = function nativeOp(a?: unknown, b?: unknown, c?: unknown, d?: unknown, e?: unknown, g?: unknown, h?: unknown, i?: unknown): unknown {
      try {
        return f(a, b, c, d, e, g, h, i);
      } catch (error) {
        const reason = error instanceof Error ? firstLine(error.message) : String(error);
        const described = describeArgs(raw, [a, b, c, d, e, g, h, i]);
        throw new TensorOpError(name, `${name}(${described}): ${reason}`, { cause: error });
      }
    };
  }
  return wrapped as unknown as NativeAddon;
}

/** The raw addon, for the rare caller that must avoid the error-translation wrapper. */
export const rawNative: NativeAddon = loadAddon();
/** The addon with every function translating libtorch errors into {@link TensorOpError}. */
export const native: NativeAddon = wrapAll(rawNative);

/**
 * Threads for libtorch's intra-op parallelism: `BASTION_THREADS` when set, else every core.
 * (Debian's libtorch starts with one thread otherwise.)
 */
function initialThreads(): number {
  const fromEnv = process.env['BASTION_THREADS'];
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (Number.isInteger(n) && n >= 1) return n;
    throw new RangeError(`BASTION_THREADS must be a positive integer, got '${fromEnv}'`);
  }
  return availableParallelism();
}

rawNative.setNumThreads(initialThreads());
