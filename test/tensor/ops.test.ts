/** Every op group of the engine against hand-computed values. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  arange, cat, eye, full, linspace, manualSeed, ones, rand, randint, randn, randperm, scope, stack, tensor, where, zeros,
  zerosLike, onesLike, fullLike, type Tensor,
} from '../../src/tensor/index.js';
import { assertClose, assertTensor } from '../helpers/assert.js';

describe('creation and conversion', () => {
  it('round-trips every supported typed array with its shape', () => {
    scope(() => {
      assertTensor(tensor(new Float32Array([1.5, -2, 3, 4]), { shape: [2, 2] }), [2, 2], [1.5, -2, 3, 4]);
      const f64 = tensor(new Float64Array([0.1, 0.2]));
      assert.equal(f64.dtype, 'float64');
      assert.deepEqual(Array.from(f64.toArray() as Float64Array), [0.1, 0.2]);
      const i32 = tensor(new Int32Array([-7, 8, 9]));
      assert.equal(i32.dtype, 'int32');
      assert.deepEqual(Array.from(i32.toArray() as Int32Array), [-7, 8, 9]);
      const i64 = tensor(new BigInt64Array([-(2n ** 40n), 5n]));
      assert.equal(i64.dtype, 'int64');
      assert.deepEqual(Array.from(i64.toArray() as BigInt64Array), [-(2n ** 40n), 5n]);
      const u8 = tensor(new Uint8Array([0, 255, 7]));
      assert.equal(u8.dtype, 'uint8');
      assert.deepEqual(Array.from(u8.toArray() as Uint8Array), [0, 255, 7]);
      const b = tensor(new Uint8Array([1, 0, 1]), { dtype: 'bool' });
      assert.equal(b.dtype, 'bool');
      assert.deepEqual(Array.from(b.toArray() as Uint8Array), [1, 0, 1]);
    });
  });

  it('builds tensors from nested arrays, numbers and booleans', () => {
    scope(() => {
      assertTensor(tensor([[1, 2, 3], [4, 5, 6]]), [2, 3], [1, 2, 3, 4, 5, 6]);
      const s = tensor(3.25);
      assert.deepEqual([...s.shape], []);
      assert.equal(s.item(), 3.25);
      assert.equal(tensor([true, false]).dtype, 'bool');
      assert.equal(tensor([1, 2], { dtype: 'int64' }).dtype, 'int64');
      assert.throws(() => tensor([[1, 2], [3]]), /ragged/);
    });
  });

  it('creates filled tensors, ranges and identity', () => {
    scope(() => {
      assertTensor(zeros([2, 1]), [2, 1], [0, 0]);
      assertTensor(ones([3]), [3], [1, 1, 1]);
      assertTensor(full([2], 7.5), [2], [7.5, 7.5]);
      const a = arange(0, 5);
      assert.equal(a.dtype, 'int64');
      assertTensor(a, [5], [0, 1, 2, 3, 4]);
      assertTensor(arange(1, 2, 0.25), [4], [1, 1.25, 1.5, 1.75]);
      assertTensor(linspace(0, 1, 5), [5], [0, 0.25, 0.5, 0.75, 1]);
      assertTensor(eye(2), [2, 2], [1, 0, 0, 1]);
      const x = tensor([[1, 2]]);
      assertTensor(zerosLike(x), [1, 2], [0, 0]);
      assertTensor(onesLike(x), [1, 2], [1, 1]);
      assertTensor(fullLike(x, -1), [1, 2], [-1, -1]);
    });
  });

  it('draws reproducible random numbers after manualSeed', () => {
    scope(() => {
      manualSeed(123);
      const a = rand([5]).toNumbers();
      const n = randn([5]).toNumbers();
      const i = randint(3, 7, [50]).toNumbers();
      manualSeed(123);
      assert.deepEqual(rand([5]).toNumbers(), a);
      assert.deepEqual(randn([5]).toNumbers(), n);
      assert.deepEqual(randint(3, 7, [50]).toNumbers(), i);
      assert.ok(a.every((v) => v >= 0 && v < 1));
      assert.ok(i.every((v) => v >= 3 && v < 7 && Number.isInteger(v)));
      assert.deepEqual(randperm(6).toNumbers().sort(), [0, 1, 2, 3, 4, 5]);
      const big = randn([20000]);
      assertClose(big.mean().item(), 0, 0.05, 'randn mean');
      assertClose(big.std().item(), 1, 0.05, 'randn std');
    });
  });

  it('casts, clones, detaches and reports shape, dtype, numel, device', () => {
    scope(() => {
      const x = tensor([[1.7, -2.2]]);
      assertTensor(x.to('int32'), [1, 2], [1, -2]);
      assert.equal(x.to('float64').dtype, 'float64');
      const c = x.clone();
      c.add_(1);
      assertTensor(x, [1, 2], [1.7, -2.2], 1e-6, 'clone is a copy');
      assert.equal(x.numel, 2);
      assert.equal(x.ndim, 2);
      assert.equal(x.device, 'cpu');
      assert.equal(x.size(-1), 2);
      const t = tensor([[1, 2, 3], [4, 5, 6]]).t();
      assert.equal(t.isContiguous(), false);
      assert.equal(t.contiguous().isContiguous(), true);
      assertTensor(t.contiguous(), [3, 2], [1, 4, 2, 5, 3, 6]);
      const leaf = tensor([1]).requiresGrad_();
      assert.equal(leaf.mul(2).detach().requiresGrad, false);
      assert.equal(tensor([5]).item(), 5);
    });
  });
});

describe('arithmetic, broadcasting and in-place ops', () => {
  it('adds, subtracts, multiplies and divides tensors and scalars with broadcasting', () => {
    scope(() => {
      const a = tensor([[1, 2, 3], [4, 5, 6]]);
      const row = tensor([10, 20, 30]);
      assertTensor(a.add(row), [2, 3], [11, 22, 33, 14, 25, 36]);
      assertTensor(a.add(row, 0.5), [2, 3], [6, 12, 18, 9, 15, 21]);
      assertTensor(a.sub(1), [2, 3], [0, 1, 2, 3, 4, 5]);
      assertTensor(a.mul(tensor([[2], [-1]])), [2, 3], [2, 4, 6, -4, -5, -6]);
      assertTensor(a.div(2), [2, 3], [0.5, 1, 1.5, 2, 2.5, 3]);
      assertTensor(a.rsub(1), [2, 3], [0, -1, -2, -3, -4, -5]);
      assertTensor(a.pow(2), [2, 3], [1, 4, 9, 16, 25, 36]);
      assertTensor(a.remainder(4), [2, 3], [1, 2, 3, 0, 1, 2]);
      const ints = tensor([1, 2], { dtype: 'int64' });
      assert.equal(ints.add(2).dtype, 'int64', 'int + integer literal stays int');
      assert.equal(ints.mul(0.5).dtype, 'float32', 'int * fractional literal promotes');
    });
  });

  it('updates in place: add_, mul_, addcmul_, addcdiv_, clamp_, copy_, zero_, lerp_', () => {
    scope(() => {
      const x = tensor([1, 2, 3]);
      x.add_(tensor([1, 1, 1]), 2).mul_(2);
      assertTensor(x, [3], [6, 8, 10]);
      x.addcmul_(tensor([1, 2, 3]), tensor([2, 2, 2]), 0.5);
      assertTensor(x, [3], [7, 10, 13]);
      x.addcdiv_(tensor([2, 4, 6]), tensor([2, 2, 2]), -1);
      assertTensor(x, [3], [6, 8, 10]);
      x.clamp_(7, 9);
      assertTensor(x, [3], [7, 8, 9]);
      x.sub_(1).div_(2);
      assertTensor(x, [3], [3, 3.5, 4]);
      x.lerp_(tensor([5, 5.5, 6]), 0.5);
      assertTensor(x, [3], [4, 4.5, 5]);
      x.copy_(tensor([9]));
      assertTensor(x, [3], [9, 9, 9]);
      x.zero_();
      assertTensor(x, [3], [0, 0, 0]);
      const y = tensor([-4, 9]);
      y.abs_().sqrt_().neg_();
      assertTensor(y, [2], [-2, -3]);
      y.sign_();
      assertTensor(y, [2], [-1, -1]);
      const m = tensor([1, 2, 3]);
      m.maskedFill_(tensor([true, false, true]), 0);
      assertTensor(m, [3], [0, 2, 0]);
      m.fill_(4);
      assertTensor(m, [3], [4, 4, 4]);
    });
  });

  it('compares, combines logically and selects with where', () => {
    scope(() => {
      const a = tensor([1, 2, 3]);
      const b = tensor([3, 2, 1]);
      assertTensor(a.eq(b), [3], [0, 1, 0]);
      assertTensor(a.ne(2), [3], [1, 0, 1]);
      assertTensor(a.lt(b), [3], [1, 0, 0]);
      assertTensor(a.le(2), [3], [1, 1, 0]);
      assertTensor(a.gt(b), [3], [0, 0, 1]);
      assertTensor(a.ge(2), [3], [0, 1, 1]);
      assert.equal(a.eq(b).dtype, 'bool');
      assertTensor(a.gt(1).logicalAnd(a.lt(3)), [3], [0, 1, 0]);
      assertTensor(a.lt(2).logicalOr(a.gt(2)), [3], [1, 0, 1]);
      assertTensor(a.lt(2).logicalXor(a.lt(3)), [3], [0, 1, 0]);
      assertTensor(a.lt(2).logicalNot(), [3], [0, 1, 1]);
      assertTensor(where(a.gt(1), a, b), [3], [3, 2, 3]);
      assertTensor(where(a.gt(1), 0, b), [3], [3, 0, 0]);
      assertTensor(where(a.gt(1), a, -1), [3], [-1, 2, 3]);
      assert.ok(a.equal(tensor([1, 2, 3])));
      assert.ok(a.allclose(tensor([1, 2, 3.000001])));
      assert.ok(a.gt(0).all());
      assert.ok(!a.gt(2).all());
      assert.ok(a.gt(2).any());
      assertTensor(tensor([0, 1]).log().isfinite(), [2], [0, 1]);
      assertTensor(tensor([0]).div(0).isnan(), [1], [1]);
    });
  });

  it('computes unary math: abs, sign, sqrt, exp, log, pow, square, reciprocal, rounding', () => {
    scope(() => {
      const x = tensor([-2, 0.25, 4]);
      assertTensor(x.abs(), [3], [2, 0.25, 4]);
      assertTensor(x.sign(), [3], [-1, 1, 1]);
      assertTensor(x.abs().sqrt(), [3], [Math.SQRT2, 0.5, 2]);
      assertTensor(x.abs().rsqrt(), [3], [1 / Math.SQRT2, 2, 0.5], 1e-5);
      assertTensor(x.exp(), [3], [Math.exp(-2), Math.exp(0.25), Math.exp(4)], 1e-4);
      assertTensor(x.abs().log(), [3], [Math.log(2), Math.log(0.25), Math.log(4)]);
      assertTensor(x.abs().log1p(), [3], [Math.log(3), Math.log(1.25), Math.log(5)]);
      assertTensor(x.square(), [3], [4, 0.0625, 16]);
      assertTensor(x.reciprocal(), [3], [-0.5, 4, 0.25]);
      assertTensor(x.pow(tensor([2, 2, 0.5])), [3], [4, 0.0625, 2]);
      assertTensor(tensor([-1.5, 1.5, 2.4]).floor(), [3], [-2, 1, 2]);
      assertTensor(tensor([-1.5, 1.5, 2.4]).ceil(), [3], [-1, 2, 3]);
      assertTensor(tensor([-1.5, 2.5, 2.4]).round(), [3], [-2, 2, 2]);
      assertTensor(tensor([0, Math.PI / 2]).sin(), [2], [0, 1]);
      assertTensor(tensor([0, Math.PI]).cos(), [2], [1, -1]);
      assertTensor(tensor([0]).erf(), [1], [0]);
      assertTensor(tensor([0, 1000]).sigmoid(), [2], [0.5, 1]);
      assertTensor(tensor([0, 1000]).tanh(), [2], [0, 1]);
      assertTensor(tensor([-1, 2]).relu(), [2], [0, 2]);
    });
  });

  it('takes element-wise min/max and clamps with scalar and tensor bounds', () => {
    scope(() => {
      const a = tensor([1, 5, 3]);
      const b = tensor([4, 2, 3]);
      assertTensor(a.maximum(b), [3], [4, 5, 3]);
      assertTensor(a.minimum(b), [3], [1, 2, 3]);
      assertTensor(a.clamp(2, 4), [3], [2, 4, 3]);
      assertTensor(a.clamp(null, 2), [3], [1, 2, 2]);
      assertTensor(a.clamp(2), [3], [2, 5, 3]);
      assertTensor(a.clamp(tensor([0, 6, 0]), tensor([0.5, 7, 9])), [3], [0.5, 6, 3]);
      assertTensor(a.max(), [], [5]);
      assertTensor(a.min(), [], [1]);
    });
  });
});

describe('reductions, softmax and indexing', () => {
  it('sums, averages and takes extrema over dims with keepdim', () => {
    scope(() => {
      const x = tensor([[1, 2, 3], [4, 5, 6]]);
      assertTensor(x.sum(), [], [21]);
      assertTensor(x.sum(0), [3], [5, 7, 9]);
      assertTensor(x.sum(1, { keepdim: true }), [2, 1], [6, 15]);
      assertTensor(x.mean([0, 1]), [], [3.5]);
      assertTensor(x.mean(1), [2], [2, 5]);
      assertTensor(x.amax(0), [3], [4, 5, 6]);
      assertTensor(x.amin(1, true), [2, 1], [1, 4]);
      assertTensor(x.argmax(1), [2], [2, 2]);
      assertTensor(x.argmax(), [], [5]);
      assertTensor(x.argmin(0), [3], [0, 0, 0]);
      const { values, indices } = tensor([[3, 9, 1], [7, 2, 8]]).maxAlong(1);
      assertTensor(values, [2], [9, 8]);
      assertTensor(indices, [2], [1, 2]);
      const mins = tensor([[3, 9, 1], [7, 2, 8]]).minAlong(0, true);
      assertTensor(mins.values, [1, 3], [3, 2, 1]);
      assert.equal(x.sum(null, { dtype: 'float64' }).dtype, 'float64');
      assertTensor(x.cumsum(1), [2, 3], [1, 3, 6, 4, 9, 15]);
      assertTensor(tensor([1, 2, 3, 4]).std(), [], [Math.sqrt(5 / 3)], 1e-6);
      assertTensor(tensor([1, 2, 3, 4]).var(null, { correction: 0 }), [], [1.25]);
      assertTensor(tensor([[0, Math.log(3)]]).logsumexp(1), [1], [Math.log(4)]);
    });
  });

  it('computes p-norms over dims, including L-inf', () => {
    scope(() => {
      const x = tensor([[3, -4], [1, 1]]);
      assertTensor(x.norm(2, 1), [2], [5, Math.SQRT2]);
      assertTensor(x.norm(1, 1), [2], [7, 2]);
      assertTensor(x.norm(Infinity, 1, true), [2, 1], [4, 1]);
      assertTensor(x.norm(), [], [Math.sqrt(27)], 1e-5);
    });
  });

  it('computes softmax and log-softmax', () => {
    scope(() => {
      const x = tensor([[0, Math.log(3)], [1, 1]]);
      assertTensor(x.softmax(1), [2, 2], [0.25, 0.75, 0.5, 0.5]);
      assertTensor(x.logSoftmax(1), [2, 2], [Math.log(0.25), Math.log(0.75), Math.log(0.5), Math.log(0.5)]);
    });
  });

  it('gathers, scatters, one-hot encodes, selects by index and by mask', () => {
    scope(() => {
      const x = tensor([[10, 11, 12], [20, 21, 22]]);
      const idx = tensor([[2], [0]], { dtype: 'int64' });
      assertTensor(x.gather(1, idx), [2, 1], [12, 20]);
      assertTensor(zeros([2, 3]).scatter(1, idx, 1), [2, 3], [0, 0, 1, 1, 0, 0]);
      assertTensor(zeros([2, 3]).scatter(1, idx, tensor([[5], [6]])), [2, 3], [0, 0, 5, 6, 0, 0]);
      assertTensor(zeros([3]).scatterAdd(0, tensor([0, 0, 2], { dtype: 'int64' }), tensor([1, 2, 3])), [3], [3, 0, 3]);
      assertTensor(tensor([2, 0], { dtype: 'int64' }).oneHot(3), [2, 3], [0, 0, 1, 1, 0, 0]);
      assertTensor(x.indexSelect(1, tensor([2, 0], { dtype: 'int64' })), [2, 2], [12, 10, 22, 20]);
      const mask = x.gt(15);
      assertTensor(x.maskedFill(mask, -1), [2, 3], [10, 11, 12, -1, -1, -1]);
      assertTensor(x.maskedSelect(x.remainder(2).eq(0)), [4], [10, 12, 20, 22]);
      assertTensor(tensor([0, 3, 0, 4]).nonzero(), [2, 1], [1, 3]);
      const y = zeros([3, 2]);
      y.indexCopy_(0, tensor([2, 0], { dtype: 'int64' }), tensor([[1, 2], [3, 4]]));
      assertTensor(y, [3, 2], [3, 4, 0, 0, 1, 2]);
      const top = tensor([1, 9, 3, 7]).topk(2);
      assertTensor(top.values, [2], [9, 7]);
      assertTensor(top.indices, [2], [1, 3]);
      const sorted = tensor([3, 1, 2]).sort(0, true);
      assertTensor(sorted.values, [3], [3, 2, 1]);
      assertTensor(sorted.indices, [3], [0, 2, 1]);
    });
  });
});

describe('shape ops and matrix products', () => {
  it('concatenates, stacks, reshapes, permutes and transposes', () => {
    scope(() => {
      const a = tensor([[1, 2], [3, 4]]);
      const b = tensor([[5, 6]]);
      assertTensor(cat([a, b], 0), [3, 2], [1, 2, 3, 4, 5, 6]);
      assertTensor(stack([a, a], 0).sum(0), [2, 2], [2, 4, 6, 8]);
      assertTensor(stack([tensor([1, 2]), tensor([3, 4])], 1), [2, 2], [1, 3, 2, 4]);
      assertTensor(a.reshape(4), [4], [1, 2, 3, 4]);
      assertTensor(a.reshape([1, 4]), [1, 4], [1, 2, 3, 4]);
      assertTensor(a.view(-1), [4], [1, 2, 3, 4]);
      assertTensor(a.transpose(0, 1), [2, 2], [1, 3, 2, 4]);
      const x = arange(0, 24).reshape(2, 3, 4);
      assertTensor(x.permute(2, 0, 1).select(0, 1), [2, 3], [1, 5, 9, 13, 17, 21]);
      assertTensor(x.flatten(1), [2, 12], x.toNumbers());
      assert.deepEqual([...x.flatten().shape], [24]);
    });
  });

  it('squeezes, unsqueezes, expands, narrows, slices, chunks, splits, flips and repeats', () => {
    scope(() => {
      const x = tensor([[[1], [2], [3]]]);
      assert.deepEqual([...x.squeeze().shape], [3]);
      assert.deepEqual([...x.squeeze(0).shape], [3, 1]);
      assert.deepEqual([...tensor([1, 2]).unsqueeze(0).shape], [1, 2]);
      assertTensor(tensor([[1], [2]]).expand(2, 3), [2, 3], [1, 1, 1, 2, 2, 2]);
      const r = arange(0, 10);
      assertTensor(r.narrow(0, 2, 3), [3], [2, 3, 4]);
      assertTensor(r.slice(0, 1, 8, 3), [3], [1, 4, 7]);
      assertTensor(r.slice(0, -3), [3], [7, 8, 9]);
      const chunks = r.chunk(3);
      assert.deepEqual(chunks.map((c) => c.numel), [4, 4, 2]);
      assert.deepEqual(r.split([3, 7]).map((c) => c.numel), [3, 7]);
      assert.deepEqual(r.split(4).map((c) => c.numel), [4, 4, 2]);
      assertTensor(tensor([[1, 2, 3]]).flip(1), [1, 3], [3, 2, 1]);
      assertTensor(tensor([1, 2]).repeat(2), [4], [1, 2, 1, 2]);
      assertTensor(tensor([1, 2, 3]).roll(1, 0), [3], [3, 1, 2]);
    });
  });

  it('multiplies matrices, batches of matrices and broadcasts matmul', () => {
    scope(() => {
      const a = tensor([[1, 2], [3, 4]]);
      const b = tensor([[5, 6], [7, 8]]);
      assertTensor(a.matmul(b), [2, 2], [19, 22, 43, 50]);
      assertTensor(a.mm(b), [2, 2], [19, 22, 43, 50]);
      assertTensor(stack([a, b]).bmm(stack([b, a])), [2, 2, 2], [19, 22, 43, 50, 23, 34, 31, 46]);
      assertTensor(a.matmul(tensor([1, 1])), [2], [3, 7]);
    });
  });
});

describe('channels-last layout', () => {
  it('restrides even one-channel images and keeps values and gradients', () => {
    scope(() => {
      const x = rand([2, 1, 3, 3]).requiresGrad_();
      const y = x.channelsLast();
      assert.ok(y.allclose(x, 0, 0));
      y.mul(tensor([[[[2]]]])).sum().backward();
      assertTensor(x.grad as Tensor, [2, 1, 3, 3], new Array(18).fill(2));
    });
  });
});
