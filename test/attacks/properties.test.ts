/**
 * Properties every attack must have, checked on a small model trained on synthetic data:
 * perturbations within eps in the threat norm, images within the bounds, success masks and
 * predictions that agree with the model's own predictions on the returned examples, reported norms
 * that match, monotone sweeps with carry-over, real efficacy at a large eps, targeted attacks that
 * reach the target, and no tensor left behind after dispose().
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { noGrad, scope, tensorStats, type Tensor } from '../../src/tensor/index.js';
import { perSampleNorm, type Attack, type Norm } from '../../src/attacks/index.js';
import { createAttack } from '../../src/attacks/registry.js';
import { CLASSES, syntheticData, trainedNet, type SmallNet } from './helpers.js';

/** Each attack with quick settings, the norms it supports, and the budgets that must break most samples. */
const CASES: { name: string; options: Record<string, unknown>; norms: Norm[]; targetable: boolean }[] = [
  { name: 'fgsm', options: {}, norms: ['linf', 'l2'], targetable: true },
  { name: 'bim', options: { steps: 10 }, norms: ['linf'], targetable: true },
  { name: 'pgd', options: { steps: 10, restarts: 2 }, norms: ['linf', 'l2'], targetable: true },
  { name: 'step-ll', options: {}, norms: ['linf', 'l2'], targetable: false },
  { name: 'iter-step-ll', options: { steps: 10 }, norms: ['linf'], targetable: false },
  { name: 'cw-pgd', options: { steps: 10 }, norms: ['linf', 'l2'], targetable: true },
  { name: 'apgd', options: { steps: 20 }, norms: ['linf', 'l2'], targetable: true },
  { name: 'apgd-dlr', options: { steps: 20 }, norms: ['linf', 'l2'], targetable: true },
  { name: 'mifgsm', options: { steps: 10 }, norms: ['linf', 'l2'], targetable: true },
  { name: 'square', options: { steps: 300 }, norms: ['linf', 'l2'], targetable: true },
  { name: 'cw', options: { binarySearchSteps: 4, steps: 60, learningRate: 0.05 }, norms: ['l2'], targetable: true },
];

/** Budgets per norm: the small one leaves the samples intact, the middle one breaks some, the largest most. */
const EPSILONS: Record<Norm, number[]> = { linf: [0, 0.1, 0.25, 0.4], l2: [0, 0.5, 1.2, 3] };

let net: SmallNet;
let x: Tensor;
let y: Tensor;

before(() => {
  net = trainedNet();
  ({ x, y } = syntheticData(64, 3));
});
after(() => {
  x.dispose();
  y.dispose();
  net.dispose();
});

function check(attack: Attack, norm: Norm, labels: Tensor, targeted: boolean): { lastSuccess: number } {
  const epsilons = EPSILONS[norm];
  const live = tensorStats().live;
  const result = attack.run(net, x, labels, { norm, epsilons, targeted });
  let lastSuccess = 0;
  scope(() => {
    assert.deepEqual(result.perEpsilon.map((e) => e.epsilon), epsilons);
    let previous: Tensor | null = null;
    for (const e of result.perEpsilon) {
      const what = `${attack.name} ${norm} eps ${e.epsilon}${targeted ? ' targeted' : ''}`;
      const adv = e.adversarial;
      assert.deepEqual([...adv.shape], [...x.shape], `${what}: shape`);
      assert.ok(adv.min().item() >= 0 && adv.max().item() <= 1, `${what}: images within [0,1]`);
      const norms = perSampleNorm(adv.sub(x), norm === 'linf' ? Infinity : 2);
      assert.ok(norms.max().item() <= e.epsilon + 1e-6, `${what}: max perturbation ${norms.max().item()} exceeds eps`);
      assert.ok(norms.allclose(e.norms, 1e-5, 1e-6), `${what}: reported norms differ from ||adv - x||`);
      const predictions = noGrad(() => net.forward(adv).argmax(1));
      assert.ok(predictions.equal(e.predictions), `${what}: predictions differ from the model's on the returned examples`);
      const expected = targeted ? predictions.eq(labels) : predictions.ne(labels);
      assert.ok(expected.equal(e.success), `${what}: success mask differs from the model's predictions`);
      if (previous !== null) {
        assert.ok(previous.logicalAnd(e.success.logicalNot()).any() === false, `${what}: a sample broken at a smaller eps is unbroken here (carry-over)`);
      }
      previous = e.success;
      lastSuccess = e.success.float().mean().item();
    }
    assert.ok(result.perEpsilon[0]!.norms.max().item() === 0, 'eps 0 returns the originals');
  });
  assert.ok(result.gradientEvaluations >= 0 && result.forwardEvaluations > 0 && result.seconds > 0);
  result.dispose();
  assert.equal(tensorStats().live, live, `${attack.name} ${norm}: tensors left behind after dispose()`);
  return { lastSuccess };
}

describe('every attack', () => {
  for (const c of CASES) {
    for (const norm of c.norms) {
      it(`${c.name} (${norm}): within eps and bounds, honest success and norms, monotone, effective, no leaks`, () => {
        const attack = createAttack(c.name, { ...c.options, seed: 1 });
        const { lastSuccess } = check(attack, norm, y, false);
        assert.ok(lastSuccess >= 0.75, `${c.name} ${norm}: only ${(lastSuccess * 100).toFixed(0)}% broken at the largest eps`);
      });
    }
    if (c.targetable) {
      it(`${c.name}: targeted attacks reach the target class`, () => {
        const attack = createAttack(c.name, { ...c.options, seed: 2 });
        const targets = scope(() => y.add(1).remainder(CLASSES)).keep();
        try {
          const { lastSuccess } = check(attack, c.norms[0] as Norm, targets, true);
          assert.ok(lastSuccess >= 0.75, `${c.name}: only ${(lastSuccess * 100).toFixed(0)}% reach their target at the largest eps`);
        } finally {
          targets.dispose();
        }
      });
    } else {
      it(`${c.name}: refuses a targeted threat model with a clear error`, () => {
        const attack = createAttack(c.name, c.options);
        assert.throws(() => attack.run(net, x, y, { norm: 'linf', epsilons: [0.1], targeted: true }), /untargeted by construction/);
      });
    }
  }
});

it('iterative attacks are at least as strong as FGSM where FGSM breaks only some samples', () => {
  const rate = (name: string, options: Record<string, unknown>): number => {
    const r = createAttack(name, { ...options, seed: 3 }).run(net, x, y, { norm: 'linf', epsilons: [0.25] });
    const value = scope(() => r.perEpsilon[0]!.success.float().mean().item());
    r.dispose();
    return value;
  };
  const fgsm = rate('fgsm', {});
  assert.ok(fgsm > 0.2 && fgsm < 0.95, `FGSM breaks ${fgsm}: the comparison needs a partial success`);
  for (const [name, options] of [['pgd', { steps: 20 }], ['apgd', { steps: 20 }], ['cw-pgd', { steps: 20 }]] as const) {
    assert.ok(rate(name, options) >= fgsm, `${name} weaker than FGSM`);
  }
});
