/** Module: registration, PyTorch-ordered names, state dicts (and their errors), modes, freezing, containers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BatchNorm2d, Conv2d, Linear, Module, ModuleList, ReLU, Sequential, StateDictError } from '../../src/nn/index.js';
import { ones, scope, tensor, tensorStats, zeros, type Tensor } from '../../src/tensor/index.js';

/** A module with its own parameter and buffer plus children, like a user model. */
class Block extends Module {
  readonly scale = this.registerParameter('scale', ones([2]));
  readonly conv = this.registerModule('conv', new Conv2d(1, 2, 3, { bias: false }));
  readonly count = this.registerBuffer('count', zeros([1]));
  readonly scratch = this.registerBuffer('scratch', zeros([3]), { persistent: false });
  readonly bn = this.registerModule('bn', new BatchNorm2d(2));

  forward(x: Tensor): Tensor {
    return this.bn.forward(this.conv.forward(x)).mul(this.scale.view(1, 2, 1, 1));
  }
}

describe('Module', () => {
  it('names parameters, buffers and the state dict in PyTorch order', () => {
    const net = new Sequential(new Block(), new ReLU(), new Linear(4, 3));
    assert.deepEqual(net.namedParameters().map(([n]) => n), ['0.scale', '0.conv.weight', '0.bn.weight', '0.bn.bias', '2.weight', '2.bias']);
    assert.deepEqual(net.namedBuffers().map(([n]) => n), ['0.count', '0.scratch', '0.bn.running_mean', '0.bn.running_var', '0.bn.num_batches_tracked']);
    assert.deepEqual([...net.stateDict().keys()], [
      '0.scale', '0.count', '0.conv.weight', '0.bn.weight', '0.bn.bias', '0.bn.running_mean', '0.bn.running_var', '0.bn.num_batches_tracked', '2.weight', '2.bias',
    ]);
    assert.deepEqual(net.namedModules().map(([n, m]) => `${n}:${m.constructor.name}`), [':Sequential', '0:Block', '0.conv:Conv2d', '0.bn:BatchNorm2d', '1:ReLU', '2:Linear']);
    assert.equal(net.numParameters(), 2 + 18 + 2 + 2 + 12 + 3);
    assert.equal(net.parameters().every((p) => p.requiresGrad && p.kept), true);
    net.dispose();
  });

  it('rejects bad and duplicate names and non-leaf parameters', () => {
    class Bad extends Module {
      constructor(kind: 'dot' | 'dup' | 'graph') {
        super();
        if (kind === 'dot') this.registerParameter('a.b', zeros([1]));
        if (kind === 'dup') {
          this.registerParameter('w', zeros([1]));
          this.registerBuffer('w', zeros([1]));
        }
        if (kind === 'graph') scope(() => this.registerParameter('w', zeros([1], { requiresGrad: true }).mul(2)));
      }
      forward(x: Tensor): Tensor {
        return x;
      }
    }
    assert.throws(() => new Bad('dot'), /without '\.'/);
    assert.throws(() => new Bad('dup'), /'w' is already registered/);
    assert.throws(() => new Bad('graph'), /result of a differentiable op/);
  });

  it('loads a state dict into the existing tensors (identity kept) and checks names, shapes and dtypes first', () => {
    const a = new Sequential(new Linear(3, 2), new BatchNorm2d(2));
    const b = new Sequential(new Linear(3, 2), new BatchNorm2d(2));
    const weight = b.parameters()[0] as Tensor;
    scope(() => {
      assert.equal(a.parameters()[0]!.equal(weight), false);
      assert.deepEqual(b.loadStateDict(a.stateDict()), { missing: [], unexpected: [] });
      assert.equal(b.parameters()[0], weight, 'same tensor object after loading');
      assert.ok(weight.equal(a.parameters()[0]!));
      assert.ok(weight.requiresGrad);

      const state = new Map(a.stateDict());
      state.set('0.weight', zeros([2, 4]));
      assert.throws(() => b.loadStateDict(state), (e: Error) => e instanceof StateDictError && /'0\.weight' is \[2,4\] float32 but Sequential expects \[2,3\] float32/.test(e.message));
      state.set('0.weight', zeros([2, 3], { dtype: 'float64' }));
      assert.throws(() => b.loadStateDict(state), /'0\.weight' is \[2,3\] float64 but Sequential expects \[2,3\] float32/);
      state.set('0.weight', zeros([2, 3]));
      state.set('1.num_batches_tracked', tensor(3));
      assert.throws(() => b.loadStateDict(state), /'1\.num_batches_tracked' is \[\] float32 but Sequential expects \[\] int64/);

      const partial = new Map(a.stateDict());
      partial.delete('1.running_var');
      partial.set('extra.weight', zeros([1]));
      assert.throws(() => b.loadStateDict(partial), (e: Error) => /missing 1: 1\.running_var; unexpected 1: extra\.weight/.test(e.message));
      const before = b.stateDict().get('1.running_mean')!.clone();
      partial.set('1.running_mean', ones([2]));
      assert.deepEqual(b.loadStateDict(partial, { strict: false }), { missing: ['1.running_var'], unexpected: ['extra.weight'] });
      assert.deepEqual(b.stateDict().get('1.running_mean')!.toNumbers(), [1, 1]);
      assert.notDeepEqual(before.toNumbers(), [1, 1]);
    });
    a.dispose();
    b.dispose();
  });

  it('leaves the module unchanged when a later tensor of the state dict is bad', () => {
    const a = new Linear(3, 2);
    const b = new Linear(3, 2);
    scope(() => {
      const original = b.weight.clone();
      const state = new Map(a.stateDict());
      state.set('bias', zeros([5]));
      assert.throws(() => b.loadStateDict(state), /'bias' is \[5\]/);
      assert.ok(b.weight.equal(original), 'weight untouched');
    });
    a.dispose();
    b.dispose();
  });

  it('switches train/eval recursively, freezes, zeroes gradients and applies functions', () => {
    const net = new Sequential(new Linear(2, 2), new Sequential(new BatchNorm2d(1)));
    net.eval();
    assert.deepEqual(net.modules().map((m) => m.training), [false, false, false, false]);
    net.train();
    assert.deepEqual(net.modules().map((m) => m.training), [true, true, true, true]);
    net.freeze();
    assert.equal(net.numParameters({ trainableOnly: true }), 0);
    net.unfreeze();
    assert.equal(net.numParameters({ trainableOnly: true }), 8);
    scope(() => {
      net.at(0).forward(ones([1, 2])).sum().backward();
      assert.notEqual(net.parameters()[0]!.grad, null);
      net.zeroGrad();
      assert.ok(net.parameters().every((p) => p.grad === null));
    });
    const visited: string[] = [];
    net.apply((m) => visited.push(m.constructor.name));
    assert.deepEqual(visited, ['Linear', 'BatchNorm2d', 'Sequential', 'Sequential']);
    net.dispose();
  });

  it('frees every parameter and buffer on dispose', () => {
    const before = tensorStats().live;
    const net = new Sequential(new Conv2d(1, 4, 3), new BatchNorm2d(4), new Linear(4, 2));
    assert.equal(tensorStats().live - before, 2 + 5 + 2);
    net.dispose();
    assert.equal(tensorStats().live, before);
  });

  it('builds Sequential and ModuleList containers named by position', () => {
    const seq = new Sequential(new Linear(2, 3));
    seq.append(new ReLU());
    assert.equal(seq.length, 2);
    assert.ok(seq.at(-1) instanceof ReLU);
    assert.deepEqual([...seq.stateDict().keys()], ['0.weight', '0.bias']);
    const list = new ModuleList([new Linear(1, 1), new Linear(1, 1)]);
    assert.deepEqual([...list.stateDict().keys()], ['0.weight', '0.bias', '1.weight', '1.bias']);
    assert.throws(() => list.forward(ones([1])), /ModuleList has no forward/);
    assert.equal([...list].length, 2);
    scope(() => assert.deepEqual(seq.forward(ones([4, 2])).shape, [4, 3]));
    assert.match(seq.toString(), /^Sequential\(\n {2}\(0\): Linear\(2, 3\)\n {2}\(1\): ReLU\(\)\n\)$/);
    seq.dispose();
    list.dispose();
  });
});
