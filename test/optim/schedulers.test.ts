/** Learning-rate schedules against PyTorch's closed-form formulas, resumption, and gradient clipping. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Adam, CosineAnnealingLR, MultiStepLR, OneCycleLR, SGD, StepLR, clipGradNorm, clipGradValue, type LRScheduler, type Optimizer } from '../../src/optim/index.js';
import { scope, tensor, zeros, type Tensor } from '../../src/tensor/index.js';
import { assertClose } from '../helpers/assert.js';

function withOptimizer<T>(fn: (optimizer: SGD) => T, lr = 0.1): T {
  const p = zeros([1]).keep().requiresGrad_();
  const optimizer = new SGD([p], { lr, momentum: 0.9 });
  try {
    return fn(optimizer);
  } finally {
    optimizer.dispose();
    p.dispose();
  }
}

/** The learning rate in force for each of `steps` optimizer steps (read before each schedule step). */
function lrSequence(optimizer: Optimizer, scheduler: LRScheduler, steps: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    out.push(optimizer.lr);
    scheduler.step();
  }
  return out;
}

function assertSequence(actual: number[], expected: number[], what: string): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((v, i) => assertClose(v, expected[i]!, 1e-12 * Math.max(1, Math.abs(expected[i]!)), `${what} step ${i}`));
}

describe('learning-rate schedules', () => {
  it('StepLR: base * gamma^floor(t / stepSize)', () => {
    withOptimizer((o) => {
      const seq = lrSequence(o, new StepLR(o, { stepSize: 3, gamma: 0.5 }), 10);
      assertSequence(seq, seq.map((_, t) => 0.1 * 0.5 ** Math.floor(t / 3)), 'StepLR');
    });
  });

  it('MultiStepLR: base * gamma^(milestones passed), repeated milestones count twice', () => {
    withOptimizer((o) => {
      const milestones = [2, 5, 5, 8];
      const seq = lrSequence(o, new MultiStepLR(o, { milestones, gamma: 0.3 }), 10);
      assertSequence(seq, seq.map((_, t) => 0.1 * 0.3 ** milestones.filter((m) => m <= t).length), 'MultiStepLR');
    });
  });

  it('CosineAnnealingLR: etaMin + (base - etaMin)(1 + cos(pi t / tMax)) / 2', () => {
    withOptimizer((o) => {
      const seq = lrSequence(o, new CosineAnnealingLR(o, { tMax: 8, etaMin: 0.01 }), 9);
      assertSequence(seq, seq.map((_, t) => 0.01 + (0.1 - 0.01) * (1 + Math.cos((Math.PI * t) / 8)) / 2), 'cosine');
    });
  });

  it('OneCycleLR: cosine warm-up to maxLr over pctStart, then down to initial/finalDivFactor; momentum mirrors it', () => {
    withOptimizer((o) => {
      const scheduler = new OneCycleLR(o, { maxLr: 1, totalSteps: 11, pctStart: 0.3 });
      assert.equal(scheduler.interval, 'batch');
      const lrs: number[] = [];
      const momenta: number[] = [];
      for (let i = 0; i < 11; i++) {
        lrs.push(o.lr);
        momenta.push(o.paramGroups[0]!.momentum);
        scheduler.step();
      }
      const cos = (start: number, end: number, pct: number): number => end + ((start - end) / 2) * (Math.cos(Math.PI * pct) + 1);
      const warm = 0.3 * 11 - 1; // end of phase 1 (PyTorch: float(pct_start * total_steps) - 1)
      const expectedLr = lrs.map((_, t) => (t <= warm ? cos(1 / 25, 1, t / warm) : cos(1, 1 / 25 / 1e4, (t - warm) / (10 - warm))));
      const expectedMomentum = lrs.map((_, t) => (t <= warm ? cos(0.95, 0.85, t / warm) : cos(0.85, 0.95, (t - warm) / (10 - warm))));
      assertSequence(lrs, expectedLr, 'OneCycle lr');
      assertSequence(momenta, expectedMomentum, 'OneCycle momentum');
      assertClose(lrs[0]!, 0.04, 1e-15, 'initial = maxLr / 25');
      assertClose(lrs[10]!, 0.04 / 1e4, 1e-15, 'final = initial / 1e4');
      assert.throws(() => scheduler.step(), /stepped past the end of the schedule \(step 12 of 11\)/);
    });
  });

  it('OneCycleLR cycles Adam\'s beta1', () => {
    const p = zeros([1]).keep().requiresGrad_();
    const adam = new Adam([p], { lr: 0.1 });
    const scheduler = new OneCycleLR(adam, { maxLr: 0.2, epochs: 2, stepsPerEpoch: 5 });
    assert.equal(adam.paramGroups[0]!.betas[0], 0.95);
    for (let i = 0; i < 3; i++) scheduler.step();
    assert.ok(adam.paramGroups[0]!.betas[0] < 0.95 && adam.paramGroups[0]!.betas[1] === 0.999);
    adam.dispose();
    p.dispose();
  });

  it('resumes a schedule from its state and the optimizer state', () => {
    const make = (o: Optimizer): LRScheduler => new OneCycleLR(o, { maxLr: 0.5, totalSteps: 20, threePhase: true });
    const straight = withOptimizer((o) => lrSequence(o, make(o), 20));
    const resumed = withOptimizer((o) => {
      const first = make(o);
      const head = lrSequence(o, first, 7);
      const saved = { scheduler: JSON.parse(JSON.stringify(first.stateDict())), optimizer: JSON.parse(JSON.stringify(o.stateDict().meta)) };
      return withOptimizer((o2) => {
        const second = make(o2);
        o2.loadStateDict({ meta: saved.optimizer, tensors: new Map() });
        second.loadStateDict(saved.scheduler);
        return [...head, ...lrSequence(o2, second, 13)];
      });
    });
    assert.deepEqual(resumed, straight);
    withOptimizer((o) => assert.throws(() => new StepLR(o, { stepSize: 2 }).loadStateDict(new CosineAnnealingLR(o, { tMax: 3 }).stateDict()), /cannot load CosineAnnealingLR schedule state into StepLR/));
  });
});

