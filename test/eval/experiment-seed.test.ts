/**
 * Experiment evaluations are reproducible (issue #27, finding 3): every evaluation runs under its
 * spec's seed (default 0), so a cold run (the model trained in the same process just before) and a
 * run on the cached model give exactly the same PGD numbers.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runExperiment, type Experiment } from '../../src/eval/experiment.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { rand } from '../../src/tensor/index.js';
import { writePatchDataset } from '../defenses/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'bastion-experiment-seed-'));
after(() => rmSync(root, { recursive: true, force: true }));

function experiment(data: string): Experiment {
  return {
    name: 'seeded', version: 1, title: 'Seeded', papers: ['000'], description: 'test', estimateMinutes: 1, smoke: true,
    models: [{ id: 'cnn', kind: 'classifier', architecture: 'kfold-cnn', data, recipe: { epochs: 1, valCount: 0, batchSize: 32, flip: false, cropPadding: 0 } }],
    evaluations: [{ id: 'pgd', type: 'attack', model: 'cnn', data, attack: 'pgd', norm: 'l2', epsilons: [1, 3], attackOptions: { steps: 2, randomStart: true } }],
    tables: [],
  };
}

describe('experiment evaluations are seeded', () => {
  it('gives the same PGD numbers cold (model trained in this process) and cached', async () => {
    setProgressOutput(null);
    process.env['BASTION_CACHE_DIR'] = join(root, 'cache');
    try {
      const data = writePatchDataset(join(root, 'data'), 96, 4);
      const e = experiment(data);
      const cold = await runExperiment(e, { out: join(root, 'cold'), progress: false });
      assert.equal(cold.models['cnn']?.cached, false);
      rand([7]).dispose(); // the global generator moves on between runs, as it does in any process
      const cached = await runExperiment(e, { out: join(root, 'cached'), progress: false });
      assert.equal(cached.models['cnn']?.cached, true);
      const numbers = (r: typeof cold): unknown => (r.evaluations['pgd']?.result as { perEpsilon: unknown }).perEpsilon;
      assert.deepEqual(numbers(cached), numbers(cold));
    } finally {
      delete process.env['BASTION_CACHE_DIR'];
    }
  });
});
