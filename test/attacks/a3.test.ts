/** A3 (paper 004 eq. 11-13): budget, equivalence at sigma 0, the attention term's effect on the gradient, registry, leaks. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { enableGrad, grad, scope, setNumThreads, tensorStats, type Tensor } from '../../src/tensor/index.js';
import { gradCam, attentionArea } from '../../src/explain/gradcam.js';
import { crossEntropy } from '../../src/nn/functional.js';
import { A3IterStepLL, A3PGD, createA3 } from '../../src/attacks/a3.js';
import { IterStepLL } from '../../src/attacks/step-ll.js';
import { PGD } from '../../src/attacks/pgd.js';
import { createAttack } from '../../src/attacks/registry.js';
import { patternData, trainedTinyCam } from '../helpers/tiny-cam.js';
import { trainedNet } from './helpers.js';

setNumThreads(1);

const EPS = 0.15;
const THREAT = { norm: 'linf' as const, epsilons: [EPS] };

function deviation(net: ReturnType<typeof trainedTinyCam>, x: Tensor, adv: Tensor, y: Tensor): number {
  return scope(() => {
    const att = attentionArea(gradCam(net, x, { classes: y }).maps).float();
    const maps = gradCam(net, adv, { classes: y }).maps;
    return maps.div(maps.amax([1, 2], true).clamp(1e-12)).sub(att).abs().mean().item();
  });
}

describe('A3 attack', () => {
  const net = trainedTinyCam(1);
  const data = patternData(48, 3);
  after(() => {
    net.dispose();
    data.x.dispose();
    data.y.dispose();
  });

  it('stays within eps and the pixel bounds for every base', () => {
    for (const attack of [createA3({ base: 'step-ll' }), createA3({ base: 'iter-step-ll', steps: 3 }), createA3({ base: 'pgd', steps: 3, seed: 1 })]) {
      const result = attack.run(net, data.x, data.y, THREAT);
      scope(() => {
        const adv = result.perEpsilon[0]!.adversarial;
        assert.ok(adv.sub(data.x).abs().max().item() <= EPS + 1e-6, `${attack.name}: L-inf norm`);
        assert.ok(adv.min().item() >= 0 && adv.max().item() <= 1, `${attack.name}: bounds`);
        assert.ok(result.perEpsilon[0]!.norms.max().item() <= EPS + 1e-6);
      });
      assert.ok(result.gradientEvaluations > 0);
      result.dispose();
    }
  });

  it('is exactly the base attack when sigma = 0', () => {
    const pairs: [{ run: A3PGD['run'] }, { run: PGD['run'] }][] = [
      [new A3IterStepLL({ steps: 3, sigma: 0 }), new IterStepLL({ steps: 3 })],
      [new A3PGD({ steps: 3, sigma: 0, seed: 4 }), new PGD({ steps: 3, seed: 4 })],
      [new A3PGD({ steps: 3, sigma: 0, seed: 4, loss: 'cw' }), new PGD({ steps: 3, seed: 4, loss: 'cw' })],
    ];
    for (const [a3, base] of pairs) {
      const [r1, r2] = [a3.run(net, data.x, data.y, THREAT), base.run(net, data.x, data.y, THREAT)];
      scope(() => assert.ok(r1.perEpsilon[0]!.adversarial.allclose(r2.perEpsilon[0]!.adversarial, 0, 1e-6)));
      r1.dispose();
      r2.dispose();
    }
  });

  it('changes the gradient by the attention term: StepLL+A3 moves along sign(grad(L(y_LL)) - sigma grad|Att - g|)', () => {
    scope(() => {
      const x = data.x.narrow(0, 0, 8);
      const y = data.y.narrow(0, 0, 8);
      const sigma = 10;
      const result = createA3({ base: 'step-ll', sigma, earlyStop: false, carryOver: false }).run(net, x, y, THREAT);
      // eq. 12-13 by hand: descend CE(y_LL) - sigma * mean|Att(x) - g(x)/max g(x)| from x.
      const target = net.forward(x).argmin(1);
      const att = attentionArea(gradCam(net, x, { classes: y }).maps).float();
      const [gTotal, gBase] = enableGrad(() => {
        const leaf = x.detach().requiresGrad_(true);
        const { maps, logits } = gradCam(net, leaf, { classes: y, createGraph: true });
        const dev = maps.div(maps.amax([1, 2], true).clamp(1e-12)).sub(att).abs().flatten(1).mean(1);
        const ce = crossEntropy(logits, target, { reduction: 'none' });
        const total = grad(ce.sub(dev.mul(sigma)).sum(), leaf, { retainGraph: true })[0] as Tensor;
        const base = grad(ce.sum(), leaf)[0] as Tensor;
        return [total, base];
      });
      // Per sample the attack returns its best iterate: the step of eq. 13, or the original when
      // the step neither misclassifies nor raises the objective (then both leave the label intact).
      const expected = x.sub(gTotal.sign().mul(EPS)).clamp(0, 1);
      const adv = result.perEpsilon[0]!.adversarial;
      const isStep = adv.sub(expected).abs().flatten(1).amax(1).le(1e-6);
      const isOriginal = adv.sub(x).abs().flatten(1).amax(1).le(1e-6);
      assert.ok(isStep.logicalOr(isOriginal).all(), 'every example is the eq. 13 step or the original');
      assert.ok(isStep.float().mean().item() >= 0.5, `most examples are the eq. 13 step (${isStep.float().mean().item()})`);
      const changed = gTotal.sign().ne(gBase.sign()).float().mean().item();
      assert.ok(changed > 0.01, `the attention term flips ${(changed * 100).toFixed(1)}% of the step signs`);
      result.dispose();
    });
  });

  it('deviates the attention more than the plain attack', () => {
    const noStop = { steps: 5, earlyStop: false, carryOver: false };
    const plain = new IterStepLL(noStop).run(net, data.x, data.y, THREAT);
    const a3 = new A3IterStepLL({ ...noStop, sigma: 10 }).run(net, data.x, data.y, THREAT);
    const [dPlain, dA3] = [plain, a3].map((r) => deviation(net, data.x, r.perEpsilon[0]!.adversarial, data.y)) as [number, number];
    assert.ok(dA3 > dPlain, `attention deviation: A3 ${dA3.toFixed(3)} vs plain ${dPlain.toFixed(3)}`);
    plain.dispose();
    a3.dispose();
  });

  it('is in the registry with sigma, and explains what it needs', () => {
    const attack = createAttack('a3-pgd', { sigma: 5, steps: 2 }) as A3PGD;
    assert.equal(attack.a3.sigma, 5);
    assert.equal(createAttack('a3-step-ll').name, 'a3-step-ll');
    assert.throws(() => createAttack('a3-step-ll', { steps: 3 }), /option 'steps' does not apply to a3-step-ll/);
    assert.throws(() => createA3({ base: 'iter-step-ll', randomStart: true }), /apply to the pgd base only/);
    assert.throws(() => createA3({ base: 'iter-step-ll', loss: 'cw' }), /apply to the pgd base only/);
    assert.equal((createAttack('a3-pgd', { loss: 'cw' }) as A3PGD).loss, 'cw');
    assert.equal((createAttack('a3-iter-step-ll', { normalize: false }) as A3IterStepLL).a3.normalize, false);
    const mlp = trainedNet(0);
    assert.throws(() => attack.run(mlp, data.x, data.y, THREAT), /needs a zoo classifier with Grad-CAM tap points/);
    assert.throws(() => attack.run(net, data.x, data.y, { ...THREAT, targeted: true }), /untargeted/);
    mlp.dispose();
  });

  it('leaks no tensors', () => {
    const attack = createA3({ base: 'pgd', steps: 2, seed: 0 });
    attack.run(net, data.x, data.y, THREAT).dispose();
    const before = tensorStats().live;
    for (let i = 0; i < 2; i++) attack.run(net, data.x, data.y, THREAT).dispose();
    assert.equal(tensorStats().live, before);
  });
});
