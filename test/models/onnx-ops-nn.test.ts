/**
 * ONNX neural-network kernels (src/models/onnx/ops/nn.ts): auto_pad SAME with asymmetric padding,
 * ceil_mode, count_include_pad with explicit padding, against naive loops; training_mode of
 * BatchNormalization; and finite-difference gradients with respect to data and weights for every
 * composed path (1-D and 3-D convolutions, asymmetric pads, 3-D pooling, LRN, the norms, Gemm).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import type { OnnxAttributeValue } from '../../src/io/onnx.js';
import type { OnnxNetwork } from '../../src/models/onnx/graph.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { attr, noise, noiseTensor, runNode, singleNode } from '../helpers/onnx-node.js';

/** Naive single-channel 2-D window op over an explicitly padded grid (null outside the input). */
function naive2d(
  x: number[][], k: [number, number], s: [number, number], begin: [number, number], out: [number, number],
  reduce: (values: (number | null)[]) => number,
): number[] {
  const result: number[] = [];
  for (let i = 0; i < out[0]; i++) {
    for (let j = 0; j < out[1]; j++) {
      const values: (number | null)[] = [];
      for (let a = 0; a < k[0]; a++) {
        for (let b = 0; b < k[1]; b++) {
          const r = i * s[0] + a - begin[0];
          const c = j * s[1] + b - begin[1];
          values.push(x[r]?.[c] ?? null);
        }
      }
      result.push(reduce(values));
    }
  }
  return result;
}

function grid(h: number, w: number): number[][] {
  return Array.from({ length: h }, (_, r) => Array.from({ length: w }, (_, c) => r * w + c + 1));
}

function image(g: number[][]): Tensor {
  return tensor(g.flat(), { shape: [1, 1, g.length, g[0]!.length] });
}

const sum = (v: (number | null)[]): number => v.reduce<number>((a, b) => a + (b ?? 0), 0);
const max = (v: (number | null)[]): number => Math.max(...v.filter((b): b is number => b !== null));

test('Conv auto_pad SAME_UPPER / SAME_LOWER put the odd padding at the end / the beginning', () => {
  scope(() => {
    const g = grid(5, 5);
    for (const [mode, begin] of [['SAME_UPPER', 0], ['SAME_LOWER', 1]] as const) {
      const net = singleNode('Conv', { inputs: ['x', 'w'], constants: { w: { values: [1, 1, 1, 1], dims: [1, 1, 2, 2], type: 'float32' } }, attributes: { auto_pad: attr.string(mode), strides: attr.ints([2, 2]) } });
      const y = runNode(net, [image(g)]);
      assert.deepEqual(y.shape, [1, 1, 3, 3], mode);
      assert.deepEqual(y.toNumbers(), naive2d(g, [2, 2], [2, 2], [begin, begin], [3, 3], sum), mode);
    }
    const odd = singleNode('Conv', { inputs: ['x', 'w'], constants: { w: { values: [1, 1, 1, 1], dims: [1, 1, 2, 2], type: 'float32' } }, attributes: { pads: attr.ints([1, 0, 0, 2]) } });
    const y = runNode(odd, [image(g)]);
    assert.deepEqual(y.shape, [1, 1, 5, 6]);
    assert.deepEqual(y.toNumbers(), naive2d(g, [2, 2], [1, 1], [1, 0], [5, 6], sum));
  });
});

test('MaxPool: ceil_mode, SAME_UPPER and asymmetric pads', () => {
  scope(() => {
    const g = grid(4, 4);
    const pool = (attributes: Record<string, OnnxAttributeValue>): OnnxNetwork => singleNode('MaxPool', { inputs: ['x'], attributes: { kernel_shape: attr.ints([3, 3]), ...attributes } });
    assert.deepEqual(runNode(pool({ strides: attr.ints([2, 2]), ceil_mode: attr.int(1) }), [image(g)]).toNumbers(), [11, 12, 15, 16]);
    assert.deepEqual(runNode(pool({ strides: attr.ints([2, 2]) }), [image(g)]).toNumbers(), [11]);
    const same = runNode(pool({ auto_pad: attr.string('SAME_UPPER'), strides: attr.ints([2, 2]) }), [image(g)]);
    assert.deepEqual(same.toNumbers(), naive2d(g, [3, 3], [2, 2], [0, 0], [2, 2], max));
    const negative = grid(4, 4).map((row) => row.map((v) => -v));
    const padded = runNode(pool({ pads: attr.ints([2, 0, 0, 1]) }), [image(negative)]);
    assert.deepEqual(padded.shape, [1, 1, 4, 3]);
    assert.deepEqual(padded.toNumbers(), naive2d(negative, [3, 3], [1, 1], [2, 0], [4, 3], max));
  });
});

