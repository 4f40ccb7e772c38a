/**
 * The paper-004 CIFAR-10 path end to end on small files in CIFAR-10's binary format (CIFAR-10 itself
 * is not on the test machines): the data set is found by name in a data folder, ResNet-9 trains
 * with the paper's recipe (shortened) under Madry + AAD with the recipe's training attack, the model
 * records its defense, and Table 6 runs on the test split with the CIFAR-10 evaluation settings;
 * then the experiment file `bastion reproduce paper004-table6-cifar10` runs (schedule shortened)
 * renders its tables beside the paper's CIFAR-10 rows.
 */
import { after, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { setNumThreads } from '../../src/tensor/index.js';
import { encodeCifarBatch, loadDataset } from '../../src/data/index.js';
import { loadClassifier } from '../../src/models/index.js';
import { trainClassifier } from '../../src/models/train-classifier.js';
import { adversarialTraining } from '../../src/defenses/adversarial-training.js';
import { paper004Experiment } from '../../src/eval/aad-config.js';
import { evaluateTable6 } from '../../src/eval/aad.js';
import { loadExperiment, runExperiment, type Experiment } from '../../src/eval/experiment.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { put, tempDir } from '../data/helpers.js';

setNumThreads(2);
const { dir, cleanup } = tempDir('aad-cifar');
after(cleanup);

/** `n` CIFAR records: class c has a bright square whose place depends on c, on a noisy background. */
function records(n: number, seed: number): Uint8Array {
  const labels = Uint8Array.from({ length: n }, (_, i) => (i + seed) % 10);
  const images = new Uint8Array(n * 3072);
  let s = seed;
  for (let i = 0; i < n; i++) {
    const c = labels[i] as number;
    const [top, left] = [(c % 4) * 7 + 2, Math.floor(c / 4) * 9 + 3];
    for (let ch = 0; ch < 3; ch++) {
      for (let p = 0; p < 1024; p++) {
        s = (s * 1103515245 + 12345) % 2147483648;
        const [r, col] = [Math.floor(p / 32), p % 32];
        const inside = r >= top && r < top + 6 && col >= left && col < left + 6;
        images[i * 3072 + ch * 1024 + p] = inside ? 220 : Math.floor((s / 2147483648) * 80);
      }
    }
  }
  return encodeCifarBatch(labels, images);
}

/** Writes a small CIFAR-10 (20 training and 6 test records) under `dir`/cifar10. */
function writeCifar(): void {
  const root = join(dir, 'cifar10', 'cifar-10-batches-bin');
  for (let k = 1; k <= 5; k++) put(join(root, `data_batch_${k}.bin`), records(4, k));
  put(join(root, 'test_batch.bin'), records(6, 9));
  put(join(root, 'batches.meta.txt'), 'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n');
}

it('trains ResNet-9 with Madry + AAD on CIFAR-format data with the paper-004 recipe and evaluates Table 6', async () => {
  writeCifar();
  const dataOptions = { dataDir: dir, strictCounts: false };

  const experiment = paper004Experiment('cifar10');
  assert.equal(experiment.architecture, 'resnet9');
  assert.deepEqual([experiment.recipe.batchSize, experiment.recipe.lr, experiment.recipe.epochs, experiment.recipe.valCount], [100, 1e-4, 200, 0]);
  assert.ok(Math.abs(experiment.trainingAttack.eps - 8 / 255) < 1e-12 && Math.abs(experiment.evaluation.stepSize - 2 / 255) < 1e-12);
  const at = adversarialTraining({ method: 'madry', ...experiment.trainingAttack, steps: 1, aad: true });
  const out = join(dir, 'resnet9-madry-aad');
  const events: string[] = [];
  const result = await trainClassifier({
    architecture: experiment.architecture, data: 'cifar10', out, dataOptions, seed: 1, progress: false,
    recipe: { ...experiment.recipe, epochs: 1, batchSize: 10 },
    loss: at.loss, metrics: at.metrics, trainingInfo: { ...at.info, recipeName: 'paper004' },
    onEvent: (e) => { if (e.type === 'metrics') events.push(Object.keys(e.metrics).join(',')); },
  });
  assert.equal(result.trainSamples, 20);
  assert.equal(result.testSplit, 'test');
  assert.match(events[0] as string, /accuracy,attack_ms,clean_accuracy,l_r,l_p/);
  const meta = JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')) as { architecture: string; training: Record<string, unknown> };
  assert.equal(meta.architecture, 'resnet9');
  assert.equal(meta.training['defense'], 'madry');
  assert.deepEqual(meta.training['aad'], { alpha: 0.01, beta: 0.01, layer: null, kappa: 'mean' });
  assert.equal((meta.training['recipe'] as { cropPadding: number }).cropPadding, 4);

  const { model } = await loadClassifier(out);
  const test = await loadDataset('cifar10', { ...dataOptions, split: 'test' });
  try {
    const table = await evaluateTable6(model, test, { eps: experiment.evaluation.eps, stepSize: experiment.evaluation.stepSize, iterations: [1, 2], progress: false });
    assert.equal(table.samples, 6);
    assert.deepEqual(Object.keys(table.columns), ['clean', 'fgsm', 'pgd1', 'pgd2', 'cw1', 'cw2']);
    for (const v of Object.values(table.columns)) assert.ok(v >= 0 && v <= 1);
    assert.ok(table.columns['pgd2']! <= table.columns['pgd1']! && table.columns['pgd1']! <= table.columns['clean']!, JSON.stringify(table.columns));
  } finally {
    model.dispose();
    test.dispose();
  }
});

it('runs the experiment paper004-table6-cifar10 (shortened) on CIFAR-format data and tabulates it beside the paper', async () => {
  writeCifar();
  const experiment = await loadExperiment('paper004-table6-cifar10');
  const settings = paper004Experiment('cifar10');
  assert.deepEqual(experiment.models.map((m) => m.id), ['raw', 'madry', 'madry-aad', 'alp', 'alp-aad']);
  for (const m of experiment.models) assert.deepEqual(m.recipe, settings.recipe, `${m.id}: the paper's schedule`);
  // One epoch of batch 10 and a one-step training attack instead of 200 epochs and PGD-7.
  const strict = { strictCounts: false };
  const shortened: Experiment = {
    ...experiment,
    models: experiment.models.map((m) => ({
      ...m, recipe: { ...m.recipe, epochs: 1, batchSize: 10 }, dataOptions: strict, ...(m.defense ? { defense: { ...m.defense, steps: 1 } } : {}),
    })),
    evaluations: experiment.evaluations.map((ev) => ({ ...ev, dataOptions: strict })),
  };
  process.env['BASTION_DATA'] = dir;
  process.env['BASTION_CACHE_DIR'] = join(dir, 'cache');
  setProgressOutput(null);
  try {
    const results = await runExperiment(shortened, { out: join(dir, 'reproduce'), progress: false, only: ['raw-table6', 'madry-aad-table6'] });
    assert.deepEqual(Object.keys(results.models).sort(), ['madry-aad', 'raw']);
    const madry = results.tables.find((t) => t.id === 'table6-madry');
    const clean = madry?.rows.find((r) => r.label === 'clean')?.values ?? {};
    assert.equal(clean['Madry + AAD: paper'], 0.8362, 'the paper\'s CIFAR-10 row');
    const ours = clean['Madry + AAD: ours'];
    assert.ok(typeof ours === 'number' && ours >= 0 && ours <= 1, `ours: ${ours}`);
    const raw = results.evaluations['raw-table6']!.result as { samples: number; columns: Record<string, number> };
    assert.equal(raw.samples, 6);
    assert.deepEqual(Object.keys(raw.columns), ['clean', 'fgsm', 'pgd10', 'pgd20', 'pgd40', 'pgd100', 'cw10', 'cw20', 'cw40', 'cw100']);
  } finally {
    delete process.env['BASTION_DATA'];
    delete process.env['BASTION_CACHE_DIR'];
  }
});
