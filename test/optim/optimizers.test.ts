/**
 * Optimizers against hand-computed updates: literal two-step examples worked out on paper, and
 * element-wise reference implementations of PyTorch's update formulas over several steps.
 * Also: resumable state, parameter groups, skipped parameters, allocation behaviour, errors.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, AdamW, SGD, type Optimizer } from '../../src/optim/index.js';
import { engineMemory, onesLike, scope, tensor, tensorStats, zeros, type Tensor } from '../../src/tensor/index.js';

const P0 = [1.5, -2, 0.25];
const GRADS = [[0.5, 1, -0.3], [-1, 0.25, 0.7], [0.2, -0.6, 0.05], [0, 0.9, -1.2]];

/** Runs `optimizer` over float64 parameter P0 with the given gradients; returns the parameter after each step. */
function run(make: (p: Tensor) => Optimizer, grads: number[][] = GRADS, start = P0): number[][] {
  const p = tensor(start, { dtype: 'float64' }).keep().requiresGrad_();
  const optimizer = make(p);
  const out: number[][] = [];
  for (const g of grads) {
    scope(() => p.setGrad(tensor(g, { dtype: 'float64' })));
    optimizer.step();
    out.push(p.toNumbers());
  }
  optimizer.dispose();
  p.dispose();
  return out;
}

function assertTrajectory(actual: number[][], expected: number[][], tol = 1e-12): void {
  actual.forEach((row, step) =>
    row.forEach((v, i) => assert.ok(Math.abs(v - expected[step]![i]!) <= tol, `step ${step + 1}, element ${i}: ${v} vs ${expected[step]![i]}`)),
  );
}

/** PyTorch's SGD, element by element. */
function referenceSGD(o: { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }): number[][] {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = o;
  let p = [...P0];
  let buf: number[] | null = null;
  return GRADS.map((g) => {
    let d = g.map((gi, i) => gi + weightDecay * p[i]!);
    if (momentum !== 0) {
      const previous: number[] | null = buf;
      const b: number[] = previous === null ? [...d] : previous.map((bi, i) => momentum * bi + (1 - dampening) * d[i]!);
      buf = b;
      d = nesterov ? d.map((di, i) => di + momentum * b[i]!) : b;
    }
    p = p.map((pi, i) => pi - lr * d[i]!);
    return p;
  });
}

/** PyTorch's Adam / AdamW, element by element. */
function referenceAdam(o: { lr: number; betas?: [number, number]; eps?: number; weightDecay?: number; amsgrad?: boolean; decoupled: boolean }): number[][] {
  const { lr, betas: [b1, b2] = [0.9, 0.999], eps = 1e-8, weightDecay = 0, amsgrad = false, decoupled } = o;
  let p = [...P0];
  let m = P0.map(() => 0);
  let v = P0.map(() => 0);
  let vmax = P0.map(() => 0);
  return GRADS.map((grad, step) => {
    const t = step + 1;
    let g = grad;
    if (decoupled) p = p.map((pi) => pi * (1 - lr * weightDecay));
    else g = g.map((gi, i) => gi + weightDecay * p[i]!);
    m = m.map((mi, i) => b1 * mi + (1 - b1) * g[i]!);
    v = v.map((vi, i) => b2 * vi + (1 - b2) * g[i]! ** 2);
    vmax = vmax.map((x, i) => Math.max(x, v[i]!));
    const second = amsgrad ? vmax : v;
    p = p.map((pi, i) => pi - (lr / (1 - b1 ** t)) * (m[i]! / (Math.sqrt(second[i]!) / Math.sqrt(1 - b2 ** t) + eps)));
    return p;
  });
}

describe('SGD', () => {
  it('matches two steps worked out by hand (momentum, Nesterov, weight decay)', () => {
    const one = [[1], [1]];
    assertTrajectory(run((p) => new SGD([p], { lr: 0.1 }), one, [1]), [[0.9], [0.8]]);
    assertTrajectory(run((p) => new SGD([p], { lr: 0.1, momentum: 0.9 }), one, [1]), [[0.9], [0.71]]);
    assertTrajectory(run((p) => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true }), one, [1]), [[0.81], [0.539]]);
    assertTrajectory(run((p) => new SGD([p], { lr: 0.1, weightDecay: 0.1 }), one, [1]), [[0.89], [0.7811]]);
    assertTrajectory(run((p) => new SGD([p], { lr: 0.1, momentum: 0.5, dampening: 0.9 }), one, [1]), [[0.9], [0.84]]);
  });

  for (const [name, o] of [
    ['plain', { lr: 0.1 }],
    ['momentum + dampening + weight decay', { lr: 0.05, momentum: 0.9, dampening: 0.2, weightDecay: 0.05 }],
    ['Nesterov + weight decay', { lr: 0.1, momentum: 0.8, nesterov: true, weightDecay: 0.01 }],
  ] as const) {
    it(`follows PyTorch's update over four steps: ${name}`, () => {
      assertTrajectory(run((p) => new SGD([p], o)), referenceSGD(o));
    });
  }

  it('rejects Nesterov without momentum', () => {
    scope(() => assert.throws(() => new SGD([zeros([1], { requiresGrad: true })], { lr: 0.1, nesterov: true }), /Nesterov momentum needs momentum > 0/));
  });
});