test('MaxPool Indices: flat positions (plane offset included) of the maxima, row- or column-major', () => {
  scope(() => {
    const x = tensor(noise(2 * 2 * 4 * 3, 21), { shape: [2, 2, 4, 3] });
    for (const order of [0, 1]) {
      const net = singleNode('MaxPool', { inputs: ['x'], outputs: 2, attributes: { kernel_shape: attr.ints([2, 2]), pads: attr.ints([1, 0, 0, 1]), strides: attr.ints([2, 1]), storage_order: attr.int(order) } });
      const [y, indices] = net.run([x]).outputs as [Tensor, Tensor];
      assert.equal(indices.dtype, 'int64');
      assert.deepEqual(indices.shape, y.shape);
      const flat = order === 0 ? x.reshape([-1]) : x.transpose(2, 3).contiguous().reshape([-1]);
      assert.ok(flat.indexSelect(0, indices.reshape([-1])).equal(y.reshape([-1])), `storage_order=${order}`);
    }
  });
});

test('AveragePool: count_include_pad with asymmetric pads, ceil_mode divides by the window inside the input', () => {
  scope(() => {
    const g = grid(4, 5);
    for (const include of [0, 1]) {
      const net = singleNode('AveragePool', { inputs: ['x'], attributes: { kernel_shape: attr.ints([2, 3]), pads: attr.ints([0, 2, 1, 0]), count_include_pad: attr.int(include) } });
      const y = runNode(net, [image(g)]);
      assert.deepEqual(y.shape, [1, 1, 4, 5]);
      const expected = naive2d(g, [2, 3], [1, 1], [0, 2], [4, 5], (v) => sum(v) / (include ? v.length : v.filter((b) => b !== null).length));
      y.toNumbers().forEach((value, i) => assert.ok(Math.abs(value - expected[i]!) < 1e-5, `count_include_pad=${include} element ${i}: ${value} vs ${expected[i]}`));
    }
    const ceil = singleNode('AveragePool', { inputs: ['x'], attributes: { kernel_shape: attr.ints([2, 2]), strides: attr.ints([2, 2]), ceil_mode: attr.int(1) } });
    const y = runNode(ceil, [image(g)]);
    assert.deepEqual(y.shape, [1, 1, 2, 3]);
    assert.deepEqual(y.toNumbers(), naive2d(g, [2, 2], [2, 2], [0, 0], [2, 3], (v) => sum(v) / v.filter((b) => b !== null).length));
  });
});

