/**
 * Free-function tensor ops that take several tensors at once (the single-tensor ops are methods
 * of {@link Tensor}).
 */
import { native } from './native.js';
import { fromHandle, Tensor, type TensorOrNumber } from './tensor.js';

function checkList(tensors: readonly Tensor[], op: string): void {
  if (!Array.isArray(tensors) || tensors.length === 0) throw new TypeError(`${op}: expected a non-empty array of tensors`);
}

/** Concatenates along an existing dimension. */
export function cat(tensors: readonly Tensor[], dim = 0): Tensor {
  checkList(tensors, 'cat');
  return fromHandle(native.cat(tensors.map((t) => t.handle), dim));
}

/** Stacks along a new dimension. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  checkList(tensors, 'stack');
  return fromHandle(native.stack(tensors.map((t) => t.handle), dim));
}

/** Element-wise `condition ? a : b` (broadcast). */
export function where(condition: Tensor, a: TensorOrNumber, b: TensorOrNumber): Tensor {
  return fromHandle(
    native.where(condition.handle, typeof a === 'number' ? a : a.handle, typeof b === 'number' ? b : b.handle),
  );
}

/** Element-wise maximum of two tensors. */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return a.maximum(b);
}

/** Element-wise minimum of two tensors. */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return a.minimum(b);
}

/** Matrix product with broadcasting (as torch.matmul). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  return a.matmul(b);
}
