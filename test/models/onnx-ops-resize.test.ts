/**
 * ONNX Resize, Upsample and Pad kernels (src/models/onnx/ops/resize.ts): the nearest modes and
 * coordinate transformations by hand, the native fast paths against the general gather path on
 * the same data, gradients by finite differences, and Pad's modes on any axis.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arange, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import type { OnnxAttributeValue } from '../../src/io/onnx.js';
import type { OnnxNetwork } from '../../src/models/onnx/graph.js';
import { gradcheck } from '../helpers/gradcheck.js';
import { attr, noise, noiseTensor, runNode, singleNode } from '../helpers/onnx-node.js';

function resizeTo(sizes: number[], attributes: Record<string, OnnxAttributeValue>): OnnxNetwork {
  return singleNode('Resize', { inputs: ['x', '', '', 'sizes'], constants: { sizes: { values: sizes } }, attributes, opset: 13 });
}

function resizeBy(scales: number[], attributes: Record<string, OnnxAttributeValue>): OnnxNetwork {
  return singleNode('Resize', { inputs: ['x', '', 'scales'], constants: { scales: { values: scales, type: 'float32' } }, attributes, opset: 13 });
}

test('Resize nearest: each nearest_mode and coordinate transformation picks the specified pixel', () => {
  scope(() => {
    const x = tensor([0, 1, 2, 3], { shape: [1, 1, 1, 4] });
    const pick = (scale: number, coordinate: string, nearest: string): number[] =>
      runNode(resizeBy([1, 1, 1, scale], { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string(coordinate), nearest_mode: attr.string(nearest) }), [x]).toNumbers();
    // asymmetric, scale 1.5: source positions 0, .67, 1.33, 2, 2.67, 3.33
    assert.deepEqual(pick(1.5, 'asymmetric', 'floor'), [0, 0, 1, 2, 2, 3]);
    assert.deepEqual(pick(1.5, 'asymmetric', 'ceil'), [0, 1, 2, 2, 3, 3]);
    assert.deepEqual(pick(1.5, 'asymmetric', 'round_prefer_floor'), [0, 1, 1, 2, 3, 3]);
    // half_pixel, scale 2: -.25, .25, .75, 1.25, ... 3.25
    assert.deepEqual(pick(2, 'half_pixel', 'ceil'), [0, 1, 1, 2, 2, 3, 3, 3]);
    assert.deepEqual(pick(2, 'half_pixel', 'round_prefer_ceil'), [0, 0, 1, 1, 2, 2, 3, 3]);
    // asymmetric, scale 2: 0, .5, 1, 1.5, ...: the halves go down or up
    assert.deepEqual(pick(2, 'asymmetric', 'round_prefer_floor'), [0, 0, 1, 1, 2, 2, 3, 3]);
    assert.deepEqual(pick(2, 'asymmetric', 'round_prefer_ceil'), [0, 1, 1, 2, 2, 3, 3, 3]);
    // align_corners, 4 -> 7: positions j/2
    assert.deepEqual(pick(1.75, 'align_corners', 'round_prefer_ceil'), [0, 1, 1, 2, 2, 3, 3]);
    // tf_half_pixel_for_nn, scale 0.5: positions 1, 3
    assert.deepEqual(pick(0.5, 'tf_half_pixel_for_nn', 'floor'), [1, 3]);
  });
});

test('Resize linear: half_pixel, pytorch_half_pixel and align_corners by hand', () => {
  scope(() => {
    const x = tensor([0, 10, 20, 30], { shape: [1, 1, 1, 4] });
    const linear = (sizes: number[], coordinate: string): number[] =>
      runNode(resizeTo(sizes, { mode: attr.string('linear'), coordinate_transformation_mode: attr.string(coordinate) }), [x]).toNumbers();
    assert.deepEqual(linear([1, 1, 1, 8], 'half_pixel'), [0, 2.5, 7.5, 12.5, 17.5, 22.5, 27.5, 30]);
    assert.deepEqual(linear([1, 1, 1, 3], 'align_corners'), [0, 15, 30]);
    assert.deepEqual(linear([1, 1, 1, 1], 'pytorch_half_pixel'), [0]);
    assert.deepEqual(linear([1, 1, 1, 1], 'half_pixel'), [15]);
  });
});

test('Resize: the native fast paths equal the general gather path', () => {
  scope(() => {
    const data = noise(2 * 3 * 5, 7);
    const x4 = tensor(data, { shape: [1, 2, 3, 5] }).requiresGrad_(true);
    const x5 = tensor(data, { shape: [1, 2, 1, 3, 5] });
    const cases: [number[], Record<string, OnnxAttributeValue>][] = [
      [[7, 8], { mode: attr.string('linear') }],
      [[7, 8], { mode: attr.string('linear'), coordinate_transformation_mode: attr.string('align_corners') }],
      [[2, 3], { mode: attr.string('linear'), coordinate_transformation_mode: attr.string('pytorch_half_pixel') }],
      [[6, 10], { mode: attr.string('nearest'), coordinate_transformation_mode: attr.string('asymmetric'), nearest_mode: attr.string('floor') }],
      [[6, 10], { mode: attr.string('nearest') }],
    ];
    for (const [size, attributes] of cases) {
      const native = runNode(resizeTo([1, 2, ...size], attributes), [x4]);
      const general = runNode(resizeTo([1, 2, 1, ...size], attributes), [x5]);
      assert.match(native.gradFn ?? '', /Upsample/, `${JSON.stringify(attributes)} takes the native path`);
      assert.ok(native.allclose(general.reshape(native.shape), 1e-5, 1e-6), JSON.stringify(attributes));
    }
  });
});

test('Resize and Upsample gradients (general and native paths, cubic, nearest)', () => {
  const check = (net: OnnxNetwork, x: Tensor, label: string): void => {
    scope(() => {
      const shape = runNode(net, [x]).shape;
      const r = tensor(Float64Array.from(noise(shape.reduce((a, b) => a * b, 1), 3)), { shape, dtype: 'float64' });
      const { maxAbsError, maxAbsGrad } = gradcheck((ins) => runNode(net, ins).mul(r), [x]);
      assert.ok(maxAbsError[0]! <= 1e-6 * (1 + maxAbsGrad[0]!), `${label}: gradient error ${maxAbsError[0]}`);
      assert.ok(maxAbsGrad[0]! > 0, `${label}: no gradient`);
    });
  };
  check(resizeTo([1, 1, 5, 7], { mode: attr.string('linear') }), noiseTensor([1, 1, 3, 4], 1), 'bilinear native');
  check(resizeTo([1, 1, 2, 5, 7], { mode: attr.string('linear') }), noiseTensor([1, 1, 3, 3, 4], 2), 'linear 3-D');
  check(resizeBy([1, 1, 0.6, 1.7], { mode: attr.string('cubic'), exclude_outside: attr.int(1) }), noiseTensor([1, 1, 5, 4], 3), 'cubic');
  check(resizeBy([1, 1, 2, 2], { mode: attr.string('nearest') }), noiseTensor([1, 1, 2, 3], 4), 'nearest native');
  check(singleNode('Upsample', { inputs: ['x', 's'], constants: { s: { values: [1, 1, 2, 3], type: 'float32' } }, attributes: { mode: attr.string('linear') }, opset: 9 }), noiseTensor([1, 1, 2, 2], 5), 'upsample');
});

test('Resize opset 18: axes and keep_aspect_ratio_policy', () => {
  scope(() => {
    const x = arange(0, 12, 1, { dtype: 'float32' }).reshape([1, 1, 3, 4]);
    const net = singleNode('Resize', {
      inputs: ['x', '', '', 'sizes'],
      constants: { sizes: { values: [6, 6] } },
      attributes: { axes: attr.ints([2, 3]), keep_aspect_ratio_policy: attr.string('not_larger'), mode: attr.string('nearest') },
      opset: 18,
    });
    assert.deepEqual(runNode(net, [x]).shape, [1, 1, 5, 6]);
  });
});

test('Upsample (opset 9) nearest repeats by integer scales', () => {
  scope(() => {
    const net = singleNode('Upsample', { inputs: ['x', 's'], constants: { s: { values: [1, 1, 2, 3], type: 'float32' } }, opset: 9 });
    const y = runNode(net, [tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2] })]);
    assert.deepEqual(y.shape, [1, 1, 4, 6]);
    assert.deepEqual(y.toNumbers().slice(0, 12), [1, 1, 1, 2, 2, 2, 1, 1, 1, 2, 2, 2]);
  });
});

function pad(pads: number[], mode: string, extra: { axes?: number[]; value?: number; opset?: number } = {}): OnnxNetwork {
  const inputs = ['x', 'pads', extra.value === undefined ? '' : 'value', extra.axes ? 'axes' : ''];
  const constants: Record<string, { values: number[]; dims?: number[]; type?: 'int64' | 'float32' }> = { pads: { values: pads } };
  if (extra.value !== undefined) constants['value'] = { values: [extra.value], dims: [], type: 'float32' };
  if (extra.axes) constants['axes'] = { values: extra.axes };
  return singleNode('Pad', { inputs, constants, attributes: { mode: attr.string(mode) }, opset: extra.opset ?? 18 });
}

test('Pad: reflect / edge / wrap on any axis, negative pads crop, constant with axes', () => {
  scope(() => {
    const x = arange(0, 6, 1, { dtype: 'float32' }).reshape([1, 2, 3]);
    assert.deepEqual(runNode(pad([0, 0, 2, 0, 0, 1], 'reflect'), [x]).toNumbers(), [2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4]);
    assert.deepEqual(runNode(pad([0, 1, 0, 0, 1, 0], 'reflect'), [x]).toNumbers(), [3, 4, 5, 0, 1, 2, 3, 4, 5, 0, 1, 2]);
    assert.deepEqual(runNode(pad([1, 0, 0, 0, 0, 0], 'edge'), [x]).shape, [2, 2, 3]);
    assert.deepEqual(runNode(pad([0, 0, -1, 0, 0, 2], 'edge'), [x]).toNumbers(), [1, 2, 2, 2, 4, 5, 5, 5]);
    assert.deepEqual(runNode(pad([0, 0, 1, 0, 0, 1], 'wrap', { opset: 19 }), [x]).toNumbers(), [2, 0, 1, 2, 0, 5, 3, 4, 5, 3]);
    const constant = runNode(pad([1, -1], 'constant', { axes: [-1], value: 7 }), [x]);
    assert.deepEqual(constant.toNumbers(), [7, 0, 1, 7, 3, 4]);
  });
});

test('Pad gradients (native reflect, indexed reflect, edge)', () => {
  for (const [pads, mode] of [[[0, 0, 1, 2, 0, 0, 1, 1], 'reflect'], [[1, 0, 0, 0, 1, 0, 0, 0], 'reflect'], [[1, 0, 2, 0, 0, 0, 0, 1], 'edge']] as const) {
    scope(() => {
      const net = pad([...pads], mode);
      const x = noiseTensor([2, 2, 3, 3], 5);
      const shape = runNode(net, [x]).shape;
      const r = tensor(Float64Array.from(noise(shape.reduce((a, b) => a * b, 1), 3)), { shape, dtype: 'float64' });
      const { maxAbsError } = gradcheck((ins) => runNode(net, ins).mul(r), [x]);
      assert.ok(maxAbsError[0]! < 1e-6, `${mode} [${pads.join(',')}]: gradient error ${maxAbsError[0]}`);
    });
  }
});
