/**
 * The semantics of the attack base: one gradient for an FGSM sweep, early stopping that shrinks the
 * active batch, best-example keeping, EOT averaging over a stochastic model, BPDA's identity
 * backward pass, seeded determinism that leaves the caller's generator alone, and clear errors.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { arange, getRngState, grad, manualSeed, noGrad, rand, randnLike, scope, setRngState, tensor, tensorStats, type Tensor } from '../../src/tensor/index.js';
import {
  AttackContext, BestExamples, BPDA, FGSM, PGD, apgdCheckpoints, crossEntropyPerSample, resolveThreat, type Model,
} from '../../src/attacks/index.js';
import { createAttack } from '../../src/attacks/registry.js';
import { BastionError } from '../../src/util/errors.js';
import { syntheticData, trainedNet, type SmallNet } from './helpers.js';

let net: SmallNet;
let x: Tensor;
let y: Tensor;

before(() => {
  net = trainedNet();
  ({ x, y } = syntheticData(48, 5));
});
after(() => {
  x.dispose();
  y.dispose();
  net.dispose();
});

/** A model that records the inputs and logits of every forward pass. */
class Spy implements Model {
  readonly calls: { x: Tensor; logits: Tensor }[] = [];
  constructor(readonly inner: Model) {}
  forward(input: Tensor): Tensor {
    const logits = this.inner.forward(input);
    this.calls.push({ x: input.detach().clone().keep(), logits: logits.detach().clone().keep() });
    return logits;
  }
  dispose(): void {
    for (const c of this.calls) {
      c.x.dispose();
      c.logits.dispose();
    }
  }
}

/** The spied model with Gaussian input noise of std `sigma` drawn from the global generator. */
class Noisy implements Model {
  constructor(readonly inner: Model, readonly sigma: number) {}
  forward(input: Tensor): Tensor {
    return scope(() => this.inner.forward(input.add(randnLike(input).mul_(this.sigma))));
  }
}

describe('FGSM', () => {
  it('sweeps ten epsilons with exactly one gradient evaluation', () => {
    const epsilons = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0];
    const result = new FGSM().run(net, x, y, { norm: 'linf', epsilons });
    assert.equal(result.gradientEvaluations, 1);
    assert.equal(result.perEpsilon.length, 10);
    result.dispose();
    const independent = new FGSM({ carryOver: false }).run(net, x, y, { norm: 'linf', epsilons });
    assert.equal(independent.gradientEvaluations, 1);
    independent.dispose();
  });

  it('is x + eps * sign(grad) clipped to [0,1] when epsilons are independent', () => {
    scope(() => {
      const result = new FGSM({ carryOver: false }).run(net, x, y, { norm: 'linf', epsilons: [0.1, 0.6] });
      const leaf = x.clone().requiresGrad_(true);
      const [g] = grad(crossEntropyPerSample(net.forward(leaf), y).sum(), leaf) as [Tensor];
      for (const e of result.perEpsilon) {
        const expected = x.add(g.sign().mul(e.epsilon)).clamp(0, 1);
        assert.ok(expected.allclose(e.adversarial, 0, 1e-6), `eps ${e.epsilon}`);
      }
      result.dispose();
    });
  });

  it('evaluates only unbroken samples with carry-over, reusing broken examples', () => {
    scope(() => {
      const r = new FGSM().run(net, x, y, { norm: 'linf', epsilons: [0.15, 0.3] });
      const [small, large] = r.perEpsilon as [typeof r.perEpsilon[0], typeof r.perEpsilon[0]];
      const carried = small.success.nonzero().squeeze(1);
      if (carried.shape[0] as number > 0) {
        assert.ok(large.adversarial.indexSelect(0, carried).equal(small.adversarial.indexSelect(0, carried)), 'broken samples keep their example');
      }
      r.dispose();
    });
  });
});

