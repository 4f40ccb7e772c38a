/** Experiment configs, model cache keys, table resolution, and a tiny end-to-end reproduce run. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  listExperiments, modelKeys, modelsNeeded, readPath, resolveTables, runExperiment, validateExperiment, type Experiment,
} from '../../src/eval/experiment.js';
import { formatCell, tableToCsv, tableToMarkdown } from '../../src/report/tables.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { writePatchDataset } from '../defenses/fixtures.js';
import { paper004Experiment } from '../../src/eval/aad-config.js';
import { recipeForEpochs } from '../../src/models/train-classifier.js';

const root = mkdtempSync(join(tmpdir(), 'bastion-experiment-'));
after(() => rmSync(root, { recursive: true, force: true }));

function tiny(data: string): Experiment {
  return {
    name: 'tiny', version: 1, title: 'Tiny', papers: ['000'], description: 'test', estimateMinutes: 1, smoke: true,
    models: [{ id: 'cnn', kind: 'classifier', architecture: 'kfold-cnn', data, recipe: { epochs: 2, valCount: 0, batchSize: 32, flip: false, cropPadding: 0 } }],
    evaluations: [{ id: 'fgsm', type: 'attack', model: 'cnn', data, attack: 'fgsm', epsilons: [0, 0.1, 0.6], attackOptions: { carryOver: false } }],
    tables: [{
      id: 'table1', title: 'FGSM', columns: ['paper', 'ours'],
      rows: [0, 0.1, 0.6].map((e, i) => ({
        label: `eps ${e}`,
        cells: { paper: { paper: 'paper000-table1', select: { dataset: 'mnist', attack: 'fgsm', epsilon: e } }, ours: { result: 'fgsm', path: `perEpsilon[${i}].accuracy` } },
      })),
      differences: [['ours', 'paper']],
    }],
  };
}

describe('experiment configs', () => {
  it('validates the shipped experiments', async () => {
    const experiments = await listExperiments();
    assert.ok(experiments.length >= 1);
    for (const e of experiments) assert.ok(e.estimateMinutes > 0 && e.models.length > 0, e.name);
  });

  it('trains the paper-004 Table 6 models with the settings of src/eval/aad-config.ts (what `train --recipe paper004 [--epochs N]` uses)', async () => {
    const experiments = (await listExperiments()).filter((e) => e.name.startsWith('paper004-table6-'));
    assert.deepEqual(experiments.map((e) => e.name).sort(), ['paper004-table6-cifar10', 'paper004-table6-fashion-mnist', 'paper004-table6-mnist', 'paper004-table6-mnist-10-epochs']);
    for (const e of experiments) {
      // Models borrowed from other experiments (e.g. paper 002's VGG for the A3 comparison) keep their own recipe.
      const table6Models = new Set(e.evaluations.flatMap((ev) => (ev.type === 'table6' ? [ev.model] : [])));
      assert.ok(table6Models.size >= 3, `${e.name}: Table 6 models`);
      for (const m of e.models.filter((model) => table6Models.has(model.id))) {
        const settings = paper004Experiment(m.data);
        assert.equal(m.architecture, settings.architecture, `${e.name}/${m.id}`);
        // A longer schedule is the recipe as `--epochs N` rescales it (its learning-rate decay at the same fraction).
        assert.deepEqual(m.recipe, recipeForEpochs(settings.recipe, Number(m.recipe?.['epochs'] ?? settings.recipe.epochs)), `${e.name}/${m.id}: recipe`);
        if (m.defense) {
          const { eps, steps, stepSize, epsWarmupEpochs, attackPrecision } = settings.trainingAttack;
          const d = m.defense;
          assert.deepEqual(
            { eps: d.eps, steps: d.steps, stepSize: d.stepSize, epsWarmupEpochs: d.epsWarmupEpochs ?? 0, attackPrecision: d.attackPrecision ?? 'float32' },
            { eps, steps, stepSize, epsWarmupEpochs, attackPrecision }, `${e.name}/${m.id}: training attack`);
        }
      }
      for (const ev of e.evaluations) {
        if (ev.type !== 'table6') continue;
        const { eps, stepSize, iterations } = paper004Experiment(ev.data).evaluation;
        assert.deepEqual({ eps: ev.eps, stepSize: ev.stepSize, iterations: ev.iterations }, { eps, stepSize, iterations }, `${e.name}/${ev.id}`);
      }
    }
  });

  it('rejects broken configs with the field named', () => {
    const base = tiny('x');
    assert.throws(() => validateExperiment({ ...base, estimateMinutes: 0 }, 'f.json'), /f\.json: 'estimateMinutes' must be a positive number/);
    assert.throws(() => validateExperiment({ ...base, evaluations: [{ ...base.evaluations[0], model: 'nope' }] }, 'f.json'), /names model 'nope', which is not defined/);
    assert.throws(() => validateExperiment({ ...base, models: [...base.models, { ...base.models[0] }] }, 'f.json'), /model ids must be unique/);
    assert.throws(() => validateExperiment({ ...base, evaluations: [{ ...base.evaluations[0]!, type: 'aad-study' }] }, 'f.json'), /evaluation 'fgsm': unknown type 'aad-study'/);
    const withDefense = (defense: unknown, kind = 'classifier'): unknown => ({ ...base, models: [{ ...base.models[0], kind, defense }] });
    assert.throws(() => validateExperiment(withDefense({ method: 'nope', eps: 0.3 }), 'f.json'), /model 'cnn': 'defense' needs a method \(madry, alp, trades\) and a positive eps/);
    assert.throws(() => validateExperiment(withDefense({ method: 'madry' }), 'f.json'), /positive eps/);
    assert.throws(() => validateExperiment(withDefense({ method: 'madry', eps: 0.3 }, 'purifier'), 'f.json'), /applies to classifiers only/);
    const badTable = { ...base, tables: [{ ...base.tables[0]!, rows: [{ label: 'r', cells: { nope: { value: 1 } } }] }] };
    assert.throws(() => validateExperiment(badTable, 'f.json'), /unknown column 'nope'/);
  });

  it('keys cached models by their spec and the specs of the models they depend on', () => {
    const e = tiny('data');
    const withPurifier: Experiment = { ...e, models: [...e.models, { id: 'p', kind: 'purifier', architecture: 'dae', data: 'data', mode: 'adversarial', classifier: 'cnn' }] };
    const keys = modelKeys(withPurifier);
    assert.equal(keys.get('cnn'), modelKeys(e).get('cnn'), 'same spec, same key');
    const changed: Experiment = { ...withPurifier, models: [{ ...withPurifier.models[0]!, seed: 1 }, withPurifier.models[1]!] };
    const changedKeys = modelKeys(changed);
    assert.notEqual(changedKeys.get('cnn'), keys.get('cnn'));
    assert.notEqual(changedKeys.get('p'), keys.get('p'), 'a dependency change re-keys the dependent model');
  });

  it('reads result paths and resolves tables with paper values and differences', () => {
    assert.equal(readPath({ a: { b: [1, { c: 7 }] } }, 'a.b[1].c'), 7);
    assert.equal(readPath({ a: 1 }, 'a.missing.deeper'), null);
    // Model ids with dots (paper 001's dae-0.1) are keys, not paths.
    const defended = { grayBox: { defenses: { 'dae-0.1': [0.97], 'dae-0.1+kfold': [0.98], dae: { 0: 'no' } } } };
    assert.equal(readPath(defended, 'grayBox.defenses.dae-0.1[0]'), 0.97);
    assert.equal(readPath(defended, 'grayBox.defenses.dae-0.1+kfold[0]'), 0.98);
    assert.equal(readPath({ 'a.b': { c: 1 }, a: { b: { c: 2 } } }, 'a.b.c'), 1);
    const e = tiny('data');
    const tables = resolveTables(e, { fgsm: { type: 'attack', seconds: 1, result: { perEpsilon: [{ accuracy: 0.99 }, { accuracy: 0.9 }, { accuracy: 0.3 }] } } });
    const row = tables[0]!.rows[1]!;
    assert.equal(row.values['paper'], 0.9232);
    assert.equal(row.values['ours'], 0.9);
    assert.ok(Math.abs((row.values['ours - paper'] as number) - (0.9 - 0.9232)) < 1e-12);
    assert.match(tableToMarkdown(tables[0]!), /\| eps 0\.1 \| 92\.32% \| 90\.00% \| -2\.32 \|/);
    assert.match(tableToCsv(tables[0]!), /^row,paper,ours,ours - paper\neps 0,0\.9919,0\.99,/);
  });

  it('resolves cells from model records', () => {
    const e: Experiment = { ...tiny('data'), tables: [{ id: 't', title: 'T', columns: ['mse'], rows: [{ label: 'cnn', cells: { mse: { model: 'cnn', path: 'testMse' } } }] }] };
    const record = { dir: 'd', cached: true, seconds: 0, training: { testMse: 0.0123 }, history: [] };
    assert.equal(resolveTables(e, {}, { cnn: record })[0]!.rows[0]!.values['mse'], 0.0123);
    assert.equal(formatCell(0.0123, 'test MSE'), '0.01230', 'an MSE is not a percentage');
    assert.equal(formatCell(0.9912, 'after purifier'), '99.12%');
    assert.equal(resolveTables(e, {})[0]!.rows[0]!.values['mse'], null, 'a model not trained in this run gives an empty cell');
    assert.throws(() => validateExperiment({ ...e, tables: [{ ...e.tables[0]!, rows: [{ label: 'r', cells: { mse: { model: 'nope', path: 'x' } } }] }] }, 'f.json'), /model 'nope' is not defined/);
  });

  it('--only selects the models the chosen evaluations and models need, with their classifiers', () => {
    const base = tiny('data');
    const e: Experiment = {
      ...base,
      models: [
        ...base.models,
        { id: 'other', kind: 'classifier', architecture: 'kfold-cnn', data: 'data' },
        { id: 'p', kind: 'purifier', architecture: 'cae', data: 'data', classifier: 'other' },
      ],
      evaluations: [...base.evaluations, { id: 'def', type: 'defense', classifier: 'cnn', purifiers: ['p'], data: 'data', attack: 'fgsm', epsilons: [0.1] }],
    };
    assert.deepEqual([...modelsNeeded(e, ['fgsm'])].sort(), ['cnn']);
    assert.deepEqual([...modelsNeeded(e, ['p'])].sort(), ['other', 'p']);
    assert.deepEqual([...modelsNeeded(e, ['def'])].sort(), ['cnn', 'other', 'p']);
    assert.throws(() => modelsNeeded(e, ['nope']), /has no evaluation or model 'nope'/);
  });
});

/** Runs `body` with the model cache in `root/cacheName` and progress output off. */
async function withCache(cacheName: string, body: () => Promise<void>): Promise<void> {
  setProgressOutput(null);
  process.env['BASTION_CACHE_DIR'] = join(root, cacheName);
  try {
    await body();
  } finally {
    delete process.env['BASTION_CACHE_DIR'];
  }
}