describe('Adam and AdamW', () => {
  it('match two steps worked out by hand (a constant gradient moves Adam by lr per step; AdamW decays first)', () => {
    const one = [[1], [1]];
    assertTrajectory(run((p) => new Adam([p], { lr: 0.1 }), one, [1]), [[0.9], [0.8]], 1e-8);
    assertTrajectory(run((p) => new AdamW([p], { lr: 0.1, weightDecay: 0.1 }), one, [1]), [[0.89], [0.7811]], 1e-8);
  });

  for (const [name, o] of [
    ['Adam', { lr: 0.01, decoupled: false }],
    ['Adam with L2 weight decay and custom betas', { lr: 0.02, betas: [0.8, 0.99] as [number, number], weightDecay: 0.1, decoupled: false }],
    ['Adam AMSGrad', { lr: 0.05, amsgrad: true, decoupled: false }],
    ['AdamW', { lr: 0.01, weightDecay: 0.1, decoupled: true }],
    ['AdamW AMSGrad', { lr: 0.03, weightDecay: 0.05, amsgrad: true, eps: 1e-6, decoupled: true }],
  ] as const) {
    it(`${name} follows PyTorch's update over four steps`, () => {
      const { decoupled, ...options } = o;
      const make = (p: Tensor): Optimizer => (decoupled ? new AdamW([p], options) : new Adam([p], options));
      assertTrajectory(run(make), referenceAdam(o));
    });
  }

  it('AMSGrad uses the running maximum of the second moment', () => {
    // A large gradient then zero: v shrinks, vmax does not, so AMSGrad takes the smaller second step.
    const grads = [[1], [0], [0]];
    const plain = run((p) => new Adam([p], { lr: 0.1 }), grads, [0]);
    const ams = run((p) => new Adam([p], { lr: 0.1, amsgrad: true }), grads, [0]);
    assert.equal(plain[0]![0], ams[0]![0]);
    assert.ok(Math.abs(ams[2]![0]! - ams[1]![0]!) < Math.abs(plain[2]![0]! - plain[1]![0]!));
  });
});

