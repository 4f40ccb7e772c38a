/**
 * The AutoAttack attacks of issue #26: APGD-T (Croce & Hein 2020, "Reliable evaluation ...") and
 * FAB / FAB-T (Croce & Hein 2020, "Minimally distorted adversarial examples with a fast adaptive
 * boundary attack"). Properties as for every attack (test/attacks/properties.test.ts), APGD-T
 * against APGD-DLR, and FAB against the closed-form minimal distance of linear models.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { noGrad, scope, tensorStats, type Tensor } from '../../src/tensor/index.js';
import { perSampleNorm, type Attack, type Model, type Norm } from '../../src/attacks/index.js';
import { createAttack } from '../../src/attacks/registry.js';
import { syntheticData, trainedNet, type SmallNet } from './helpers.js';

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

/** Runs `attack` and checks the properties of every attack; returns the success rates per epsilon and the result's adversarials (copied). */
function check(attack: Attack, model: Model, images: Tensor, labels: Tensor, norm: Norm, epsilons: number[]): number[] {
  const live = tensorStats().live;
  const result = attack.run(model, images, labels, { norm, epsilons });
  const rates: number[] = [];
  scope(() => {
    assert.deepEqual(result.perEpsilon.map((e) => e.epsilon), epsilons);
    let previous: Tensor | null = null;
    for (const e of result.perEpsilon) {
      const what = `${attack.name} ${norm} eps ${e.epsilon}`;
      const adv = e.adversarial;
      assert.ok(adv.min().item() >= 0 && adv.max().item() <= 1, `${what}: images within [0,1]`);
      const norms = perSampleNorm(adv.sub(images), norm === 'linf' ? Infinity : 2);
      assert.ok(norms.max().item() <= e.epsilon + 1e-6, `${what}: max perturbation ${norms.max().item()} exceeds eps`);
      assert.ok(norms.allclose(e.norms, 1e-5, 1e-6), `${what}: reported norms differ from ||adv - x||`);
      const predictions = noGrad(() => model.forward(adv).argmax(1));
      assert.ok(predictions.equal(e.predictions), `${what}: predictions differ from the model's`);
      assert.ok(predictions.ne(labels).equal(e.success), `${what}: success must mean misclassified`);
      if (previous !== null) assert.ok(!previous.logicalAnd(e.success.logicalNot()).any(), `${what}: not monotone`);
      previous = e.success;
      rates.push(e.success.float().mean().item());
    }
  });
  result.dispose();
  assert.equal(tensorStats().live, live, `${attack.name} ${norm}: tensors left behind after dispose()`);
  return rates;
}

/** The adversarial examples of one run at `eps` (kept; dispose them). */
function examples(attack: Attack, model: Model, images: Tensor, labels: Tensor, norm: Norm, eps: number): Tensor {
  const r = attack.run(model, images, labels, { norm, epsilons: [eps] });
  const adv = r.perEpsilon[0]!.adversarial.clone().keep();
  r.dispose();
  return adv;
}

describe('APGD-T', () => {
  for (const norm of ['linf', 'l2'] as const) {
    it(`(${norm}) stays within eps and bounds, counts only misclassifications, breaks most samples at the largest eps`, () => {
      const rates = check(createAttack('apgd-t', { steps: 20, targets: 3, seed: 1 }), net, x, y, norm, EPSILONS[norm]);
      assert.ok((rates.at(-1) as number) >= 0.75, `only ${rates.at(-1)} broken`);
    });
  }

  it('is deterministic with a seed', () => {
    const a = examples(createAttack('apgd-t', { steps: 10, seed: 5 }), net, x, y, 'linf', 0.2);
    const b = examples(createAttack('apgd-t', { steps: 10, seed: 5 }), net, x, y, 'linf', 0.2);
    assert.ok(scope(() => a.equal(b)));
    a.dispose();
    b.dispose();
  });

  it('breaks at least as many samples as APGD-DLR', () => {
    const rate = (name: string): number => {
      const r = createAttack(name, { steps: 30, seed: 3 }).run(net, x, y, { norm: 'linf', epsilons: [0.15, 0.2, 0.25] });
      const value = scope(() => r.perEpsilon.reduce((s, e) => s + e.success.float().sum().item(), 0));
      r.dispose();
      return value;
    };
    const dlr = rate('apgd-dlr');
    const targeted = rate('apgd-t');
    console.log(`APGD-DLR broke ${dlr}, APGD-T ${targeted} (sum over eps 0.15, 0.2, 0.25 of 64 samples)`);
    assert.ok(targeted >= dlr, `APGD-T ${targeted} < APGD-DLR ${dlr}`);
  });

  it('refuses targeted threat models and models with fewer than 4 classes', () => {
    assert.throws(() => createAttack('apgd-t').run(net, x, y, { norm: 'linf', epsilons: [0.1], targeted: true }), /untargeted by construction/);
    const three: Model = { forward: (t: Tensor) => net.forward(t).narrow(1, 0, 3) };
    const labels = scope(() => y.remainder(3)).keep();
    assert.throws(() => createAttack('apgd-t', { carryOver: false }).run(three, x, labels, { norm: 'linf', epsilons: [0.1] }), /at least 4 classes/);
    labels.dispose();
  });
});
