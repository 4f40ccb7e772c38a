/** Tensor lifetime: scope(), keep(), dispose(), `using`, and errors for bad input. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { engineMemory, emptyCache, cudaAvailable, getNumThreads, ones, scope, scopeDepth, setNumThreads, tensor, tensorStats, TensorOpError, torchVersion, zeros, type Tensor } from '../../src/tensor/index.js';

function live(): number {
  return tensorStats().live;
}

describe('scope, keep and dispose', () => {
  it('frees everything created inside a scope except what it returns', () => {
    const before = live();
    const kept = scope(() => {
      const a = ones([4]);
      const b = a.mul(2);
      b.add(1);
      return b;
    });
    assert.equal(live(), before + 1, 'only the returned tensor survives');
    assert.deepEqual(kept.toNumbers(), [2, 2, 2, 2]);
    kept.dispose();
    assert.equal(live(), before);
  });

  it('finds returned tensors in arrays, plain objects and Maps', () => {
    const before = live();
    const out = scope(() => ({ list: [ones([1]), ones([1])], nested: { t: zeros([1]) }, map: new Map([['m', ones([2])]]) }));
    assert.equal(live(), before + 4);
    [...out.list, out.nested.t, out.map.get('m') as Tensor].forEach((t) => t.dispose());
    assert.equal(live(), before);
  });

  it('hands returned tensors to the enclosing scope, so nested scopes compose', () => {
    const before = live();
    scope(() => {
      const inner = scope(() => ones([2]).mul(3));
      assert.equal(scopeDepth(), 1);
      assert.deepEqual(inner.toNumbers(), [3, 3]);
    });
    assert.equal(live(), before, 'the outer scope freed the inner result');
  });

  it('keep() exempts a tensor from every scope', () => {
    const before = live();
    let kept: Tensor | undefined;
    scope(() => {
      kept = ones([3]).keep();
      scope(() => (kept as Tensor).add(1));
    });
    assert.equal(live(), before + 1);
    assert.deepEqual((kept as Tensor).toNumbers(), [1, 1, 1]);
    (kept as Tensor).dispose();
    assert.equal(live(), before);
  });

  it('frees everything when the callback throws, and rejects async callbacks', () => {
    const before = live();
    assert.throws(() => scope(() => {
      ones([8]);
      throw new Error('inside');
    }), /inside/);
    assert.equal(live(), before);
    assert.throws(() => scope(() => Promise.resolve(ones([1]))), /must be synchronous/);
    assert.equal(live(), before);
  });

  it('dispose() is idempotent, `using` disposes at block end, and use after dispose is a clear error', () => {
    const before = live();
    const t = ones([2, 3]);
    void t.shape;
    t.dispose();
    t.dispose();
    assert.equal(t.isDisposed, true);
    assert.throws(() => t.add(1), /Tensor used after dispose: a \[2,3\] tensor was freed/);
    {
      using u = zeros([5]);
      assert.equal(u.numel, 5);
    }
    assert.equal(live(), before);
  });
});

describe('native memory', () => {
  it('has exactly one native handle per live tensor and recycles storage through the cache', () => {
    const before = engineMemory();
    assert.equal(before.liveHandles, tensorStats().live);
    const t = zeros([1024, 1024]);
    assert.equal(engineMemory().liveHandles, before.liveHandles + 1);
    if (before.caching) assert.ok((engineMemory().inUse as number) >= (before.inUse as number) + 4 * 2 ** 20);
    t.dispose();
    const after = engineMemory();
    assert.equal(after.liveHandles, before.liveHandles);
    if (after.caching) {
      assert.ok((after.cached as number) >= 4 * 2 ** 20, 'the freed block is cached');
      emptyCache();
      assert.equal(engineMemory().cached, 0);
    }
  });
});

describe('errors from libtorch become JavaScript errors naming the op and the tensors', () => {
  it('reports dtype mismatches', () => {
    scope(() => {
      const a = ones([2, 2]);
      const b = ones([2, 2], { dtype: 'float64' });
      assert.throws(() => a.matmul(b), (e: unknown) => {
        assert.ok(e instanceof TensorOpError);
        assert.match((e as Error).message, /^matmul\(tensor\[2,2\] float32, tensor\[2,2\] float64\): expected .*(Float|Double)/);
        return true;
      });
    });
  });

  it('reports shape mismatches without crashing the process', () => {
    scope(() => {
      assert.throws(() => ones([2, 3]).add(ones([4])), /add\(tensor\[2,3\] float32, tensor\[4\] float32.*must match/);
      assert.throws(() => ones([2, 3]).reshape(4), /reshape\(tensor\[2,3\] float32, \[4\]\): shape '\[4\]' is invalid/);
      assert.throws(() => ones([2, 3]).t().view(6), /view\(tensor\[3,2\] float32, \[6\]\).*(reshape|stride)/);
      assert.throws(() => ones([2]).gather(0, tensor([5], { dtype: 'int64' })), /gather/);
      assert.throws(() => ones([2, 2]).size(5), /size\(5\): tensor has 2 dimensions/);
    });
  });

  it('reports device problems (no CUDA in this libtorch) and bad creation arguments', () => {
    scope(() => {
      if (!cudaAvailable()) assert.throws(() => ones([1]).toDevice('cuda'), /toDevice\(tensor\[1\] float32, "cuda"\)/);
      assert.throws(() => zeros([2, -1]), /zeros: shape \[2,-1\] must hold non-negative integers/);
      assert.throws(() => tensor(new Float32Array(3), { shape: [2, 2] }), /holds 4 elements but the typed array has 3/);
      assert.throws(() => zeros([1], { dtype: 'complex64' as never }), /unknown dtype 'complex64'/);
    });
  });
});

describe('runtime', () => {
  it('reports libtorch facts and sets the thread count', () => {
    assert.match(torchVersion(), /^\d+\.\d+\.\d+/);
    const threads = getNumThreads();
    assert.ok(threads >= 1);
    setNumThreads(1);
    assert.equal(getNumThreads(), 1);
    setNumThreads(threads);
    assert.equal(getNumThreads(), threads);
    assert.throws(() => setNumThreads(0), /positive integer/);
    assert.equal(typeof cudaAvailable(), 'boolean');
  });
});
