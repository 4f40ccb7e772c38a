/**
 * Automatic mixed precision regions (torch.autocast): inside `autocast('bfloat16', fn)`,
 * libtorch runs convolutions, linear layers and matrix products in the lower precision and keeps
 * losses, softmax and normalisation in float32; parameters and their gradients stay float32, and
 * gradients flow back through the casts to float32 inputs. The switch is thread-local, as grad
 * mode is. Float32 weights are cast once per outermost region (libtorch's autocast cache), so a
 * region around a whole iterative attack casts the model once, not once per step.
 *
 * On CPUs with AVX512-BF16 (AMD Zen 4/5, Intel Sapphire Rapids), oneDNN's bfloat16 convolutions
 * are several times faster than float32 ones; bfloat16 keeps float32's range with an 8-bit
 * mantissa, enough for the sign of an attack gradient (see src/defenses/adversarial-training.ts
 * for where Bastion uses it). CUDA builds take 'float16' or 'bfloat16' on device 'cuda'.
 */
import { native } from './native.js';
import { isThenable } from './scope.js';
import type { DType } from './tensor.js';

/** The precisions an autocast region can run in. */
export type AutocastDType = Extract<DType, 'bfloat16' | 'float16'>;

/** Device types with an autocast switch. */
export type AutocastDevice = 'cpu' | 'cuda';

/** Runs `fn` with automatic mixed precision in `dtype` on `device` (default 'cpu'); nests, and restores the previous state on exit. */
export function autocast<T>(dtype: AutocastDType, fn: () => T, device: AutocastDevice = 'cpu'): T {
  return withAutocast(true, dtype, device, fn);
}

/** Runs `fn` in full precision, even inside an {@link autocast} region (torch.autocast(enabled=False)). */
export function fullPrecision<T>(fn: () => T, device: AutocastDevice = 'cpu'): T {
  return withAutocast(false, device === 'cpu' ? 'bfloat16' : 'float16', device, fn);
}

/** Whether an autocast region is active on `device`, and its precision. */
export function autocastState(device: AutocastDevice = 'cpu'): { enabled: boolean; dtype: DType } {
  const [enabled, dtype] = native.setAutocast(device, false, 'bfloat16');
  native.setAutocast(device, enabled, dtype);
  return { enabled, dtype };
}

function withAutocast<T>(enabled: boolean, dtype: AutocastDType, device: AutocastDevice, fn: () => T): T {
  if (dtype !== 'bfloat16' && dtype !== 'float16') throw new TypeError(`autocast: dtype must be 'bfloat16' or 'float16', got '${String(dtype)}'`);
  if (device === 'cpu' && dtype === 'float16') throw new TypeError("autocast: libtorch's CPU autocast runs in 'bfloat16' only");
  const [wasEnabled, previousDType] = native.setAutocast(device, enabled, dtype);
  native.autocastNesting(1);
  try {
    const result = fn();
    if (isThenable(result)) {
      throw new TypeError('autocast() callbacks must be synchronous (the switch is per call, not per promise)');
    }
    return result;
  } finally {
    native.autocastNesting(-1);
    native.setAutocast(device, wasEnabled, previousDType);
  }
}