describe('gradient clipping', () => {
  function withGrads<T>(grads: number[][], fn: (params: Tensor[]) => T): T {
    const params = grads.map((g) => zeros([g.length]).keep().requiresGrad_());
    scope(() => params.forEach((p, i) => p.setGrad(tensor(grads[i]!))));
    try {
      return fn(params);
    } finally {
      params.forEach((p) => p.dispose());
    }
  }

  it('clipGradNorm scales by maxNorm / (norm + 1e-6) and returns the norm before clipping', () => {
    withGrads([[3, 4], [12]], (params) => {
      const norm = clipGradNorm(params, 6.5);
      assertClose(norm, 13, 1e-5);
      const c = 6.5 / (13 + 1e-6);
      assert.ok(params[0]!.grad!.allclose(tensor([3 * c, 4 * c])));
      assert.ok(params[1]!.grad!.allclose(tensor([12 * c])));
    });
    withGrads([[3, 4], [12]], (params) => {
      assertClose(clipGradNorm(params, 100), 13, 1e-5);
      assert.deepEqual(params[0]!.grad!.toNumbers(), [3, 4], 'below the limit: unchanged');
    });
    withGrads([[3, -4], [1]], (params) => {
      assert.equal(clipGradNorm(params, 2, Infinity), 4);
      assert.ok(params[0]!.grad!.allclose(tensor([1.5, -2]), 1e-5));
      assertClose(clipGradNorm(params, 100, 1), 1.5 + 2 + 0.5, 1e-5, 'L1 norm');
    });
  });

  it('clipGradValue clamps every element', () => {
    withGrads([[3, -4, 0.5]], (params) => {
      clipGradValue(params, 1);
      assert.deepEqual(params[0]!.grad!.toNumbers(), [1, -1, 0.5]);
    });
  });
});
