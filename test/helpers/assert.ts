/** Assertions on tensors for the test suites. */
import assert from 'node:assert/strict';
import type { Tensor } from '../../src/tensor/index.js';

/** Asserts shape and element values (within `tol`) of a tensor. */
export function assertTensor(actual: Tensor, shape: readonly number[], values: readonly number[], tol = 1e-6, message = ''): void {
  assert.deepEqual([...actual.shape], [...shape], `${message} shape`);
  const data = actual.toNumbers();
  assert.equal(data.length, values.length, `${message} element count`);
  data.forEach((v, i) => {
    const expected = values[i] as number;
    if (Number.isNaN(expected)) assert.ok(Number.isNaN(v), `${message} element ${i}: expected NaN, got ${v}`);
    else assert.ok(Math.abs(v - expected) <= tol, `${message} element ${i}: expected ${expected}, got ${v} (tol ${tol})`);
  });
}

/** Asserts two numbers are within `tol`. */
export function assertClose(actual: number, expected: number, tol = 1e-6, message = ''): void {
  assert.ok(Math.abs(actual - expected) <= tol, `${message} expected ${expected}, got ${actual} (tol ${tol})`);
}
