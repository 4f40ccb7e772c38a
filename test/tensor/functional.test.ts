/**
 * nn functional ops and losses against hand-computed values, and their gradients against finite
 * differences (float64), including a double-backward case.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { arange, grad, manualSeed, ones, randn, scope, tensor, zeros, type Tensor } from '../../src/tensor/index.js';
import * as F from '../../src/nn/functional.js';
import { assertClose, assertTensor } from '../helpers/assert.js';
import { gradcheck, gradgradcheck } from '../helpers/gradcheck.js';

const img3x3 = () => tensor([1, 2, 3, 4, 5, 6, 7, 8, 9], { shape: [1, 1, 3, 3] });

describe('convolutions and linear layers', () => {
  it('conv2d: plain, with bias, stride and padding', () => {
    scope(() => {
      const w = tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2] });
      assertTensor(F.conv2d(img3x3(), w, tensor([0.5])), [1, 1, 2, 2], [37.5, 47.5, 67.5, 77.5]);
      assertTensor(F.conv2d(img3x3(), w, null, { stride: 2, padding: 1 }), [1, 1, 2, 2], [4, 18, 36, 77]);
      const two = tensor([1, 0, 0, 0, 0, 0, 0, 1], { shape: [2, 1, 2, 2] });
      assertTensor(F.conv2d(img3x3(), two), [1, 2, 2, 2], [1, 2, 4, 5, 5, 6, 8, 9]);
    });
  });

  it('conv2d gives the same result in channels-last layout', () => {
    scope(() => {
      manualSeed(1);
      const x = randn([2, 3, 8, 8]);
      const w = randn([4, 3, 3, 3]);
      const b = randn([4]);
      const nchw = F.conv2d(x, w, b, { padding: 1 });
      const nhwc = F.conv2d(x.channelsLast(), w.channelsLast(), b, { padding: 1 });
      assert.ok(nchw.allclose(nhwc, 1e-5, 1e-5));
    });
  });

  it('convTranspose2d: overlapping (stride 1) and tiling (stride 2)', () => {
    scope(() => {
      const x = tensor([1, 2, 3, 4], { shape: [1, 1, 2, 2] });
      const w = ones([1, 1, 2, 2]);
      assertTensor(F.convTranspose2d(x, w), [1, 1, 3, 3], [1, 3, 2, 4, 10, 6, 3, 7, 4]);
      assertTensor(F.convTranspose2d(x, w, tensor([1]), { stride: 2 }), [1, 1, 4, 4],
        [2, 2, 3, 3, 2, 2, 3, 3, 4, 4, 5, 5, 4, 4, 5, 5]);
    });
  });

  it('convTranspose2d as a convolution equals libtorch\'s transposed convolution (values and gradients)', () => {
    scope(() => {
      manualSeed(9);
      const configs = [
        { stride: 1, padding: 0, outputPadding: 0, dilation: 1, groups: 1, k: [3, 3], c: [4, 6] },
        { stride: 2, padding: 1, outputPadding: 1, dilation: 1, groups: 1, k: [3, 3], c: [4, 6] },
        { stride: 2, padding: 0, outputPadding: 0, dilation: 1, groups: 1, k: [3, 3], c: [3, 5] },
        { stride: 3, padding: 2, outputPadding: 2, dilation: 1, groups: 1, k: [5, 4], c: [2, 3] },
        { stride: 2, padding: 1, outputPadding: 0, dilation: 2, groups: 1, k: [3, 3], c: [4, 4] },
        { stride: 2, padding: 1, outputPadding: 1, dilation: 1, groups: 2, k: [3, 3], c: [4, 6] },
      ];
      for (const { k, c, ...options } of configs) {
        const x = randn([2, c[0] as number, 5, 6]).requiresGrad_();
        const w = randn([c[0] as number, (c[1] as number) / options.groups, k[0] as number, k[1] as number]).requiresGrad_();
        const b = randn([c[1] as number]);
        const a = F.convTranspose2d(x, w, b, { ...options, algorithm: 'native' });
        const v = F.convTranspose2d(x, w, b, { ...options, algorithm: 'convolution' });
        const what = JSON.stringify(options);
        assert.deepEqual([...v.shape], [...a.shape], what);
        assert.ok(v.allclose(a, 1e-4, 1e-4), `values differ for ${what}`);
        const g = randn([...a.shape]);
        const [gxa, gwa] = grad(a.mul(g).sum(), [x, w]);
        const [gxv, gwv] = grad(v.mul(g).sum(), [x, w]);
        assert.ok((gxv as Tensor).allclose(gxa as Tensor, 1e-4, 1e-4) && (gwv as Tensor).allclose(gwa as Tensor, 1e-4, 1e-4), `gradients differ for ${what}`);
      }
    });
  });

  it('linear: y = x W^T + b', () => {
    scope(() => {
      const w = tensor([[1, 0], [0, 1], [1, 1]]);
      assertTensor(F.linear(tensor([[1, 2]]), w, tensor([0, 0, 1])), [1, 3], [1, 2, 4]);
      assertTensor(F.linear(tensor([[1, 2]]), w), [1, 3], [1, 2, 3]);
    });
  });
});

describe('pooling, normalisation and dropout', () => {
  it('max, average and adaptive average pooling', () => {
    scope(() => {
      const x = arange(0, 16, 1, { dtype: 'float32' }).reshape(1, 1, 4, 4);
      assertTensor(F.maxPool2d(x, 2), [1, 1, 2, 2], [5, 7, 13, 15]);
      assertTensor(F.avgPool2d(x, 2), [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5]);
      assertTensor(F.maxPool2d(x, 3, { stride: 1 }), [1, 1, 2, 2], [10, 11, 14, 15]);
      assertTensor(F.adaptiveAvgPool2d(x, 1), [1, 1, 1, 1], [7.5]);
      assertTensor(F.adaptiveAvgPool2d(x, [2, 2]), [1, 1, 2, 2], [2.5, 4.5, 10.5, 12.5]);
      assertTensor(F.maxPool2d(x.channelsLast(), 2), [1, 1, 2, 2], [5, 7, 13, 15]);
    });
  });

  it('batch norm: batch statistics, running-stat update, evaluation with running stats', () => {
    scope(() => {
      const x = tensor([1, 3, 5, 7], { shape: [2, 1, 1, 2] });
      const runningMean = zeros([1]);
      const runningVar = ones([1]);
      const weight = tensor([2]);
      const bias = tensor([1]);
      const y = F.batchNorm(x, runningMean, runningVar, { weight, bias, training: true, momentum: 0.1, eps: 1e-5 });
      const s = Math.sqrt(5 + 1e-5);
      assertTensor(y, [2, 1, 1, 2], [1, 3, 5, 7].map((v) => ((v - 4) / s) * 2 + 1), 1e-5);
      assertTensor(runningMean, [1], [0.4], 1e-6);
      assertTensor(runningVar, [1], [0.9 + 0.1 * (20 / 3)], 1e-5);
      const e = F.batchNorm(x, runningMean, runningVar, { weight, bias, training: false, eps: 1e-5 });
      const rv = 0.9 + 0.1 * (20 / 3);
      assertTensor(e, [2, 1, 1, 2], [1, 3, 5, 7].map((v) => ((v - 0.4) / Math.sqrt(rv + 1e-5)) * 2 + 1), 1e-4);
      assert.throws(() => F.batchNorm(x, null, null), /running mean/);
    });
  });

  it('layer norm and group norm', () => {
    scope(() => {
      const s = Math.sqrt(2 / 3 + 1e-5);
      assertTensor(F.layerNorm(tensor([[1, 2, 3]]), [3]), [1, 3], [-1 / s, 0, 1 / s], 1e-5);
      assertTensor(F.layerNorm(tensor([[1, 2, 3]]), [3], tensor([1, 1, 2]), tensor([0, 1, 0])), [1, 3], [-1 / s, 1, 2 / s], 1e-5);
      const g = 0.5 / Math.sqrt(0.25 + 1e-5);
      assertTensor(F.groupNorm(tensor([1, 2, 3, 4], { shape: [1, 4, 1, 1] }), 2), [1, 4, 1, 1], [-g, g, -g, g], 1e-5);
      assert.throws(() => F.groupNorm(zeros([1, 3, 2, 2]), 2), /not divisible/);
    });
  });

  it('dropout: identity in evaluation, zero or scaled by 1/(1-p) in training', () => {
    scope(() => {
      manualSeed(0);
      const x = ones([1000]);
      assert.ok(F.dropout(x, 0.5, false).equal(x));
      assert.ok(F.dropout(x, 0, true).equal(x));
      assertTensor(F.dropout(tensor([1, 2]), 1, true), [2], [0, 0]);
      const y = F.dropout(x, 0.5, true).toNumbers();
      assert.ok(y.every((v) => v === 0 || v === 2));
      const kept = y.filter((v) => v === 2).length;
      assert.ok(kept > 400 && kept < 600, `kept ${kept} of 1000`);
      assert.throws(() => F.dropout(x, 1.5, true), /p must be in/);
    });
  });
});

describe('activations, resizing and padding', () => {
  it('relu, gelu (exact and tanh), sigmoid, tanh, leaky relu, softplus, log-sigmoid', () => {
    scope(() => {
      const x = tensor([-1, 0, 1]);
      assertTensor(F.relu(x), [3], [0, 0, 1]);
      assertTensor(F.gelu(x), [3], [-0.15865525, 0, 0.84134475], 1e-6);
      assertTensor(F.gelu(x, 'tanh'), [3], [-0.15880801, 0, 0.84119199], 1e-6);
      assertTensor(F.sigmoid(x), [3], [1 / (1 + Math.E), 0.5, 1 / (1 + Math.exp(-1))], 1e-6);
      assertTensor(F.tanh(x), [3], [Math.tanh(-1), 0, Math.tanh(1)], 1e-6);
      assertTensor(F.leakyRelu(x, 0.1), [3], [-0.1, 0, 1], 1e-7);
      assertTensor(F.softplus(tensor([0])), [1], [Math.LN2]);
      assertTensor(F.logSigmoid(tensor([0])), [1], [-Math.LN2]);
      assertTensor(F.softmax(tensor([[0, 0]]), 1), [1, 2], [0.5, 0.5]);
      assertTensor(F.logSoftmax(tensor([[0, 0]]), 1), [1, 2], [-Math.LN2, -Math.LN2]);
    });
  });

  it('gelu and tanh on channels-last maps: same values and gradients, channels-last result', () => {
    scope(() => {
      const x = randn([2, 3, 4, 5]);
      const cl = x.channelsLast().requiresGrad_();
      for (const op of [(t: Tensor) => F.gelu(t), (t: Tensor) => F.tanh(t)]) {
        const y = op(cl);
        assertClose(y.sub(op(x)).abs().max().item(), 0, 1e-7);
        assert.ok(y.permute([0, 2, 3, 1]).isContiguous(), 'the result keeps channels-last strides');
        const [g] = grad(y.mul(y).sum(), [cl]);
        const xg = x.clone().requiresGrad_();
        const yc = op(xg);
        const [gc] = grad(yc.mul(yc).sum(), [xg]);
        assertClose((g as Tensor).sub(gc as Tensor).abs().max().item(), 0, 1e-6);
      }
    });
  });

  it('gelu gradients are right whatever the strides of the gradient arriving at them (libtorch 1.13 oneDNN bug)', () => {
    scope(() => {
      const reference = (x: Tensor, upstream: Tensor): Tensor => {
        // d/dx GELU(x) = Phi(x) + x phi(x)
        const phi = x.pow(2).mul(-0.5).exp().mul(1 / Math.sqrt(2 * Math.PI));
        const Phi = x.mul(Math.SQRT1_2).erf().add(1).mul(0.5);
        return upstream.mul(Phi.add(x.mul(phi)));
      };
      const nchw = randn([2, 6, 5, 7]);
      const weight = randn([2, 6, 5, 7]); // NCHW-contiguous: the gradient reaching GELU's output
      for (const [name, input] of [['channels-last map', nchw.channelsLast()], ['contiguous NCHW map', nchw.clone()]] as const) {
        const x = input.detach().requiresGrad_();
        const [g] = grad(F.gelu(x).mul(weight).sum(), [x]);
        assertClose((g as Tensor).sub(reference(nchw, weight)).abs().max().item(), 0, 1e-5, name);
      }
      // A contiguous input whose gradient arrives permuted (GELU in NHWC, then a permute).
      const nhwc = randn([2, 5, 7, 6]).requiresGrad_();
      const [g] = grad(F.gelu(nhwc).permute([0, 3, 1, 2]).mul(weight).sum(), [nhwc]);
      assertClose((g as Tensor).sub(reference(nhwc.detach(), weight.permute([0, 2, 3, 1]))).abs().max().item(), 0, 1e-5, 'permuted gradient');
    });
  });

  it('interpolate: nearest and bilinear (with and without aligned corners)', () => {
    scope(() => {
      const x = tensor([0, 1, 2, 3], { shape: [1, 1, 2, 2] });
      assertTensor(F.interpolate(x, { scaleFactor: 2 }), [1, 1, 4, 4], [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]);
      const aligned = F.interpolate(x, { size: 4, mode: 'bilinear', alignCorners: true }).toNumbers();
      [0, 1 / 3, 2 / 3, 1, 2 / 3, 1, 4 / 3, 5 / 3].forEach((v, i) => assertClose(aligned[i] as number, v, 1e-6));
      const half = F.interpolate(x, { size: [4, 4], mode: 'bilinear' }).toNumbers();
      [0, 0.25, 0.75, 1].forEach((v, i) => assertClose(half[i] as number, v, 1e-6));
      assert.throws(() => F.interpolate(x, {}), /size or a positive scaleFactor/);
    });
  });

  it('pad: constant, reflect and replicate', () => {
    scope(() => {
      assertTensor(F.pad(tensor([[1, 2]]), [1, 1], 'constant', 9), [1, 4], [9, 1, 2, 9]);
      const x = tensor([1, 2, 3], { shape: [1, 1, 1, 3] });
      assertTensor(F.pad(x, [1, 1, 0, 0], 'reflect'), [1, 1, 1, 5], [2, 1, 2, 3, 2]);
      assertTensor(F.pad(x, [2, 0, 0, 0], 'replicate'), [1, 1, 1, 5], [1, 1, 1, 2, 3]);
      assert.throws(() => F.pad(x, [1]), /even number/);
    });
  });
});

describe('losses', () => {
  it('cross-entropy with class indices, label smoothing, probabilities and reductions', () => {
    scope(() => {
      const logits = tensor([[0, Math.log(3)]]);
      const target = tensor([1], { dtype: 'int64' });
      assertTensor(F.crossEntropy(logits, target), [], [-Math.log(0.75)], 1e-6);
      const smooth = 0.9 * -Math.log(0.75) + 0.1 * 0.5 * (-Math.log(0.25) - Math.log(0.75));
      assertTensor(F.crossEntropy(logits, target, { labelSmoothing: 0.1 }), [], [smooth], 1e-6);
      assertTensor(F.crossEntropy(logits, tensor([[0.5, 0.5]])), [], [0.5 * (-Math.log(0.25) - Math.log(0.75))], 1e-6);
      assertTensor(F.crossEntropy(logits, tensor([1], { dtype: 'int32' })), [], [-Math.log(0.75)], 1e-6);
      const two = tensor([[0, 0], [0, Math.log(3)]]);
      const t2 = tensor([0, 1], { dtype: 'int64' });
      assertTensor(F.crossEntropy(two, t2, { reduction: 'none' }), [2], [Math.LN2, -Math.log(0.75)], 1e-6);
      assertTensor(F.crossEntropy(two, t2, { reduction: 'sum' }), [], [Math.LN2 - Math.log(0.75)], 1e-6);
    });
  });

  it('nll, mse, l1, smooth-l1, kl-divergence, binary and multi-label losses', () => {
    scope(() => {
      assertTensor(F.nllLoss(tensor([[-1, -2]]), tensor([1], { dtype: 'int64' })), [], [2]);
      assertTensor(F.mseLoss(tensor([1, 2]), tensor([3, 2])), [], [2]);
      assertTensor(F.mseLoss(tensor([1, 2]), tensor([3, 2]), 'sum'), [], [4]);
      assertTensor(F.l1Loss(tensor([1, 2]), tensor([3, 2])), [], [1]);
      assertTensor(F.smoothL1Loss(tensor([0, 0]), tensor([0.5, 3])), [], [(0.125 + 2.5) / 2]);
      const kl = 0.5 * (Math.log(0.5) - Math.log(0.25)) + 0.5 * (Math.log(0.5) - Math.log(0.75));
      assertTensor(F.klDiv(tensor([[Math.log(0.25), Math.log(0.75)]]), tensor([[0.5, 0.5]]), { reduction: 'sum' }), [], [kl], 1e-6);
      assertTensor(F.klDiv(tensor([[Math.log(0.25), Math.log(0.75)]]), tensor([[0.5, 0.5]]), { reduction: 'batchmean' }), [], [kl], 1e-6);
      assertTensor(F.binaryCrossEntropy(tensor([0.5]), tensor([1])), [], [Math.LN2], 1e-6);
      assertTensor(F.binaryCrossEntropyWithLogits(tensor([0]), tensor([1])), [], [Math.LN2], 1e-6);
      assertTensor(F.multilabelSoftMarginLoss(tensor([[0, 0]]), tensor([[1, 0]])), [], [Math.LN2], 1e-6);
    });
  });
});

describe('gradients against finite differences (float64)', () => {
  const TOL = 1e-5;
  const leaf = (shape: number[]) => randn(shape, { dtype: 'float64' }).requiresGrad_();
  const check = (name: string, fn: Parameters<typeof gradcheck>[0], shapes: number[][]) => {
    it(name, () => {
      scope(() => {
        manualSeed(7);
        const inputs = shapes.map(leaf);
        const { maxAbsError, maxAbsGrad } = gradcheck(fn, inputs);
        maxAbsError.forEach((err, i) => {
          assert.ok(err < TOL, `${name}: input ${i} max abs error ${err}`);
          assert.ok((maxAbsGrad[i] as number) > 1e-3, `${name}: input ${i} has a vanishing gradient`);
        });
      });
    });
  };
  check('conv2d (stride 2, padding 1, bias)', ([x, w, b]) => F.conv2d(x!, w!, b!, { stride: 2, padding: 1 }), [[1, 2, 5, 5], [3, 2, 3, 3], [3]]);
  check('convTranspose2d (stride 2, padding 1, output padding 1)', ([x, w, b]) =>
    F.convTranspose2d(x!, w!, b!, { stride: 2, padding: 1, outputPadding: 1 }), [[1, 2, 3, 3], [2, 3, 3, 3], [3]]);
  check('linear', ([x, w, b]) => F.linear(x!, w!, b!), [[3, 4], [2, 4], [2]]);
  check('maxPool2d', ([x]) => F.maxPool2d(x!, 2), [[1, 2, 4, 4]]);
  check('avgPool2d', ([x]) => F.avgPool2d(x!, 2, { stride: 1 }), [[1, 2, 4, 4]]);
  check('adaptiveAvgPool2d', ([x]) => F.adaptiveAvgPool2d(x!, 3), [[1, 1, 5, 5]]);
  check('gelu', ([x]) => F.gelu(x!).mul(x!), [[10]]);
  check('batchNorm (training, affine)', ([x, w, b]) =>
    F.batchNorm(x!, null, null, { weight: w!, bias: b!, training: true }).pow(3), [[3, 2, 2, 2], [2], [2]]);
  check('crossEntropy (label smoothing)', ([logits]) =>
    F.crossEntropy(logits!, tensor([2, 0, 1], { dtype: 'int64' }), { labelSmoothing: 0.1 }), [[3, 4]]);
  check('layerNorm', ([x, w]) => F.layerNorm(x!, [4], w!).pow(3), [[2, 4], [4]]);
  check('softmax', ([x]) => F.softmax(x!, 1).mul(tensor([[1, 2, 3]], { dtype: 'float64' })), [[2, 3]]);

  it('double backward through conv2d and gelu (gradient of a gradient, as AAD and A3 need)', () => {
    scope(() => {
      manualSeed(3);
      const w = randn([2, 1, 3, 3], { dtype: 'float64' });
      const x = randn([1, 1, 4, 4], { dtype: 'float64' }).requiresGrad_();
      const v = randn([1, 1, 4, 4], { dtype: 'float64' });
      const { maxAbsError, maxAbsGrad } = gradgradcheck((input) => F.gelu(F.conv2d(input, w, null, { padding: 1 })).pow(2), x, v);
      assert.ok(maxAbsError < TOL, `double backward max abs error ${maxAbsError}`);
      assert.ok(maxAbsGrad > 1e-3, 'second-order gradient vanished');
    });
  });
});

describe('argument checks name the op and the shapes', () => {
  it('rejects mismatched channels, features and ranks with a clear message', () => {
    scope(() => {
      assert.throws(() => F.conv2d(zeros([1, 3, 8, 8]), zeros([4, 1, 3, 3])), /conv2d: input \[1,3,8,8\] has 3 channels but weight \[4,1,3,3\] expects 1/);
      assert.throws(() => F.conv2d(zeros([3, 8, 8]), zeros([4, 3, 3, 3])), /conv2d: input must be 4-D \[N,C,H,W\], got \[3,8,8\]/);
      assert.throws(() => F.linear(zeros([2, 5]), zeros([3, 4])), /linear: input \[2,5\] has 5 features but weight \[3,4\] expects 4/);
      assert.throws(() => F.conv2d(zeros([1, 1, 8, 8]), zeros([1, 1, 3, 3]), null, { stride: -1 }), /stride must be a non-negative integer/);
      assert.throws(() => F.crossEntropy(zeros([2, 3]), zeros([3], { dtype: 'int64' })), /disagree on the batch size/);
      assert.throws(() => F.convTranspose2d(zeros([1, 2, 4, 4]), zeros([3, 1, 2, 2])), /has 2 channels but weight \[3,1,2,2\] expects 3/);
    });
  });
});