describe('runExperiment', () => {
  it('trains, evaluates, writes results.json with provenance, and reuses the cached model the second time', async () => {
    await withCache('cache', async () => {
      const data = writePatchDataset(join(root, 'data'), 160, 4);
      const e = tiny(data);
      const first = await runExperiment(e, { out: join(root, 'out1'), progress: false });
      assert.equal(first.models['cnn']?.cached, false);
      const accuracy = first.tables[0]!.rows[0]!.values['ours'] as number;
      assert.ok(accuracy > 0.5, `clean accuracy ${accuracy}`);
      const saved = JSON.parse(readFileSync(join(root, 'out1', 'results.json'), 'utf8')) as { provenance: { createdAt: string }; smoke: boolean };
      assert.ok(saved.provenance.createdAt && saved.smoke === true);
      const second = await runExperiment(e, { out: join(root, 'out2'), progress: false });
      assert.equal(second.models['cnn']?.cached, true);
      assert.deepEqual(second.tables, first.tables, 'same model and seed, same numbers');
    });
  });

  it('reuses finished evaluations of the same models from the output folder, and recomputes changed ones', async () => {
    await withCache('cache', async () => {
      const data = writePatchDataset(join(root, 'data'), 160, 4);
      const e = tiny(data);
      const out = join(root, 'out-reuse');
      const lines: string[] = [];
      const first = await runExperiment(e, { out, progress: false });
      assert.equal(first.evaluations['fgsm']?.reused, undefined);
      assert.ok(existsSync(join(out, 'evaluations', 'fgsm.json')), 'each evaluation is saved as soon as it finishes');
      const second = await runExperiment(e, { out, progress: false, log: (l) => lines.push(l) });
      assert.ok(second.evaluations['fgsm']?.reused, 'same spec and models: reused');
      assert.deepEqual(second.evaluations['fgsm']?.result, first.evaluations['fgsm']?.result);
      assert.ok(lines.some((l) => l.startsWith('reusing fgsm')), lines.join('\n'));
      // A results.json from before evaluation keys existed survives later runs.
      rmSync(join(out, 'evaluations'), { recursive: true });
      const legacy = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as { evaluations: Record<string, Record<string, unknown>> };
      for (const ev of Object.values(legacy.evaluations)) { delete ev['key']; delete ev['reused']; }
      writeFileSync(join(out, 'results.json'), JSON.stringify(legacy));
      // A run of another evaluation only (--only) rewrites results.json; the legacy result must survive it.
      const two = tiny(data);
      two.evaluations.push({ id: 'fgsm-small', type: 'attack', model: 'cnn', data, attack: 'fgsm', epsilons: [0.05], limit: 20 });
      await runExperiment(two, { out, progress: false, only: ['fgsm-small'] });
      assert.ok(existsSync(join(out, 'evaluations', 'fgsm.json')), 'the legacy result is saved as an evaluation file');
      const afterOnly = await runExperiment(two, { out, progress: false });
      // A legacy result records no code version: it is kept, but recomputed rather than trusted.
      assert.ok(!afterOnly.evaluations['fgsm']?.reused && afterOnly.evaluations['fgsm-small']?.reused, 'legacy results.json kept but recomputed after an --only run');
      const numbers = (r: typeof first): unknown => (r.evaluations['fgsm']?.result as { perEpsilon: unknown }).perEpsilon;
      assert.deepEqual(numbers(afterOnly), numbers(first), 'recomputed: same numbers (seeded)');
      const changed = tiny(data);
      const fgsm = changed.evaluations[0] as { epsilons: number[] };
      fgsm.epsilons = [0, 0.1, 0.5];
      assert.equal((await runExperiment(changed, { out, progress: false })).evaluations['fgsm']?.reused, undefined, 'changed spec: recomputed');
      assert.equal((await runExperiment(e, { out, progress: false, reevaluate: true })).evaluations['fgsm']?.reused, undefined, 'reevaluate: recomputed');
    });
  });

  it('trains adversarially (Madry + AAD) and runs the paper-004 evaluations (Table 6, A3, attention)', async () => {
    await withCache('cache-aad', async () => {
      const data = writePatchDataset(join(root, 'data-aad'), 120, 4);
      const recipe = { epochs: 1, valCount: 0, batchSize: 40, flip: false, cropPadding: 0 };
      const e: Experiment = {
        name: 'tiny-aad', version: 1, title: 'Tiny AAD', papers: ['004'], description: 'test', estimateMinutes: 1, smoke: true,
        models: [{ id: 'robust', kind: 'classifier', architecture: 'kfold-cnn', data, recipe, defense: { method: 'madry', eps: 0.1, steps: 2, aad: true } }],
        evaluations: [
          { id: 't6', type: 'table6', model: 'robust', data, eps: 0.1, stepSize: 0.05, iterations: [1, 3], limit: 20 },
          { id: 'a3', type: 'a3', model: 'robust', data, epsilons: [0.1], steps: 2, limit: 40 },
          { id: 'iou', type: 'attention', model: 'robust', data, epsilons: [0.1], cells: [2, 4], limit: 40 },
        ],
        tables: [{ id: 't', title: 'T', columns: ['pgd3', 'cw3'], rows: [{ label: 'madry+aad', cells: { pgd3: { result: 't6', path: 'columns.pgd3' }, cw3: { result: 't6', path: 'columns.cw3' } } }] }],
      };
      validateExperiment(e, 'tiny-aad.json');
      const results = await runExperiment(e, { out: join(root, 'out-aad'), progress: false });
      const training = results.models['robust']?.training as { defense: string; aad: unknown; attack: { steps: number; eps: number } };
      assert.equal(training.defense, 'madry');
      assert.ok(training.aad !== null, 'the AAD settings are recorded');
      assert.deepEqual([training.attack.steps, training.attack.eps], [2, 0.1]);
      const row = results.tables[0]!.rows[0]!.values;
      for (const column of ['pgd3', 'cw3']) assert.ok(typeof row[column] === 'number' && row[column] >= 0 && row[column] <= 1, `${column}: ${row[column]}`);
      const t6 = results.evaluations['t6']!.result as { columns: Record<string, number>; samples: number };
      assert.equal(t6.samples, 20, 'the limit holds');
      assert.ok((t6.columns['pgd3'] as number) <= (t6.columns['pgd1'] as number), 'more iterations never raise accuracy');
      const a3 = results.evaluations['a3']!.result as { rows: { pgd: number; pgdA3: number }[] };
      assert.equal(a3.rows.length, 1);
      const iou = results.evaluations['iou']!.result as { rows: { images: number; iou: { cells: number }[] }[] };
      assert.deepEqual(iou.rows[0]!.iou.map((c) => c.cells), [2, 4]);
    });
  });
});
