/** Autocast regions: which ops run in bfloat16, nesting, float32 parameters and input gradients. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { autocast, autocastState, fullPrecision, grad, manualSeed, randn, scope } from '../../src/tensor/index.js';
import { conv2d, crossEntropy, linear } from '../../src/nn/functional.js';

describe('autocast', () => {
  it('runs convolutions and linear layers in bfloat16 and losses in float32, inside the region only', () => {
    scope(() => {
      manualSeed(1);
      const x = randn([4, 3, 8, 8]);
      const w = randn([5, 3, 3, 3]);
      const fc = randn([2, 5 * 6 * 6]);
      const y = randn([4]).gt(0).long();
      assert.equal(conv2d(x, w).dtype, 'float32');
      autocast('bfloat16', () => {
        const h = conv2d(x, w);
        assert.equal(h.dtype, 'bfloat16');
        const logits = linear(h.flatten(1), fc);
        assert.equal(logits.dtype, 'bfloat16');
        assert.equal(crossEntropy(logits, y).dtype, 'float32', 'cross-entropy is on the float32 list');
        assert.equal(x.add(1).dtype, 'float32', 'element-wise ops keep their input type');
        assert.equal(fullPrecision(() => conv2d(x, w)).dtype, 'float32', 'fullPrecision() switches it off inside');
        assert.equal(conv2d(x, w).dtype, 'bfloat16', 'and back on after');
      });
      assert.equal(conv2d(x, w).dtype, 'float32');
    });
  });

  it('nests and restores the previous state, also when the callback throws', () => {
    assert.deepEqual(autocastState(), { enabled: false, dtype: 'bfloat16' });
    autocast('bfloat16', () => {
      autocast('bfloat16', () => assert.equal(autocastState().enabled, true));
      assert.equal(autocastState().enabled, true, 'the inner exit keeps the outer region');
      fullPrecision(() => assert.equal(autocastState().enabled, false));
    });
    assert.equal(autocastState().enabled, false);
    assert.throws(() => autocast('bfloat16', () => { throw new Error('boom'); }), /boom/);
    assert.equal(autocastState().enabled, false, 'restored after a throw');
    assert.throws(() => autocast('float16', () => 0), /CPU autocast runs in 'bfloat16' only/);
    assert.throws(() => autocast('int8' as never, () => 0), /dtype must be 'bfloat16' or 'float16'/);
  });

  it('gives float32 input gradients close to the float32 ones, with float32 parameters untouched', () => {
    scope(() => {
      manualSeed(2);
      const x = randn([16, 1, 12, 12]).requiresGrad_();
      const w = randn([8, 1, 5, 5]).mul(0.2).requiresGrad_();
      const fc = randn([10, 8 * 8 * 8]).mul(0.05).requiresGrad_();
      const y = randn([16]).abs().mul(3).long().clamp(0, 9);
      const loss = () => crossEntropy(linear(conv2d(x, w).relu().flatten(1), fc), y);
      const [reference] = grad(loss(), [x]);
      const [mixed] = autocast('bfloat16', () => grad(loss(), [x]));
      assert.equal(mixed!.dtype, 'float32');
      const relative = mixed!.sub(reference!).norm().item() / reference!.norm().item();
      assert.ok(relative < 0.05, `relative gradient error ${relative}`);
      // Sign agreement is what an L-inf attack step uses.
      const agree = mixed!.sign().eq(reference!.sign()).float().mean().item();
      assert.ok(agree > 0.97, `sign agreement ${agree}`);
      assert.equal(w.dtype, 'float32');
      assert.equal(fc.dtype, 'float32');
    });
  });
});