describe('early stopping and best examples', () => {
  it('shrinks the active batch as samples break, and every early-stopped sample is returned broken', () => {
    const spy = new Spy(net);
    try {
      const steps = 20;
      const result = new PGD({ steps, carryOver: false, randomStart: false }).run(spy, x, y, { norm: 'linf', epsilons: [0.3] });
      const sizes = spy.calls.map((c) => c.x.shape[0] as number);
      const gradientPasses = sizes.slice(0, result.gradientEvaluations);
      assert.ok(gradientPasses.every((s, i) => i === 0 || s <= (gradientPasses[i - 1] as number)), `batch sizes never grow: ${gradientPasses}`);
      assert.ok((gradientPasses.at(-1) as number) < 48, 'the active batch shrank');
      const e = result.perEpsilon[0]!;
      assert.ok(e.success.float().mean().item() > 0.9);
      result.dispose();
      const full = new PGD({ steps, carryOver: false, randomStart: false, earlyStop: false }).run(net, x, y, { norm: 'linf', epsilons: [0.3] });
      assert.equal(full.gradientEvaluations, steps, 'without early stopping every step runs');
      full.dispose();
    } finally {
      spy.dispose();
    }
  });

  it('returns a successful iterate when one exists, else the highest-loss iterate (oscillating steps, restarts)', () => {
    const spy = new Spy(net);
    try {
      scope(() => {
        // Steps of 3 eps bounce between corners of the ball, so the last iterate is often not the best.
        const eps = 0.12;
        const result = new PGD({ steps: 6, restarts: 2, stepSize: 3 * eps, earlyStop: false, carryOver: false }).run(spy, x, y, { norm: 'linf', epsilons: [eps] });
        const e = result.perEpsilon[0]!;
        const iterates = spy.calls.slice(0, -1); // the last call is the final evaluation of the returned examples
        assert.equal(iterates.length, 2 * (6 + 1));
        const losses = iterates.map((c) => crossEntropyPerSample(c.logits, y));
        const successes = iterates.map((c) => c.logits.argmax(1).ne(y));
        const anySuccess = successes.reduce((a, b) => a.logicalOr(b));
        const maxLoss = losses.reduce((a, b) => a.maximum(b));
        assert.ok(e.success.equal(anySuccess), 'success exactly where some iterate succeeded');
        const returnedLoss = noGrad(() => crossEntropyPerSample(net.forward(e.adversarial), y));
        const failed = anySuccess.logicalNot();
        assert.ok(failed.any(), 'some samples resist (the test needs both kinds)');
        assert.ok(returnedLoss.maskedSelect(failed).allclose(maxLoss.maskedSelect(failed), 1e-5, 1e-6), 'unbroken samples get their highest-loss iterate');
        const lastLoss = losses.at(-1) as Tensor;
        assert.ok(maxLoss.maskedSelect(failed).gt(lastLoss.maskedSelect(failed).add(1e-6)).any(), 'the best iterate is not always the last (else this test proves nothing)');
        result.dispose();
      });
    } finally {
      spy.dispose();
    }
  });

  it('BestExamples prefers success, then the higher objective', () => {
    scope(() => {
      const x0 = rand([3, 1, 2, 2]);
      const best = new BestExamples(x0);
      const rows = arange(3);
      const a = rand([3, 1, 2, 2]);
      best.update(rows, a, tensor([1, 1, 1]), tensor([false, true, false]));
      const b = rand([3, 1, 2, 2]);
      best.update(rows, b, tensor([2, 5, 0.5]), tensor([false, false, false]));
      // sample 0: b (higher loss, both unsuccessful); sample 1: a (successful beats higher loss); sample 2: a (higher loss)
      assert.ok(best.adversarial.select(0, 0).equal(b.select(0, 0)));
      assert.ok(best.adversarial.select(0, 1).equal(a.select(0, 1)));
      assert.ok(best.adversarial.select(0, 2).equal(a.select(0, 2)));
      assert.deepEqual(best.success.toNumbers(), [0, 1, 0]);
      best.dispose();
    });
  });
});


