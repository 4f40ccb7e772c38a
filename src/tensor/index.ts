/**
 * Bastion's tensor engine: libtorch tensors from TypeScript with deterministic lifetime.
 * Data flows down: src/nn and everything above build on this module only.
 */
export { Tensor, tensorStats, type DType, type DeviceName, type TensorOrNumber, type BackwardOptions } from './tensor.js';
export { scope, scopeDepth } from './scope.js';
export {
  tensor, scalar, zeros, ones, empty, full, arange, linspace, eye, rand, randn, randint, randperm,
  zerosLike, onesLike, fullLike, randLike, randnLike, bernoulli, checkDType, checkShape, type CreateOptions,
} from './creation.js';
export { cat, stack, where, maximum, minimum, matmul } from './ops.js';
export { grad, gradOrNull, noGrad, enableGrad, isGradEnabled, type GradOptions } from './autograd.js';
export {
  setNumThreads, getNumThreads, manualSeed, getRngState, setRngState, torchVersion, cudaAvailable,
  cudaDeviceCount, engineInfo, cpuHasNativeBFloat16, setDeterministic, engineMemory, emptyCache, type EngineMemory,
} from './runtime.js';
export { autocast, fullPrecision, autocastState, type AutocastDType, type AutocastDevice } from './autocast.js';
export { TensorOpError } from './native.js';
export type { Batch, BatchSource } from './batch.js';
