/**
 * Imported models train: the parameter gradients of an imported ONNX graph equal those of the same
 * weights in the zoo's simple CNN, and `trainClassifier({ from })` fine-tunes an imported model
 * and saves a model folder that loads back with the fine-tuned weights.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grad, noGrad, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { F } from '../../src/nn/index.js';
import { packageRoot } from '../../src/tensor/native.js';
import { createClassifier, evaluateAccuracy, loadClassifier, modelConfig, trainClassifier } from '../../src/models/index.js';
import { DataLoader, firstN, loadDataset, locateDataset } from '../../src/data/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { TORCH_PYTHON, torchUnavailableReason } from '../fixtures/torch.js';

function mnistMissing(): string | null {
  try {
    locateDataset('mnist');
    return null;
  } catch (error) {
    return `MNIST not found: ${(error as Error).message}`;
  }
}

const skipReason = torchUnavailableReason() ?? mnistMissing();
const dir = mkdtempSync(join(tmpdir(), 'bastion-import-finetune-'));

before(() => {
  if (skipReason) return;
  setProgressOutput(null);
  const run = spawnSync(TORCH_PYTHON, [join(packageRoot, 'test', 'fixtures', 'train_mnist_cnn.py'), dir, locateDataset('mnist').path], { encoding: 'utf8', timeout: 300_000 });
  if (run.status !== 0) throw new Error(`train_mnist_cnn.py failed: ${run.stderr}`);
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('parameter gradients of an imported ONNX graph equal the zoo model\'s on the same weights', { skip: skipReason ?? false }, async () => {
  const { model: imported } = await loadClassifier(join(dir, 'm.onnx'));
  const zoo = createClassifier('simple-cnn', modelConfig('simple-cnn', { channels: 1, height: 28, width: 28, numClasses: 10 }));
  const weights = await readSafetensors(join(dir, 'weights.safetensors'));
  zoo.loadStateDict(weights.tensors);
  for (const t of weights.tensors.values()) t.dispose();
  const data = await loadDataset('mnist', { split: 'test' });
  try {
    let x: Tensor | null = null;
    let y: Tensor | null = null;
    for await (const batch of new DataLoader(firstN(data, 64), { batchSize: 64 }).batches(0)) {
      x = batch.x.keep();
      y = batch.y.keep();
    }
    const gradients = (model: typeof imported): Map<string, number[]> => scope(() => {
      const named = model.namedParameters();
      const loss = F.crossEntropy(model.forward(x!), y!);
      const gs = grad(loss, named.map(([, p]) => p));
      return new Map(named.map(([name, _], i) => [name.replace(/^network\.weights\./, ''), gs[i]!.toNumbers()]));
    });
    const ours = gradients(imported);
    const theirs = gradients(zoo);
    assert.deepEqual([...ours.keys()].sort(), [...theirs.keys()].sort(), 'the imported graph names its weights as PyTorch does');
    for (const [name, g] of ours) {
      const reference = theirs.get(name)!;
      let scale = 1e-12;
      let worst = 0;
      reference.forEach((r, i) => {
        scale = Math.max(scale, Math.abs(r));
        worst = Math.max(worst, Math.abs(g[i]! - r));
      });
      const error = worst / scale;
      assert.ok(error < 1e-5, `${name}: gradients differ by ${error} (relative)`);
    }
    x!.dispose();
    y!.dispose();
  } finally {
    data.dispose();
    imported.dispose();
    zoo.dispose();
  }
});

test('trainClassifier fine-tunes an imported model and saves a folder that loads back with the new weights', { skip: skipReason ?? false, timeout: 240_000 }, async () => {
  const out = join(dir, 'fine-tuned');
  const result = await trainClassifier({
    architecture: 'm.onnx', data: 'mnist', out, from: { path: join(dir, 'm.onnx') },
    recipe: { epochs: 1, valCount: 0, lr: 1e-3 }, limit: 2000, seed: 3, progress: false,
  });
  assert.equal(result.epochs, 1);
  const { model: before } = await loadClassifier(join(dir, 'm.onnx'));
  const { model: after, meta } = await loadClassifier(out);
  const test = await loadDataset('mnist', { split: 'test' });
  try {
    assert.equal(meta.architecture, 'imported');
    assert.equal(meta.training?.['fineTunedFrom'], join(dir, 'm.onnx'));
    const accuracy = await evaluateAccuracy(after, test);
    assert.ok(Math.abs(accuracy - (result.testAccuracy ?? -1)) < 1e-9, `the saved folder scores ${accuracy}, the run reported ${result.testAccuracy}`);
    const changed = noGrad(() => scope(() => {
      const probe = tensor(new Float32Array(28 * 28).fill(0.5), { shape: [1, 1, 28, 28] });
      return before.forward(probe).sub(after.forward(probe)).abs().max().item();
    }));
    assert.ok(changed > 1e-4, 'fine-tuning changed the logits');
  } finally {
    test.dispose();
    before.dispose();
    after.dispose();
  }
});