describe('EOT', () => {
  it('averages the loss gradient over K stochastic forward passes', () => {
    scope(() => {
      const noisy = new Noisy(net, 0.2);
      const threat = resolveThreat({ norm: 'linf', epsilons: [0.1] }, 'test', ['linf'], true);
      const objective = (logits: Tensor): Tensor => crossEntropyPerSample(logits, y);
      const k = 4;
      manualSeed(9);
      const ctx = new AttackContext(noisy, threat, 48, k, true);
      const eot = ctx.lossGradient(x, objective);
      assert.equal(ctx.gradientEvaluations, k);
      manualSeed(9);
      const single = new AttackContext(noisy, threat, 48, 1, true);
      const draws = Array.from({ length: k }, () => single.lossGradient(x, objective));
      const meanGrad = draws.map((d) => d.grad).reduce((a, b) => a.add(b)).div(k);
      const meanLoss = draws.map((d) => d.loss).reduce((a, b) => a.add(b)).div(k);
      assert.ok(eot.grad.allclose(meanGrad, 1e-5, 1e-7), 'EOT gradient = mean of the per-draw gradients');
      assert.ok(eot.loss.allclose(meanLoss, 1e-5, 1e-6), 'EOT loss = mean of the per-draw losses');
      assert.ok(!draws[0]!.grad.allclose(draws[1]!.grad, 1e-3, 1e-5), 'the model is really stochastic');
      // The average is closer to the expected gradient than a single draw: compare with a 64-draw mean.
      const many = new AttackContext(noisy, threat, 48, 64, true).lossGradient(x, objective).grad;
      const err = (g: Tensor): number => g.sub(many).norm().item();
      assert.ok(err(eot.grad) < err(draws[0]!.grad), 'averaging K draws reduces the gradient error');
    });
  });

  it('PGD with eotSamples K spends K gradient evaluations per step', () => {
    const result = new PGD({ steps: 5, eotSamples: 3, earlyStop: false, carryOver: false, seed: 1 }).run(new Noisy(net, 0.1), x, y, { norm: 'linf', epsilons: [0.1] });
    assert.equal(result.gradientEvaluations, 15);
    result.dispose();
  });
});

describe('BPDA', () => {
  const quantize = (t: Tensor): Tensor => scope(() => t.mul(3).round().div(3));

  it('forwards through the preprocessor and back-propagates as if it were the identity', () => {
    scope(() => {
      const wrapped = new BPDA(quantize, net);
      const leaf = x.clone().requiresGrad_(true);
      const logits = wrapped.forward(leaf);
      const expected = noGrad(() => net.forward(quantize(x)));
      assert.ok(logits.detach().allclose(expected, 1e-5, 1e-5), 'value = model(preprocess(x))');
      const [g] = grad(crossEntropyPerSample(logits, y).sum(), leaf) as [Tensor];
      const at = quantize(x).requiresGrad_(true);
      const [direct] = grad(crossEntropyPerSample(net.forward(at), y).sum(), at) as [Tensor];
      assert.ok(g.allclose(direct, 1e-5, 1e-6), 'gradient = model gradient at preprocess(x)');
      assert.ok(direct.abs().sum().item() > 0);
      const through = x.clone().requiresGrad_(true);
      const [masked] = grad(crossEntropyPerSample(net.forward(quantize(through)), y).sum(), through) as [Tensor];
      assert.equal(masked.abs().sum().item(), 0, 'without BPDA the rounding masks the gradient entirely');
    });
  });

  it('lets PGD break a model behind a gradient-masking preprocessor', () => {
    const attack = new PGD({ steps: 10, seed: 4 });
    const masked = attack.run({ forward: (t) => scope(() => net.forward(quantize(t))) }, x, y, { norm: 'linf', epsilons: [0.4] });
    const bpda = attack.run(new BPDA(quantize, net), x, y, { norm: 'linf', epsilons: [0.4] });
    const rate = (r: typeof masked): number => scope(() => r.perEpsilon[0]!.success.float().mean().item());
    assert.ok(rate(bpda) > rate(masked) + 0.3, `BPDA ${rate(bpda)} vs masked ${rate(masked)}`);
    masked.dispose();
    bpda.dispose();
  });
});

describe('seeds', () => {
  for (const [name, options] of [['pgd', { steps: 3 }], ['apgd', { steps: 5 }], ['square', { steps: 20 }]] as const) {
    it(`${name}: the same seed gives the same examples, another seed others, and the caller's generator is untouched`, () => {
      scope(() => {
        const run = (seed: number): Tensor => {
          const r = createAttack(name, { ...options, seed, earlyStop: false }).run(net, x, y, { norm: 'linf', epsilons: [0.1] });
          const adv = r.perEpsilon[0]!.adversarial.clone();
          r.dispose();
          return adv;
        };
        manualSeed(123);
        const state = getRngState();
        const a = run(7);
        const afterRun = rand([4]);
        setRngState(state);
        const expected = rand([4]);
        assert.ok(afterRun.equal(expected), 'the attack restored the global generator');
        assert.ok(run(7).equal(a), 'same seed, same result');
        assert.ok(!run(8).equal(a), 'another seed, another random start');
      });
    });
  }
});