describe('optimizer mechanics', () => {
  it('resumes from stateDict() bit-for-bit', () => {
    for (const make of [
      (p: Tensor) => new SGD([p], { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.01 }),
      (p: Tensor) => new Adam([p], { lr: 0.01, amsgrad: true, weightDecay: 0.1 }),
      (p: Tensor) => new AdamW([p], { lr: 0.01 }),
    ]) {
      const straight = run(make);
      const p = tensor(P0, { dtype: 'float64' }).keep().requiresGrad_();
      const first = make(p);
      for (const g of GRADS.slice(0, 2)) {
        scope(() => p.setGrad(tensor(g, { dtype: 'float64' })));
        first.step();
      }
      const state = first.stateDict();
      const copies = new Map([...state.tensors].map(([k, t]) => [k, t.clone().keep()]));
      const meta = JSON.parse(JSON.stringify(state.meta)) as typeof state.meta;
      first.dispose();
      const second = make(p);
      second.loadStateDict({ meta, tensors: copies });
      for (const g of GRADS.slice(2)) {
        scope(() => p.setGrad(tensor(g, { dtype: 'float64' })));
        second.step();
      }
      assert.deepEqual(p.toNumbers(), straight[3], `${second.constructor.name} resumed`);
      for (const t of copies.values()) t.dispose();
      second.dispose();
      p.dispose();
    }
  });

  it('keeps per-group hyper-parameters, skips parameters without gradients, and zeroGrad drops gradients', () => {
    const a = zeros([2], { dtype: 'float64' }).keep().requiresGrad_();
    const b = zeros([2], { dtype: 'float64' }).keep().requiresGrad_();
    const c = zeros([1], { dtype: 'float64' }).keep().requiresGrad_();
    const adam = new Adam([{ params: [a], lr: 0.1 }, { params: [b, c], lr: 0.01, weightDecay: 0.5 }], { lr: 0.5 });
    assert.deepEqual(adam.paramGroups.map((g) => [g.lr, g.weightDecay]), [[0.1, 0], [0.01, 0.5]]);
    scope(() => {
      a.setGrad(tensor([1, 1], { dtype: 'float64' }));
      b.setGrad(tensor([1, 1], { dtype: 'float64' }));
    });
    adam.step();
    assert.ok(a.toNumbers().every((v) => Math.abs(v + 0.1) < 1e-7));
    assert.ok(b.toNumbers().every((v) => Math.abs(v + 0.01) < 1e-7));
    assert.deepEqual(c.toNumbers(), [0], 'no gradient, no update');
    assert.deepEqual([adam.stepCount(0), adam.stepCount(1), adam.stepCount(2)], [1, 1, 0]);
    assert.deepEqual([...adam.stateDict().tensors.keys()], ['state.0.exp_avg', 'state.0.exp_avg_sq', 'state.1.exp_avg', 'state.1.exp_avg_sq']);
    adam.zeroGrad();
    assert.ok([a, b, c].every((p) => p.grad === null));
    adam.lr = 0.3;
    assert.deepEqual(adam.paramGroups.map((g) => g.lr), [0.3, 0.3]);
    assert.throws(() => new SGD([{ params: [a] }, { params: [a] }], { lr: 1 }), /appears twice/);
    adam.dispose();
    for (const t of [a, b, c]) t.dispose();
  });

  it('rejects state from another optimizer or architecture, naming the tensor', () => {
    const p = zeros([2, 3]).keep().requiresGrad_();
    const q = zeros([3, 3]).keep().requiresGrad_();
    const adamP = new Adam([p]);
    scope(() => p.setGrad(tensor([[1, 2, 3], [4, 5, 6]])));
    adamP.step();
    const state = adamP.stateDict();
    assert.throws(() => new SGD([p], { lr: 1 }).loadStateDict(state), /cannot load Adam optimizer state into SGD/);
    const adamQ = new Adam([q]);
    assert.throws(() => adamQ.loadStateDict(state), /'state\.0\.exp_avg' is \[2,3\] float32 but parameter 0 is \[3,3\] float32/);
    assert.throws(() => new Adam([p, q]).loadStateDict(state), /group 0 has 1 parameters but this optimizer's has 2/);
    for (const o of [adamP, adamQ]) o.dispose();
    p.dispose();
    q.dispose();
  });

  it('allocates no tensor storage per step: only the gradient handles it reads, released at once', () => {
    const params = [zeros([64, 32]), zeros([32]), scope(() => zeros([16, 3, 3, 3]).channelsLast())].map((t) => t.keep().requiresGrad_());
    for (const optimizer of [new Adam(params, { amsgrad: true, weightDecay: 0.1 }), new AdamW(params), new SGD(params, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 })]) {
      const setGrads = (): void => scope(() => params.forEach((p) => p.setGrad(p.detach().add(1))));
      setGrads();
      optimizer.step(); // first step: momentum buffers initialise
      setGrads();
      const before = tensorStats();
      optimizer.step();
      const after = tensorStats();
      assert.equal(after.created - before.created, params.length, `${optimizer.constructor.name}: one handle per gradient read`);
      assert.equal(after.live, before.live, `${optimizer.constructor.name}: no tensor outlives the step`);
      optimizer.dispose();
    }
    params.forEach((p) => p.dispose());
  });

  it('allocates no parameter-sized temporaries per step (native allocator: in-use bytes flat, peak unchanged)', (t) => {
    if (!engineMemory().caching) {
      t.skip('the caching CPU allocator is off (BASTION_CPU_CACHE_MB=0), so native bytes are not counted');
      return;
    }
    // Large parameters, everything allocated in growing order, so the peak equals what is in use now.
    const params = [zeros([512, 1024]), zeros([1024]), zeros([256, 64, 3, 3])].map((p) => p.keep().requiresGrad_());
    const optimizers = [new Adam(params, { amsgrad: true, weightDecay: 0.1 }), new AdamW(params), new SGD(params, { lr: 0.1, momentum: 0.9, nesterov: true, weightDecay: 0.1 })];
    scope(() => params.forEach((p) => p.setGrad(onesLike(p))));
    const before = engineMemory();
    assert.equal(before.peakInUse, before.inUse, 'precondition: nothing larger was ever allocated in this process');
    for (const optimizer of optimizers) {
      optimizer.step();
      const after = engineMemory();
      assert.equal(after.inUse, before.inUse, `${optimizer.constructor.name}: bytes in use after the step`);
      // ATen wraps scalar operands in tiny 0-d tensors; anything parameter-sized (>= 4 KiB here) would show.
      assert.ok(after.peakInUse! - before.peakInUse! < 1024, `${optimizer.constructor.name}: the step raised the peak by ${after.peakInUse! - before.peakInUse!} bytes`);
    }
    optimizers.forEach((o) => o.dispose());
    params.forEach((p) => p.dispose());
  });
});
