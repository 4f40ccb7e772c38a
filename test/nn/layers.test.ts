/** Layers: output shapes, gradient flow to every parameter, BatchNorm statistics, init bounds, layouts, attention math. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Flatten, GELU, GroupNorm, Identity, LayerNorm,
  LeakyReLU, Linear, MaxPool2d, Module, MultiheadAttention, ReLU, SelfAttention2d, Sigmoid, Tanh, Upsample, F, init,
} from '../../src/nn/index.js';
import { cat, manualSeed, noGrad, randn, randnLike, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { assertTensor } from '../helpers/assert.js';

interface Case {
  name: string;
  make: () => Module;
  input: number[];
  output: number[];
}

const cases: Case[] = [
  { name: 'Conv2d stride 2', make: () => new Conv2d(3, 4, 3, { padding: 1, stride: 2 }), input: [2, 3, 9, 9], output: [2, 4, 5, 5] },
  { name: "Conv2d 'same' dilated, grouped", make: () => new Conv2d(4, 6, 3, { padding: 'same', dilation: 2, groups: 2 }), input: [2, 4, 8, 8], output: [2, 6, 8, 8] },
  { name: 'ConvTranspose2d', make: () => new ConvTranspose2d(4, 2, 3, { stride: 2, padding: 1, outputPadding: 1 }), input: [2, 4, 5, 5], output: [2, 2, 10, 10] },
  { name: 'Linear 2-D', make: () => new Linear(6, 3), input: [5, 6], output: [5, 3] },
  { name: 'Linear 3-D', make: () => new Linear(6, 3), input: [2, 5, 6], output: [2, 5, 3] },
  { name: 'BatchNorm2d', make: () => new BatchNorm2d(3), input: [4, 3, 5, 5], output: [4, 3, 5, 5] },
  { name: 'LayerNorm', make: () => new LayerNorm([3, 5]), input: [2, 3, 5], output: [2, 3, 5] },
  { name: 'GroupNorm', make: () => new GroupNorm(2, 4), input: [2, 4, 3, 3], output: [2, 4, 3, 3] },
  { name: 'MaxPool2d', make: () => new MaxPool2d(2), input: [1, 2, 5, 5], output: [1, 2, 2, 2] },
  { name: 'MaxPool2d ceil', make: () => new MaxPool2d(2, { ceilMode: true }), input: [1, 2, 5, 5], output: [1, 2, 3, 3] },
  { name: 'AvgPool2d', make: () => new AvgPool2d(3, { stride: 2, padding: 1 }), input: [1, 2, 6, 6], output: [1, 2, 3, 3] },
  { name: 'AdaptiveAvgPool2d', make: () => new AdaptiveAvgPool2d([2, 3]), input: [1, 2, 7, 8], output: [1, 2, 2, 3] },
  { name: 'Dropout', make: () => new Dropout(0.2), input: [4, 10], output: [4, 10] },
  { name: 'Flatten', make: () => new Flatten(), input: [2, 3, 4, 5], output: [2, 60] },
  { name: 'ReLU', make: () => new ReLU(), input: [3, 4], output: [3, 4] },
  { name: 'GELU', make: () => new GELU(), input: [3, 4], output: [3, 4] },
  { name: 'Sigmoid', make: () => new Sigmoid(), input: [3, 4], output: [3, 4] },
  { name: 'Tanh', make: () => new Tanh(), input: [3, 4], output: [3, 4] },
  { name: 'LeakyReLU', make: () => new LeakyReLU({ negativeSlope: 0.2 }), input: [3, 4], output: [3, 4] },
  { name: 'Upsample nearest', make: () => new Upsample({ scaleFactor: 2 }), input: [1, 2, 3, 4], output: [1, 2, 6, 8] },
  { name: 'Upsample bilinear size', make: () => new Upsample({ size: [5, 7], mode: 'bilinear' }), input: [1, 2, 3, 4], output: [1, 2, 5, 7] },
  { name: 'Identity', make: () => new Identity(), input: [2, 3], output: [2, 3] },
  { name: 'MultiheadAttention', make: () => new MultiheadAttention(6, 2), input: [2, 4, 6], output: [2, 4, 6] },
  { name: 'SelfAttention2d', make: () => new SelfAttention2d(8, { heads: 4 }), input: [2, 8, 3, 5], output: [2, 8, 3, 5] },
];

describe('layers', () => {
  for (const c of cases) {
    it(`${c.name}: output shape, finite non-zero gradients for the input and every parameter`, () => {
      manualSeed(3);
      const layer = c.make();
      scope(() => {
        const x = randn(c.input).requiresGrad_();
        const y = layer.forward(x);
        assert.deepEqual([...y.shape], c.output);
        // A random projection as the loss, so that no gradient cancels by symmetry (as sum() would for norms).
        y.mul(randnLike(y)).sum().backward();
        for (const [name, t] of [['input', x] as const, ...layer.namedParameters()]) {
          const g = t.grad;
          assert.ok(g !== null, `${name} has no gradient`);
          assert.deepEqual([...g.shape], [...t.shape], `${name} gradient shape`);
          assert.ok(g.isfinite().all(), `${name} gradient is not finite`);
          assert.ok(g.abs().sum().item() > 0, `${name} gradient is zero`);
        }
      });
      layer.dispose();
    });
  }

  it('BatchNorm2d: batch statistics and running-stat updates in training, running statistics in evaluation', () => {
    const values = [1, 2, 3, 4, 5, 6, 7, 9, -1, 0, 2, 2, 4, 4, 8, 0]; // [N=2, C=2, H=2, W=2]
    const channel = (c: number): number[] => [0, 1].flatMap((n) => values.slice(n * 8 + c * 4, n * 8 + c * 4 + 4));
    const stats = [0, 1].map((c) => {
      const v = channel(c);
      const mean = v.reduce((a, b) => a + b, 0) / v.length;
      const ss = v.reduce((a, b) => a + (b - mean) ** 2, 0);
      return { mean, biased: ss / v.length, unbiased: ss / (v.length - 1) };
    });
    const bn = new BatchNorm2d(2, { momentum: 0.25 });
    noGrad(() => {
      bn.weight!.copy_(tensor([2, 0.5]));
      bn.bias!.copy_(tensor([1, -1]));
    });
    const w = [2, 0.5];
    const b = [1, -1];
    scope(() => {
      const x = tensor(values, { shape: [2, 2, 2, 2] });
      const y = bn.forward(x);
      const expected = values.map((v, i) => {
        const c = Math.floor(i / 4) % 2;
        const s = stats[c]!;
        return ((v - s.mean) / Math.sqrt(s.biased + 1e-5)) * w[c]! + b[c]!;
      });
      assertTensor(y, [2, 2, 2, 2], expected, 1e-5, 'training output');
      assertTensor(bn.runningMean!, [2], stats.map((s) => 0.25 * s.mean), 1e-6, 'running mean');
      assertTensor(bn.runningVar!, [2], stats.map((s) => 0.75 + 0.25 * s.unbiased), 1e-5, 'running var (unbiased)');
      assert.equal(bn.numBatchesTracked!.dtype, 'int64');
      assert.equal(bn.numBatchesTracked!.item(), 1);

      bn.forward(x);
      assertTensor(bn.runningMean!, [2], stats.map((s) => 0.75 * 0.25 * s.mean + 0.25 * s.mean), 1e-6, 'running mean after 2 steps');
      assert.equal(bn.numBatchesTracked!.item(), 2);

      bn.eval();
      const rm = bn.runningMean!.toNumbers();
      const rv = bn.runningVar!.toNumbers();
      const evalOut = bn.forward(x);
      assertTensor(evalOut, [2, 2, 2, 2], values.map((v, i) => {
        const c = Math.floor(i / 4) % 2;
        return ((v - rm[c]!) / Math.sqrt(rv[c]! + 1e-5)) * w[c]! + b[c]!;
      }), 1e-5, 'evaluation output');
      assert.equal(bn.numBatchesTracked!.item(), 2, 'evaluation does not count batches');
    });
    bn.dispose();
  });

  it('BatchNorm2d: momentum null is the cumulative average; without running stats batch statistics are always used', () => {
    const cumulative = new BatchNorm2d(1, { momentum: null });
    const untracked = new BatchNorm2d(1, { trackRunningStats: false, affine: false });
    assert.deepEqual([...untracked.stateDict().keys()], []);
    scope(() => {
      cumulative.forward(tensor([1, 3], { shape: [2, 1, 1, 1] }));
      cumulative.forward(tensor([5, 7], { shape: [2, 1, 1, 1] }));
      assertTensor(cumulative.runningMean!, [1], [4], 1e-6, 'mean of batch means');
      untracked.eval();
      assertTensor(untracked.forward(tensor([1, 3], { shape: [2, 1, 1, 1] })), [2, 1, 1, 1], [-1, 1], 1e-4, 'batch statistics in eval');
    });
    cumulative.dispose();
  });

  it('initialises as PyTorch: kaiming-uniform(a=sqrt 5) weights and U(+-1/sqrt(fan_in)) biases, xavier for attention', () => {
    manualSeed(11);
    const within = (t: Tensor, bound: number, what: string): void => {
      const max = t.abs().max().item();
      assert.ok(max <= bound * (1 + 1e-6), `${what}: |values| up to ${max} exceed the bound ${bound}`);
      assert.ok(max > 0.8 * bound, `${what}: values up to ${max} do not fill the bound ${bound}`);
    };
    const conv = new Conv2d(3, 32, 3);
    within(conv.weight, 1 / Math.sqrt(27), 'conv weight');
    within(conv.bias!, 1 / Math.sqrt(27), 'conv bias');
    const convT = new ConvTranspose2d(8, 40, 3, { groups: 2 }); // weight [8, 20, 3, 3]: fan_in = size(1) * 9
    assert.deepEqual([...convT.weight.shape], [8, 20, 3, 3]);
    within(convT.weight, 1 / Math.sqrt(180), 'convT weight');
    within(convT.bias!, 1 / Math.sqrt(180), 'convT bias');
    const linear = new Linear(10, 40);
    within(linear.weight, 1 / Math.sqrt(10), 'linear weight');
    within(linear.bias!, 1 / Math.sqrt(10), 'linear bias');
    const mha = new MultiheadAttention(16, 4);
    within(mha.inProjWeight, Math.sqrt(6 / (16 + 48)), 'in_proj_weight (xavier)');
    assert.equal(mha.inProjBias!.abs().max().item(), 0);
    assert.equal(mha.outProj.bias!.abs().max().item(), 0);
    within(mha.outProj.weight, 1 / Math.sqrt(16), 'out_proj weight');
    const bn = new BatchNorm2d(4);
    assert.deepEqual([bn.weight!, bn.bias!, bn.runningMean!, bn.runningVar!].map((t) => t.toNumbers()), [[1, 1, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [1, 1, 1, 1]]);
    assert.deepEqual(init.calculateFanInAndFanOut(convT.weight), { fanIn: 180, fanOut: 72 });
    assert.equal(init.calculateGain('leaky_relu', Math.sqrt(5)), Math.sqrt(1 / 3));
    for (const m of [conv, convT, linear, mha, bn]) m.dispose();
  });

  it('stores convolution weights channels-last while state dicts and results stay logical', () => {
    manualSeed(5);
    const conv = new Conv2d(3, 4, 3, { padding: 1 });
    assert.equal(conv.weight.isContiguous(), false, 'weight is channels-last');
    scope(() => {
      const logical = conv.weight.contiguous();
      assert.ok(logical.isContiguous());
      assert.deepEqual(conv.weight.toNumbers(), logical.toNumbers(), 'toArray reads logical order');
      const x = randn([2, 3, 6, 6]);
      const reference = F.conv2d(x, logical, conv.bias, { padding: 1 });
      assert.ok(conv.forward(x).allclose(reference, 1e-5, 1e-6));
      assert.ok(conv.forward(x.channelsLast()).allclose(reference, 1e-5, 1e-6));
      // Loading a row-major tensor keeps the weight's channels-last layout.
      conv.loadStateDict({ weight: logical.mul(2), bias: conv.bias!.clone() });
      assert.equal(conv.weight.isContiguous(), false);
      assert.ok(conv.weight.allclose(logical.mul(2)));
    });
    conv.dispose();
  });

  it('ReLU inplace overwrites and returns its input; Dropout scales in training and is the identity in evaluation', () => {
    scope(() => {
      const x = tensor([-1, 2, -3, 4]);
      const y = new ReLU({ inplace: true }).forward(x);
      assert.equal(y, x);
      assert.deepEqual(x.toNumbers(), [0, 2, 0, 4]);

      manualSeed(1);
      const drop = new Dropout(0.25);
      const ones = tensor(new Float32Array(4000).fill(1), { shape: [4000] });
      const kept = drop.forward(ones).toNumbers();
      const zeros = kept.filter((v) => v === 0).length;
      assert.ok(Math.abs(zeros / 4000 - 0.25) < 0.03, `dropped ${zeros / 4000}`);
      assert.ok(kept.every((v) => v === 0 || Math.abs(v - 1 / 0.75) < 1e-6));
      drop.eval();
      assert.ok(drop.forward(ones).equal(ones));
    });
  });

  it('Upsample nearest repeats pixels', () => {
    scope(() => {
      const y = new Upsample({ scaleFactor: 2 }).forward(tensor([[[[1, 2], [3, 4]]]]));
      assertTensor(y, [1, 1, 4, 4], [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
    });
  });

  it('SelfAttention2d computes x + MHA(LayerNorm(x)) over positions, with softmax(QK^T/sqrt(d_k))V per head', () => {
    manualSeed(9);
    const block = new SelfAttention2d(6, { heads: 2 });
    const { attn, norm } = block;
    // Non-trivial LayerNorm and biases so that every term matters.
    noGrad(() => {
      norm.weight!.copy_(randn([6]));
      norm.bias!.copy_(randn([6]));
      attn.inProjBias!.copy_(randn([18]));
      attn.outProj.bias!.copy_(randn([6]));
    });
    scope(() => {
      const x = randn([2, 6, 3, 4]);
      const tokens = x.flatten(2).transpose(1, 2); // [N, L, C]
      const y = F.layerNorm(tokens, [6], norm.weight, norm.bias);
      const heads = [0, 1].map((h) => {
        const rows = (i: number): [Tensor, Tensor] => [attn.inProjWeight.narrow(0, i * 6 + h * 3, 3), attn.inProjBias!.narrow(0, i * 6 + h * 3, 3)];
        const [q, k, v] = [0, 1, 2].map((i) => F.linear(y, ...rows(i))) as [Tensor, Tensor, Tensor];
        return q.matmul(k.transpose(1, 2)).div(Math.sqrt(3)).softmax(-1).matmul(v);
      });
      const expected = tokens.add(F.linear(cat(heads, -1), attn.outProj.weight, attn.outProj.bias)).transpose(1, 2).reshape(2, 6, 3, 4);
      const actual = block.forward(x);
      assert.ok(actual.allclose(expected, 1e-5, 1e-5), `max diff ${actual.sub(expected).abs().max().item()}`);
      assert.ok(block.forward(x.channelsLast()).allclose(expected, 1e-5, 1e-5), 'channels-last input');
    });
    assert.equal(block.toString(), 'SelfAttention2d(6, heads=2\n  (norm): LayerNorm([6])\n  (attn): MultiheadAttention(6, numHeads=2\n    (out_proj): Linear(6, 6)\n  )\n)');
    block.dispose();
  });

  it('rejects bad configurations with clear errors', () => {
    assert.throws(() => new Conv2d(3, 4, 3, { groups: 2 }), /divisible by groups/);
    assert.throws(() => new Conv2d(3, 4, 2, { padding: 'same' }), /padding 'same'/);
    assert.throws(() => new ConvTranspose2d(2, 2, 3, { stride: 2, outputPadding: 2 }), /outputPadding/);
    assert.throws(() => new MultiheadAttention(6, 4), /multiple of numHeads/);
    assert.throws(() => new GroupNorm(3, 4), /divisible/);
    assert.throws(() => new Upsample({}), /exactly one of size and scaleFactor/);
    const bn = new BatchNorm2d(3);
    scope(() => assert.throws(() => bn.forward(randn([2, 4, 2, 2])), /expected input \[N,3,H,W\], got \[2,4,2,2\]/));
    bn.dispose();
  });
});