describe('errors', () => {
  it('names the problem and what to do', () => {
    const attack = new FGSM();
    assert.throws(() => createAttack('pgd', { restart: 2 }), (e: unknown) => e instanceof BastionError && /option 'restart' does not apply to pgd/.test(e.message) && /restarts/.test(e.hint ?? ''));
    assert.throws(() => createAttack('fgsm', { steps: 3 }), /option 'steps' does not apply to fgsm/);
    assert.throws(() => createAttack('pgd', { steps: 2.5 }), /'steps' must be an integer/);
    assert.throws(() => createAttack('nope'), (e: unknown) => e instanceof BastionError && /fgsm, bim, pgd/.test(e.hint ?? ''));
    assert.throws(() => createAttack('bim').run(net, x, y, { norm: 'l2', epsilons: [1] }), /bim does not support the l2 norm/);
    scope(() => {
      assert.throws(() => attack.run(net, x.mul(255), y, { norm: 'linf', epsilons: [0.1] }), /outside the threat model's bounds \[0, 1\]/);
      assert.throws(() => attack.run(net, x, y.float(), { norm: 'linf', epsilons: [0.1] }), /y must be an integer \[48\] tensor/);
    });
    assert.throws(() => attack.run(net, x, y, { norm: 'linf', epsilons: [-0.1] }), /epsilons must be finite and >= 0/);
    const live = tensorStats().live;
    assert.throws(() => new PGD({ loss: 'dlr' }).run({ forward: () => { throw new Error('model failed'); } }, x, y, { norm: 'linf', epsilons: [0.1] }), /model failed/);
    assert.equal(tensorStats().live, live, 'a failing run frees what it made');
  });
});

describe('attack-specific semantics', () => {
  it('Square reads only logits: it breaks a model that cannot be differentiated, where PGD cannot run', () => {
    const opaque: Model = { forward: (t) => noGrad(() => net.forward(t)) };
    const square = createAttack('square', { steps: 200, seed: 1 }).run(opaque, x, y, { norm: 'linf', epsilons: [0.4] });
    assert.equal(square.gradientEvaluations, 0);
    assert.ok(scope(() => square.perEpsilon[0]!.success.float().mean().item()) > 0.75);
    square.dispose();
    assert.throws(() => createAttack('pgd', { steps: 2 }).run(opaque, x, y, { norm: 'linf', epsilons: [0.4] }));
  });

  it('CW: success at eps means found with L2 norm <= eps; otherwise the original is returned', () => {
    const result = createAttack('cw', { binarySearchSteps: 5, steps: 50, learningRate: 0.05 }).run(net, x, y, { norm: 'l2', epsilons: [0.8, 1.2, 2, 5] });
    scope(() => {
      for (const e of result.perEpsilon) {
        const unchanged = e.adversarial.sub(x).flatten(1).abs().amax(1).eq(0);
        assert.ok(e.success.logicalNot().logicalAnd(unchanged.logicalNot()).any() === false, `eps ${e.epsilon}: a failed sample was perturbed`);
        assert.ok(e.norms.maskedSelect(e.success).le(e.epsilon + 1e-6).all());
      }
      const rates = result.perEpsilon.map((e) => e.success.float().mean().item());
      assert.ok(rates[0]! < rates[2]! && rates[3] === 1, `success grows with eps: ${rates}`);
      // The same minimum-norm example is returned at every eps that admits it.
      const [a, , , d] = result.perEpsilon as [typeof result.perEpsilon[0], unknown, unknown, typeof result.perEpsilon[0]];
      const both = a.success.nonzero().squeeze(1);
      assert.ok(a.adversarial.indexSelect(0, both).equal(d.adversarial.indexSelect(0, both)));
    });
    result.dispose();
  });

  it('APGD checkpoints follow p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)', () => {
    assert.deepEqual(apgdCheckpoints(100), [22, 41, 57, 70, 80, 87, 93, 99]);
    assert.deepEqual(apgdCheckpoints(10), [3, 5, 6, 7, 8, 9, 10]);
  });

  it('MI-FGSM accumulates momentum: with decay 0 it differs from decay 1', () => {
    const run = (decay: number): Tensor => {
      const r = createAttack('mifgsm', { decay, steps: 5, earlyStop: false, carryOver: false }).run(net, x, y, { norm: 'linf', epsilons: [0.2] });
      const adv = r.perEpsilon[0]!.adversarial.clone().keep();
      r.dispose();
      return adv;
    };
    const [a, b] = [run(0), run(1)];
    assert.ok(!a.equal(b));
    a.dispose();
    b.dispose();
  });
});
