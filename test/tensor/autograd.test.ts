/** Autograd: backward, .grad, retainGrad, grad() with and without createGraph, grad mode regions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { enableGrad, grad, gradOrNull, isGradEnabled, noGrad, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { assertTensor } from '../helpers/assert.js';

function gradOf(t: Tensor): Tensor {
  const g = t.grad;
  assert.ok(g !== null, 'expected a gradient');
  return g;
}

describe('autograd', () => {
  it('back-propagates a scalar and accumulates into .grad until it is dropped', () => {
    scope(() => {
      const x = tensor([1, 2, 3]).requiresGrad_();
      assert.equal(x.requiresGrad, true);
      assert.equal(x.isLeaf, true);
      x.mul(x).sum().backward();
      assertTensor(gradOf(x), [3], [2, 4, 6]);
      x.mul(3).sum().backward();
      assertTensor(gradOf(x), [3], [5, 7, 9], 1e-6, 'accumulated');
      x.setGrad(null);
      assert.equal(x.grad, null);
      x.sum().backward();
      assertTensor(gradOf(x), [3], [1, 1, 1]);
    });
  });

  it('back-propagates a non-scalar output with an explicit gradient', () => {
    scope(() => {
      const x = tensor([1, 2]).requiresGrad_();
      const y = x.mul(tensor([3, 4]));
      assert.equal(y.gradFn, 'MulBackward0');
      y.backward(tensor([1, 10]));
      assertTensor(gradOf(x), [2], [3, 40]);
    });
  });

  it('keeps the gradient of an intermediate with retainGrad', () => {
    scope(() => {
      const x = tensor([2]).requiresGrad_();
      const h = x.mul(3).retainGrad();
      h.pow(2).sum().backward();
      assertTensor(gradOf(h), [1], [12]);
      assertTensor(gradOf(x), [1], [36]);
    });
  });

  it('grad() differentiates with respect to inputs without touching parameter .grad', () => {
    scope(() => {
      const w = tensor([2, 3]).requiresGrad_();
      const x = tensor([1, 1]).requiresGrad_();
      const [gx] = grad(w.mul(x).sum(), x);
      assertTensor(gx as Tensor, [2], [2, 3]);
      assert.equal(w.grad, null, 'parameter gradient untouched');
      assert.equal(x.grad, null);
      const unused = tensor([1]).requiresGrad_();
      assert.throws(() => grad(x.sum(), [x, unused]), /not have been used/);
      const [a, b] = gradOrNull(x.sum(), [x, unused]);
      assertTensor(a as Tensor, [2], [1, 1]);
      assert.equal(b, null);
    });
  });

  it('computes second derivatives with createGraph (double backward)', () => {
    scope(() => {
      const x = tensor([1, 2]).requiresGrad_();
      const [dx] = grad(x.pow(3).sum(), x, { createGraph: true });
      assertTensor(dx as Tensor, [2], [3, 12]);
      const [ddx] = grad((dx as Tensor).sum(), x);
      assertTensor(ddx as Tensor, [2], [6, 12]);
    });
  });

  it('weights several outputs with gradOutputs and can retain the graph', () => {
    scope(() => {
      const x = tensor([1, 2]).requiresGrad_();
      const y = x.mul(2);
      const [g1] = grad(y, x, { gradOutputs: [tensor([1, 1])], retainGraph: true });
      const [g2] = grad(y, x, { gradOutputs: [tensor([0, 5])] });
      assertTensor(g1 as Tensor, [2], [2, 2]);
      assertTensor(g2 as Tensor, [2], [0, 10]);
      assert.throws(() => grad(y, x, { gradOutputs: [] }), /gradOutputs/);
    });
  });

  it('switches recording off in noGrad and back on in enableGrad, restoring the mode after errors', () => {
    scope(() => {
      const x = tensor([1]).requiresGrad_();
      assert.equal(isGradEnabled(), true);
      const y = noGrad(() => {
        assert.equal(isGradEnabled(), false);
        const inner = enableGrad(() => x.mul(2));
        assert.equal(inner.requiresGrad, true);
        return x.mul(2);
      });
      assert.equal(y.requiresGrad, false);
      assert.equal(isGradEnabled(), true);
      assert.throws(() => noGrad(() => { throw new Error('boom'); }), /boom/);
      assert.equal(isGradEnabled(), true, 'grad mode restored after an exception');
    });
  });
});
