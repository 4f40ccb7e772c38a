/**
 * Runtime facts and settings of the engine: threads, seeds, versions, CUDA.
 * The thread count starts at every core (see native.ts).
 */
import { native } from './native.js';
import { fromHandle, type Tensor } from './tensor.js';

/** Sets the number of threads libtorch uses for intra-op parallelism. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`setNumThreads: expected a positive integer, got ${n}`);
  native.setNumThreads(n);
}

/** The number of threads libtorch uses for intra-op parallelism. */
export function getNumThreads(): number {
  return native.getNumThreads();
}

/** Seeds libtorch's global generators (CPU and every CUDA device). */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`manualSeed: expected a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}

/** The CPU generator's state (uint8 tensor), to save with a checkpoint. */
export function getRngState(): Tensor {
  return fromHandle(native.getRngState());
}

/** Restores a state returned by {@link getRngState}. */
export function setRngState(state: Tensor): void {
  native.setRngState(state.handle);
}

/** Version of the linked libtorch, e.g. "1.13.0". */
export function torchVersion(): string {
  return native.version();
}

/** Whether the linked libtorch has CUDA and sees at least one GPU. */
export function cudaAvailable(): boolean {
  return native.cudaAvailable();
}

/** Number of visible CUDA devices (0 without CUDA). */
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}

/**
 * Whether this CPU computes bfloat16 in hardware (AVX512-BF16: AMD Zen 4/5, Intel Cooper Lake and
 * Sapphire Rapids on). Elsewhere bfloat16 autocast still works but is emulated and far slower than
 * float32 (~20x on AMD Zen 3), so 'auto' precisions (src/defenses/adversarial-training.ts) pick
 * float32 there.
 */
export function cpuHasNativeBFloat16(): boolean {
  return native.cpuBFloat16Native();
}

/** libtorch's description of its build (BLAS, oneDNN, CPU capability), its thread settings and whether the CPU has bfloat16 arithmetic. */
export function engineInfo(): { torch: string; threads: number; cuda: boolean; mkldnn: boolean; bfloat16: boolean; parallel: string; build: string } {
  return {
    torch: native.version(),
    threads: native.getNumThreads(),
    cuda: native.cudaAvailable(),
    mkldnn: native.mkldnnAvailable(),
    bfloat16: native.cpuBFloat16Native(),
    parallel: native.parallelInfo(),
    build: native.buildConfig(),
  };
}

/** Asks libtorch for deterministic algorithms where it has a choice (matters on CUDA). */
export function setDeterministic(flag: boolean): void {
  native.setDeterministic(flag);
}

/** Native memory of the engine: live tensor handles and the caching CPU allocator's counters. */
export interface EngineMemory {
  /** Tensor handles alive in the addon's table (should equal tensorStats().live). */
  liveHandles: number;
  /** Whether the caching CPU allocator is active (BASTION_CPU_CACHE_MB=0 turns it off). */
  caching: boolean;
  /** Bytes of tensor storage in use, cached for reuse, peak in use, and the cache limit. */
  inUse?: number;
  cached?: number;
  peakInUse?: number;
  cacheLimit?: number;
}

/** Current native memory figures (see {@link EngineMemory}). */
export function engineMemory(): EngineMemory {
  const s = native.cpuMemoryStats();
  return {
    liveHandles: native.liveHandles(),
    caching: s.caching,
    ...(s.caching ? { inUse: s.inUse, cached: s.cached, peakInUse: s.peakInUse, cacheLimit: s.limit } : {}),
  };
}

/** Returns every cached tensor block to the system (e.g. between phases of a long run). */
export function emptyCache(): void {
  native.emptyCache();
}
