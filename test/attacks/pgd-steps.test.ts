/** PGD's recordSteps: one run reports PGD-k for several k, identical to separate runs with the same start and step size. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { scope, setNumThreads, tensorStats } from '../../src/tensor/index.js';
import { PGD, type PGDResult } from '../../src/attacks/pgd.js';
import { CWPGD } from '../../src/attacks/cw-pgd.js';
import { syntheticData, trainedNet } from './helpers.js';

setNumThreads(1);

describe('PGD recordSteps', () => {
  it('gives the same examples and successes as separate PGD-k runs (early stopping on and off)', () => {
    const net = trainedNet(2);
    const { x, y } = syntheticData(64, 4);
    const threat = { norm: 'linf' as const, epsilons: [0.15, 0.3] };
    for (const earlyStop of [true, false]) {
      for (const Attack of [PGD, CWPGD]) {
        const common = { stepSize: 0.02, seed: 9, earlyStop };
        const one = new Attack({ ...common, steps: 8, recordSteps: [1, 3, 8] }).run(net, x, y, threat) as PGDResult;
        assert.deepEqual(one.atSteps?.map((s) => s.steps), [1, 3, 8]);
        for (const [i, k] of [1, 3, 8].entries()) {
          const separate = new Attack({ ...common, steps: k }).run(net, x, y, threat);
          scope(() => {
            for (const [e, eps] of threat.epsilons.entries()) {
              const a = one.atSteps![i]!.perEpsilon[e]!;
              const b = separate.perEpsilon[e]!;
              assert.ok(a.success.equal(b.success), `${Attack.name} k=${k} eps=${eps} earlyStop=${earlyStop}: success`);
              assert.ok(a.adversarial.allclose(b.adversarial, 0, 1e-6), `k=${k} eps=${eps}: examples`);
              assert.ok(a.predictions.equal(b.predictions));
              assert.ok(a.norms.max().item() <= eps + 1e-6);
            }
          });
          separate.dispose();
        }
        // The full count is the run's own result; fewer steps break no more samples.
        scope(() => {
          assert.ok(one.atSteps![2]!.perEpsilon[1]!.success.equal(one.perEpsilon[1]!.success));
          assert.ok(one.atSteps![0]!.perEpsilon[1]!.success.sum().item() <= one.atSteps![2]!.perEpsilon[1]!.success.sum().item());
        });
        one.dispose();
      }
    }
    x.dispose();
    y.dispose();
    net.dispose();
  });

  it('checks its settings and frees everything', () => {
    assert.throws(() => new PGD({ steps: 5, recordSteps: [10] }), /recordSteps \(10\) exceed steps \(5\)/);
    assert.throws(() => new PGD({ steps: 5, restarts: 2, recordSteps: [5] }), /needs restarts = 1/);
    const net = trainedNet(3);
    const { x, y } = syntheticData(16, 1);
    const attack = new PGD({ steps: 4, stepSize: 0.05, recordSteps: [2, 4], seed: 1 });
    attack.run(net, x, y, { norm: 'linf', epsilons: [0.2] }).dispose();
    const before = tensorStats().live;
    attack.run(net, x, y, { norm: 'linf', epsilons: [0.1, 0.2] }).dispose();
    assert.equal(tensorStats().live, before);
    x.dispose();
    y.dispose();
    net.dispose();
  });
});