test('BatchNormalization: training_mode=1 normalises with batch statistics in either network mode; inference is exact', () => {
  scope(() => {
    const x = tensor(noise(2 * 3 * 4), { shape: [2, 3, 4] });
    const stats = { s: { values: [1, 2, 3], type: 'float32' as const }, b: { values: [0, 1, 0], type: 'float32' as const }, m: { values: [0.1, 0.2, 0.3], type: 'float32' as const }, v: { values: [1, 2, 4], type: 'float32' as const } };
    const training = singleNode('BatchNormalization', { inputs: ['x', 's', 'b', 'm', 'v'], constants: stats, attributes: { training_mode: attr.int(1) }, outputs: 3, opset: 15 });
    training.eval();
    const [yEval] = training.run([x]).outputs;
    training.train();
    const [y, runningMean] = training.run([x]).outputs;
    assert.ok(yEval!.allclose(y!, 0, 0), 'the node, not the network mode, decides');
    const mean = x.mean([0, 2]);
    const normalised = x.sub(mean.reshape([1, 3, 1])).div(x.var([0, 2], { correction: 0 }).add(1e-5).sqrt().reshape([1, 3, 1]));
    const expected = normalised.mul(tensor([1, 2, 3]).reshape([1, 3, 1])).add(tensor([0, 1, 0]).reshape([1, 3, 1]));
    assert.ok(y!.allclose(expected, 1e-4, 1e-5));
    assert.ok(runningMean!.allclose(tensor([0.1, 0.2, 0.3]).mul(0.9).add(mean.mul(0.1)), 1e-5, 1e-6));
    const inference = singleNode('BatchNormalization', { inputs: ['x', 's', 'b', 'm', 'v'], constants: stats, opset: 15 });
    inference.eval();
    const z = runNode(inference, [x]);
    const reference = x.sub(tensor([0.1, 0.2, 0.3]).reshape([1, 3, 1])).div(tensor([1, 2, 4]).add(1e-5).sqrt().reshape([1, 3, 1])).mul(tensor([1, 2, 3]).reshape([1, 3, 1])).add(tensor([0, 1, 0]).reshape([1, 3, 1]));
    assert.ok(z.allclose(reference, 1e-5, 1e-6));
  });
});

test('Gemm: alpha, beta, transA and a broadcast C', () => {
  scope(() => {
    const a = arange(0, 6, 1, { dtype: 'float32' }).reshape([3, 2]);
    const b = arange(0, 8, 1, { dtype: 'float32' }).reshape([4, 2]);
    const c = tensor([1, 2, 3, 4]);
    const plain = singleNode('Gemm', { inputs: ['a', 'b', 'c'], attributes: { transA: attr.int(1), transB: attr.int(1), alpha: attr.float(2), beta: attr.float(0.5) } });
    const y = runNode(plain, [a.t().contiguous(), b, c]);
    assert.ok(y.allclose(a.matmul(b.t()).mul(2).add(c.mul(0.5))));
    const linear = singleNode('Gemm', { inputs: ['a', 'b', 'c'], attributes: { transB: attr.int(1) } });
    assert.ok(runNode(linear, [a, b, c.reshape([1, 4])]).allclose(a.matmul(b.t()).add(c)));
  });
});

/** Checks gradients of sum(y * r) with respect to every fed input (float64) against finite differences. */
function checkGradients(net: OnnxNetwork, inputs: Tensor[], label: string): void {
  scope(() => {
    const shape = runNode(net, inputs).shape;
    const r = tensor(Float64Array.from(noise(shape.reduce((p, q) => p * q, 1), 99)), { shape, dtype: 'float64' });
    const { maxAbsError, maxAbsGrad } = gradcheck((ins) => runNode(net, ins).mul(r), inputs);
    maxAbsError.forEach((error, i) => assert.ok(error <= 1e-6 * (1 + maxAbsGrad[i]!), `${label}: input ${i} gradient error ${error} (largest ${maxAbsGrad[i]})`));
  });
}

test('Conv gradients: 1-D, 2-D with asymmetric pads and groups, 3-D with strides, dilations and pads', () => {
  const conv = (attributes: Record<string, OnnxAttributeValue>): OnnxNetwork => singleNode('Conv', { inputs: ['x', 'w', 'b'], attributes });
  checkGradients(conv({ pads: attr.ints([2, 1]), strides: attr.ints([2]), dilations: attr.ints([2]) }), [noiseTensor([1, 2, 7], 1), noiseTensor([3, 2, 2], 2), noiseTensor([3], 3)], 'conv 1-D');
  checkGradients(conv({ pads: attr.ints([0, 1, 2, 0]), group: attr.int(2) }), [noiseTensor([1, 4, 4, 3], 4), noiseTensor([2, 2, 2, 2], 5), noiseTensor([2], 6)], 'conv 2-D');
  checkGradients(conv({ pads: attr.ints([1, 0, 1, 0, 1, 0]), strides: attr.ints([2, 1, 1]), dilations: attr.ints([1, 2, 1]) }), [noiseTensor([1, 2, 5, 5, 3], 7), noiseTensor([2, 2, 2, 2, 2], 8), noiseTensor([2], 9)], 'conv 3-D');
});

