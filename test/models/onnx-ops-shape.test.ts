/**
 * ONNX shape and indexing kernels (src/models/onnx/ops/shape.ts) on the semantics the
 * conformance data covers thinly: Slice with negative steps and INT64 bounds, Reshape's 0 and -1,
 * negative Gather indices and their gradients, GatherND batch dims, scatter reductions with
 * duplicate indices, uneven Split (opset 18), bidirectional Expand, negative axes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, grad, scope, tensor } from '../../src/tensor/index.js';
import { attr, runNode, singleNode, type ConstantSpec } from '../helpers/onnx-node.js';

const INT64_MAX = 9223372036854775807n;
const INT64_MIN = -9223372036854775808n;

function slice(starts: (number | bigint)[], ends: (number | bigint)[], axes: number[], steps: number[]): ReturnType<typeof singleNode> {
  const c = (values: (number | bigint)[]): ConstantSpec => ({ values });
  return singleNode('Slice', { inputs: ['x', 'starts', 'ends', 'axes', 'steps'], constants: { starts: c(starts), ends: c(ends), axes: c(axes), steps: c(steps) }, opset: 13 });
}

test('Slice: negative steps, INT64 bounds clamped, out-of-range starts', () => {
  scope(() => {
    const x = arange(0, 10, 1, { dtype: 'float32' });
    const cases: [ReturnType<typeof singleNode>, number[]][] = [
      [slice([-1], [-INT64_MAX], [0], [-2]), [9, 7, 5, 3, 1]],
      [slice([INT64_MAX], [INT64_MIN], [0], [-1]), [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]],
      [slice([2], [INT64_MAX], [0], [3]), [2, 5, 8]],
      [slice([-100], [3], [0], [1]), [0, 1, 2]],
      [slice([5], [5], [0], [-1]), []],
      [slice([3], [-20], [-1], [-4]), [3]],
    ];
    for (const [net, expected] of cases) assert.deepEqual(runNode(net, [x]).toNumbers(), expected);
    const m = arange(0, 12, 1, { dtype: 'float32' }).reshape([3, 4]);
    const y = runNode(slice([0, -1], [3, INT64_MIN], [0, 1], [2, -1]), [m]);
    assert.deepEqual(y.shape, [2, 4]);
    assert.deepEqual(y.toNumbers(), [3, 2, 1, 0, 11, 10, 9, 8]);
  });
});

test('Slice with a negative step passes gradients to the picked elements', () => {
  scope(() => {
    const x = arange(0, 10, 1, { dtype: 'float64' }).requiresGrad_(true);
    const y = runNode(slice([-1], [-INT64_MAX], [0], [-2]), [x]);
    const [g] = grad(y.mul(tensor([1, 2, 3, 4, 5], { dtype: 'float64' })).sum(), x);
    assert.deepEqual(g!.toNumbers(), [0, 5, 0, 4, 0, 3, 0, 2, 0, 1]);
  });
});

test('Reshape: 0 copies a dim, -1 is inferred; allowzero keeps a real 0', () => {
  scope(() => {
    const x = arange(0, 24, 1, { dtype: 'float32' }).reshape([2, 3, 4]);
    const reshape = (shape: number[], allowzero = 0): ReturnType<typeof singleNode> =>
      singleNode('Reshape', { inputs: ['x', 'shape'], constants: { shape: { values: shape } }, attributes: { allowzero: attr.int(allowzero) }, opset: 14 });
    assert.deepEqual(runNode(reshape([0, -1]), [x]).shape, [2, 12]);
    assert.deepEqual(runNode(reshape([-1, 0]), [x]).shape, [8, 3]);
    assert.deepEqual(runNode(reshape([0, 4, -1]), [x]).shape, [2, 4, 3]);
    const empty = tensor(new Float32Array(0), { shape: [0, 3] });
    assert.deepEqual(runNode(reshape([3, 0], 1), [empty]).shape, [3, 0]);
    assert.throws(() => runNode(reshape([-1, -1]), [x]), /more than one -1/);
  });
});

test('Gather: negative indices, index shape kept, gradients add up over repeats', () => {
  scope(() => {
    const x = tensor([10, 11, 12, 13, 14], { dtype: 'float64' }).requiresGrad_(true);
    const net = singleNode('Gather', { inputs: ['x', 'i'], constants: { i: { values: [-1, 0, -1, 2], dims: [2, 2] } }, attributes: { axis: attr.int(0) } });
    const y = runNode(net, [x]);
    assert.deepEqual(y.shape, [2, 2]);
    assert.deepEqual(y.toNumbers(), [14, 10, 14, 12]);
    const [g] = grad(y.sum(), x);
    assert.deepEqual(g!.toNumbers(), [1, 0, 1, 0, 2]);
    const m = arange(0, 6, 1, { dtype: 'float32' }).reshape([2, 3]);
    const scalarIndex = singleNode('Gather', { inputs: ['x', 'i'], constants: { i: { values: [-1], dims: [] } }, attributes: { axis: attr.int(-1) } });
    const column = runNode(scalarIndex, [m]);
    assert.deepEqual(column.shape, [2]);
    assert.deepEqual(column.toNumbers(), [2, 5]);
  });
});

test('GatherND with batch_dims=1 and negative indices', () => {
  scope(() => {
    const data = arange(0, 8, 1, { dtype: 'float32' }).reshape([2, 2, 2]);
    const net = singleNode('GatherND', { inputs: ['x', 'i'], constants: { i: { values: [1, -2], dims: [2, 1] } }, attributes: { batch_dims: attr.int(1) } });
    const y = runNode(net, [data]);
    assert.deepEqual(y.shape, [2, 2]);
    assert.deepEqual(y.toNumbers(), [2, 3, 4, 5]);
  });
});

test('ScatterElements and ScatterND: mul / max / min with duplicate indices, and their gradients', () => {
  scope(() => {
    const data = tensor([[1, 2, 3, 4, 5]], { dtype: 'float64' }).requiresGrad_(true);
    const updates = tensor([[2, 3, 4]], { dtype: 'float64' }).requiresGrad_(true);
    const scatter = (reduction: string): ReturnType<typeof singleNode> =>
      singleNode('ScatterElements', { inputs: ['x', 'i', 'u'], constants: { i: { values: [1, 1, -2], dims: [1, 3] } }, attributes: { axis: attr.int(1), reduction: attr.string(reduction) }, opset: 18 });
    const y = runNode(scatter('mul'), [data, updates]);
    assert.deepEqual(y.toNumbers(), [1, 12, 3, 16, 5]);
    const [gd, gu] = grad(y.sum(), [data, updates]);
    assert.deepEqual(gd!.toNumbers(), [1, 6, 1, 4, 1]);
    assert.deepEqual(gu!.toNumbers(), [6, 4, 4]);
    assert.deepEqual(runNode(scatter('max'), [data, tensor([[10, 0, 1]], { dtype: 'float64' })]).toNumbers(), [1, 10, 3, 4, 5]);
    assert.deepEqual(runNode(scatter('min'), [data, tensor([[10, 0, 1]], { dtype: 'float64' })]).toNumbers(), [1, 0, 3, 1, 5]);
    assert.deepEqual(runNode(scatter('add'), [data, updates]).toNumbers(), [1, 7, 3, 8, 5]);
    const nd = singleNode('ScatterND', { inputs: ['x', 'i', 'u'], constants: { i: { values: [0, 2, 0], dims: [3, 1] } }, attributes: { reduction: attr.string('mul') }, opset: 16 });
    const table = arange(1, 7, 1, { dtype: 'float32' }).reshape([3, 2]);
    assert.deepEqual(runNode(nd, [table, tensor([[2, 2], [3, 3], [5, 5]])]).toNumbers(), [10, 20, 3, 4, 15, 18]);
  });
});

test('Split: uneven parts with num_outputs (opset 18), sizes from the input (opset 13)', () => {
  scope(() => {
    const x = arange(0, 7, 1, { dtype: 'float32' });
    const even = singleNode('Split', { inputs: ['x'], attributes: { num_outputs: attr.int(3) }, outputs: 3, opset: 18 });
    assert.deepEqual(even.run([x]).outputs.map((t) => t.toNumbers()), [[0, 1, 2], [3, 4, 5], [6]]);
    const sized = singleNode('Split', { inputs: ['x', 's'], constants: { s: { values: [2, 0, 5] } }, outputs: 3, opset: 13 });
    assert.deepEqual(sized.run([x]).outputs.map((t) => t.shape[0]), [2, 0, 5]);
  });
});

test('Expand broadcasts both ways; Squeeze and Unsqueeze take negative axes', () => {
  scope(() => {
    const x = tensor([[1], [2], [3]]);
    const expand = singleNode('Expand', { inputs: ['x', 's'], constants: { s: { values: [2, 1, 4] } } });
    const y = runNode(expand, [x]);
    assert.deepEqual(y.shape, [2, 3, 4]);
    assert.equal(y.sum().item(), 2 * 4 * 6);
    const unsqueeze = singleNode('Unsqueeze', { inputs: ['x', 'a'], constants: { a: { values: [-1, 0] } } });
    assert.deepEqual(runNode(unsqueeze, [tensor([1, 2, 3])]).shape, [1, 3, 1]);
    const squeeze = singleNode('Squeeze', { inputs: ['x', 'a'], constants: { a: { values: [-1] } } });
    assert.deepEqual(runNode(squeeze, [tensor([[[1], [2], [3]]])]).shape, [1, 3]);
    assert.throws(() => runNode(squeeze, [tensor([[1, 2]])]), /cannot squeeze axis 1 of size 2/);
    const old = singleNode('Unsqueeze', { inputs: ['x'], attributes: { axes: attr.ints([0, 3]) }, opset: 11 });
    assert.deepEqual(runNode(old, [tensor([[1, 2]])]).shape, [1, 1, 2, 1]);
  });
});

test('Range with a negative float delta', () => {
  scope(() => {
    const range = singleNode('Range', {
      inputs: ['s', 'l', 'd'],
      feeds: ['s'],
      constants: { l: { values: [1], dims: [], type: 'float32' }, d: { values: [-0.5], dims: [], type: 'float32' } },
    });
    const r = runNode(range, [tensor([3], { shape: [] })]);
    assert.deepEqual(r.toNumbers(), [3, 2.5, 2, 1.5]);
  });
});