test('ConvTranspose gradients: asymmetric pads with output_padding, output_shape, 3-D', () => {
  const convT = (attributes: Record<string, OnnxAttributeValue>): OnnxNetwork => singleNode('ConvTranspose', { inputs: ['x', 'w', 'b'], attributes });
  checkGradients(convT({ strides: attr.ints([2, 2]), pads: attr.ints([1, 0, 0, 1]), output_padding: attr.ints([1, 1]) }), [noiseTensor([1, 2, 3, 3], 1), noiseTensor([2, 2, 3, 3], 2), noiseTensor([2], 3)], 'convT 2-D');
  checkGradients(convT({ strides: attr.ints([3]), output_shape: attr.ints([10]) }), [noiseTensor([1, 1, 3], 4), noiseTensor([1, 2, 3], 5), noiseTensor([2], 6)], 'convT 1-D');
  checkGradients(convT({ strides: attr.ints([2, 1, 2]), pads: attr.ints([1, 0, 0, 0, 1, 1]), group: attr.int(2) }), [noiseTensor([1, 2, 2, 3, 2], 7), noiseTensor([2, 1, 3, 2, 2], 8), noiseTensor([2], 9)], 'convT 3-D');
});

test('Pooling, LRN and normalisation gradients', () => {
  const x4 = (seed: number): Tensor => noiseTensor([1, 2, 4, 5], seed);
  checkGradients(singleNode('MaxPool', { inputs: ['x'], attributes: { kernel_shape: attr.ints([2, 2, 2]), pads: attr.ints([1, 0, 0, 0, 1, 1]), strides: attr.ints([1, 2, 1]) } }), [noiseTensor([1, 2, 3, 4, 3], 1)], 'maxpool 3-D');
  checkGradients(singleNode('AveragePool', { inputs: ['x'], attributes: { kernel_shape: attr.ints([3, 2]), pads: attr.ints([2, 0, 0, 1]) } }), [x4(2)], 'avgpool asymmetric');
  checkGradients(singleNode('AveragePool', { inputs: ['x'], attributes: { kernel_shape: attr.ints([2, 2, 2]), auto_pad: attr.string('SAME_LOWER') } }), [noiseTensor([1, 1, 3, 3, 3], 3)], 'avgpool 3-D');
  checkGradients(singleNode('LpPool', { inputs: ['x'], attributes: { kernel_shape: attr.ints([2, 2]), p: attr.int(3) } }), [x4(4)], 'lppool');
  checkGradients(singleNode('LRN', { inputs: ['x'], attributes: { size: attr.int(3), alpha: attr.float(0.1), beta: attr.float(0.75), bias: attr.float(2) } }), [noiseTensor([1, 4, 2, 2], 5)], 'lrn');
  checkGradients(singleNode('InstanceNormalization', { inputs: ['x', 's', 'b'] }), [x4(6), noiseTensor([2], 7), noiseTensor([2], 8)], 'instancenorm');
  checkGradients(singleNode('LayerNormalization', { inputs: ['x', 's', 'b'], attributes: { axis: attr.int(-2) } }), [x4(9), noiseTensor([4, 5], 10), noiseTensor([5], 11)], 'layernorm');
  const statistics = { m: { values: [0.1, -0.2], type: 'float64' as const }, v: { values: [0.5, 2], type: 'float64' as const } };
  const bn = singleNode('BatchNormalization', { inputs: ['x', 's', 'b', 'm', 'v'], constants: statistics, opset: 15 });
  bn.eval();
  checkGradients(bn, [x4(12), noiseTensor([2], 13), noiseTensor([2], 14)], 'batchnorm');
  checkGradients(singleNode('Gemm', { inputs: ['a', 'b', 'c'], attributes: { transA: attr.int(1), alpha: attr.float(0.5), beta: attr.float(2) } }), [noiseTensor([3, 2], 16), noiseTensor([3, 4], 17), noiseTensor([1, 4], 18)], 'gemm');
});
