/**
 * Model import end to end (the must-show of the import work): a simple CNN trained in PyTorch on
 * MNIST by test/fixtures/train_mnist_cnn.py (seconds, one thread), exported to ONNX (m.onnx) and
 * TorchScript (m.pt) and saved as a state dict (weights.safetensors). The same weights loaded into
 * Bastion's zoo `simple-cnn` are the reference. Then, with the built CLI:
 *
 * - `bastion attack --model m.onnx --data mnist --attack pgd` and the same with `--model m.pt`
 *   (plus `--channels 1 --input-size 28x28`: a TorchScript file declares no input shape) give the
 *   zoo model's clean and per-epsilon accuracies, and image for image the same clean prediction,
 *   adversarial prediction and success (examples.safetensors holds every image); the adversarial
 *   examples themselves are compared and their largest difference reported;
 * - `bastion eval --classifier m.onnx --purifier CAE` gives the zoo model's numbers in gray-box and
 *   white-box modes. eval.json only has totals, so the per-image comparison of the defended
 *   system runs through the library (evaluateRobustness with the same attack and seed, recording
 *   per-image predictions of the classifier and of purifier + classifier in its onBatch callback).
 *
 * The CAE purifier is trained here through the library for a couple of seconds (the CLI's
 * train-purifier spends most of its time scoring the full test set, which this test does not need).
 * Skipped only when Debian's torch or the MNIST files are missing.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it, type TestContext } from 'node:test';
import { manualSeed, scope, setNumThreads, type Tensor } from '../../src/tensor/index.js';
import { packageRoot } from '../../src/tensor/native.js';
import { DataLoader, firstN, loadDataset, locateDataset, type Dataset } from '../../src/data/index.js';
import { createAttack } from '../../src/attacks/registry.js';
import { evaluateRobustness } from '../../src/eval/robustness.js';
import { DefendedClassifier } from '../../src/defenses/defended.js';
import { createClassifier, createPurifier, loadClassifier, loadPurifier, modelConfig, saveModel } from '../../src/models/index.js';
import { mseLoss } from '../../src/nn/functional.js';
import { Adam } from '../../src/optim/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { TORCH_PYTHON, torchUnavailableReason } from '../fixtures/torch.js';

// Every process here (this one and the CLI children) computes on one thread: results do not depend
// on the thread count then, and two processes share the two cores of CI.
setNumThreads(1);
setProgressOutput(null);

/** Test images attacked (the first N of MNIST's test split). */
const LIMIT = 300;
const SEED = 7;
const PGD_EPS = [0.05, 0.1];
const FGSM_EPS = [0.1, 0.2];
const DIGITS = Array.from({ length: 10 }, (_, i) => String(i));
const bin = join(packageRoot, 'bin', 'bastion.js');

function mnistMissingReason(): string | null {
  try {
    locateDataset('mnist');
    return null;
  } catch (error) {
    return `MNIST not found: ${(error as Error).message}`;
  }
}

const skipReason = torchUnavailableReason() ?? mnistMissingReason();
const work = mkdtempSync(join(tmpdir(), 'bastion-import-e2e-'));
const files = {
  onnx: join(work, 'torch', 'm.onnx'),
  pt: join(work, 'torch', 'm.pt'),
  weights: join(work, 'torch', 'weights.safetensors'),
  zoo: join(work, 'zoo-simple-cnn'),
  cae: join(work, 'cae'),
};
let trained: { testAccuracy: number; trainImages: number; seconds: number };
const timings: Record<string, number> = {};
const runs = new Map<string, Promise<Run>>();
after(async () => {
  await Promise.all(runs.values()); // a failed test may leave a CLI run going: let it end first
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

function runProcess(command: string, args: string[]): Promise<Run> {
  const start = performance.now();
  return new Promise((resolve) => {
    execFile(command, args, { env: { ...process.env, BASTION_THREADS: '1' }, maxBuffer: 64 << 20, timeout: 300_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? (error as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr, seconds: (performance.now() - start) / 1000 });
    });
  });
}

/**
 * The CLI runs, at most two at a time (two cores): all are queued once the models exist, so the
 * children keep working while the tests read earlier results and the library comparison runs here.
 */
const queue: (() => void)[] = [];
let running = 0;
function bastion(key: string, args: string[]): Promise<Run> {
  let run = runs.get(key);
  if (run === undefined) {
    run = new Promise<Run>((resolve) => {
      const start = (): void => {
        running++;
        void runProcess(process.execPath, [bin, ...args]).then((r) => {
          running--;
          timings[key] = r.seconds;
          queue.shift()?.();
          resolve(r);
        });
      };
      if (running < 2) start();
      else queue.push(start);
    });
    runs.set(key, run);
  }
  return run;
}

function attackArgs(model: string, out: string, importFlags: string[] = []): string[] {
  return ['attack', '--model', model, ...importFlags, '--data', 'mnist', '--attack', 'pgd', '--eps', PGD_EPS.join(','), '--steps', '10',
    '--limit', String(LIMIT), '--batch-size', '100', '--seed', String(SEED), '--save-examples', String(LIMIT), '--grid', '0',
    '--out', out, '--json', '-q'];
}

function evalArgs(classifier: string, out: string): string[] {
  return ['eval', '--classifier', classifier, '--purifier', files.cae, '--data', 'mnist', '--attack', 'fgsm', '--eps', FGSM_EPS.join(','),
    '--modes', 'gray-box,white-box', '--limit', String(LIMIT), '--batch-size', '100', '--seed', String(SEED), '--out', out, '--json', '-q'];
}

function startAttacks(): void {
  void bastion('attack-zoo', attackArgs(files.zoo, join(work, 'attack-zoo')));
  void bastion('attack-onnx', attackArgs(files.onnx, join(work, 'attack-onnx')));
  void bastion('eval-zoo', evalArgs(files.zoo, join(work, 'eval-zoo')));
  void bastion('eval-onnx', evalArgs(files.onnx, join(work, 'eval-onnx')));
  // A TorchScript file declares no input shape (an ONNX graph does): the CLI is told it.
  void bastion('attack-pt', attackArgs(files.pt, join(work, 'attack-pt'), ['--channels', '1', '--input-size', '28x28']));
}

async function ok(key: string): Promise<Run> {
  const r = await runs.get(key);
  assert.ok(r, `${key} was started`);
  assert.equal(r.code, 0, `bastion ${key} failed:\n${r.stderr}\n${r.stdout.slice(-2000)}`);
  return r;
}

/** A zoo simple-cnn folder holding PyTorch's weights. */
async function buildZooModel(): Promise<void> {
  const { tensors } = await readSafetensors(files.weights);
  const model = createClassifier('simple-cnn', modelConfig('simple-cnn', { channels: 1, height: 28, width: 28, numClasses: 10 }));
  try {
    model.loadStateDict(tensors);
    model.eval();
    await saveModel(files.zoo, model, { classNames: DIGITS, command: 'test/models/import-e2e.test.ts' });
  } finally {
    model.dispose();
    for (const t of tensors.values()) t.dispose();
  }
}

/** A CAE trained for one short pass (1536 images, batch 64, Adam 1e-2): reconstruction MSE about 0.01. */
async function trainCae(): Promise<void> {
  const train = await loadDataset('mnist', { split: 'train' });
  manualSeed(SEED);
  const cae = createPurifier('cae', modelConfig('cae', { channels: 1, height: 28, width: 28 }));
  const optimizer = new Adam(cae.parameters(), { lr: 1e-2 });
  try {
    for await (const batch of new DataLoader(firstN(train, 1536), { batchSize: 64, shuffle: true, seed: SEED }).batches(0)) {
      scope(() => {
        optimizer.zeroGrad();
        mseLoss(cae.forward(batch.x), batch.x).backward();
        optimizer.step();
      });
    }
    cae.eval();
    await saveModel(files.cae, cae, { seed: SEED, command: 'test/models/import-e2e.test.ts' });
  } finally {
    optimizer.dispose();
    cae.dispose();
    train.dispose();
  }
}

before(async () => {
  if (skipReason !== null) return;
  const start = performance.now();
  const script = join(packageRoot, 'test', 'fixtures', 'train_mnist_cnn.py');
  // PyTorch trains in its process while the CAE trains in this one.
  const python = runProcess(TORCH_PYTHON, [script, join(work, 'torch'), locateDataset('mnist').path]);
  await trainCae();
  timings['cae'] = (performance.now() - start) / 1000;
  const py = await python;
  timings['pytorch'] = py.seconds;
  if (py.code !== 0) throw new Error(`${script} failed (${py.code}):\n${py.stderr}`);
  trained = JSON.parse(py.stdout.trim().split('\n').at(-1) as string) as typeof trained;
  await buildZooModel();
  startAttacks();
});

after(() => {
  if (skipReason === null) console.log(`import-e2e seconds: ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Number(v.toFixed(1))])))}`);
});

/** Indices where two per-image arrays differ. */
function differing(a: readonly number[], b: readonly number[]): number[] {
  assert.equal(a.length, b.length);
  return a.flatMap((v, i) => (v === b[i] ? [] : [i]));
}

function assertSameImages(what: string, imported: readonly number[], zoo: readonly number[]): void {
  const diff = differing(imported, zoo);
  assert.deepEqual(diff, [], `${what}: ${diff.length} of ${zoo.length} images differ (first: ${diff.slice(0, 10).join(', ')})`);
}

function maxAbsDiff(a: Tensor, b: Tensor): number {
  return scope(() => a.sub(b).abs().max().item());
}

interface AttackSummary {
  samples: number;
  cleanAccuracy: number;
  perEpsilon: { epsilon: number; accuracy: number; successRate: number; norms: { count: number } }[];
  model: { architecture: string };
}

/** summary.json, and examples.safetensors with every attacked image. */
async function attackOutput(key: string): Promise<{ summary: AttackSummary; examples: Map<string, Tensor> }> {
  const r = await ok(key);
  const dir = join(work, key);
  const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as AttackSummary;
  assert.deepEqual((JSON.parse(r.stdout.trim().split('\n').at(-1) as string) as AttackSummary).perEpsilon, summary.perEpsilon);
  const { tensors } = await readSafetensors(join(dir, 'examples.safetensors'));
  return { summary, examples: tensors };
}

/**
 * Compares an imported model's attack run with the zoo model's: totals and every image (labels,
 * clean prediction, prediction and success per epsilon), asserted equal with no tolerance. The
 * adversarial examples are compared too and their largest difference reported, not asserted:
 * measured 0 at both epsilons for m.onnx and m.pt (bit-identical). Both graphs run the same
 * libtorch kernels on the same channels-last input (Classifier.prepare converts it for imported
 * models too), in the same order (conv, max-pool, relu: train_mnist_cnn.py keeps Bastion's order),
 * so even PGD's ten sign steps do not separate them.
 */
async function compareAttack(t: TestContext, key: string): Promise<void> {
  const zoo = await attackOutput('attack-zoo');
  const imported = await attackOutput(key);
  try {
    assert.equal(zoo.summary.model.architecture, 'simple-cnn');
    assert.equal(imported.summary.samples, LIMIT);
    assert.equal(zoo.summary.samples, LIMIT);
    t.diagnostic(`${key}: clean ${imported.summary.cleanAccuracy}, pgd ${imported.summary.perEpsilon.map((e) => `eps ${e.epsilon}: ${e.accuracy}`).join(', ')}; ` +
      `zoo: clean ${zoo.summary.cleanAccuracy}, ${zoo.summary.perEpsilon.map((e) => `eps ${e.epsilon}: ${e.accuracy}`).join(', ')}`);
    const numbers = (s: AttackSummary): unknown => ({
      clean: s.cleanAccuracy,
      perEpsilon: s.perEpsilon.map((e) => ({ epsilon: e.epsilon, accuracy: e.accuracy, successRate: e.successRate, broken: e.norms.count })),
    });
    assert.deepEqual(numbers(imported.summary), numbers(zoo.summary));
    // The trained model is a real classifier, and PGD hurts it.
    assert.ok(zoo.summary.cleanAccuracy > 0.85, `clean accuracy ${zoo.summary.cleanAccuracy}`);
    assert.ok((zoo.summary.perEpsilon.at(-1)?.accuracy ?? 1) < zoo.summary.cleanAccuracy - 0.2, 'PGD at eps 0.1 breaks many images');

    const numbersOf = (m: Map<string, Tensor>, name: string): number[] => {
      const tensor = m.get(name);
      assert.ok(tensor, `examples.safetensors holds '${name}'`);
      return tensor.toNumbers();
    };
    assert.equal(zoo.examples.get('original')?.shape[0], LIMIT, 'every attacked image was saved');
    assert.equal(maxAbsDiff(zoo.examples.get('original')!, imported.examples.get('original')!), 0);
    assertSameImages(`${key} labels`, numbersOf(imported.examples, 'label'), numbersOf(zoo.examples, 'label'));
    assertSameImages(`${key} clean predictions`, numbersOf(imported.examples, 'clean_prediction'), numbersOf(zoo.examples, 'clean_prediction'));
    const gaps: string[] = [];
    for (const eps of PGD_EPS) {
      assertSameImages(`${key} predictions at eps ${eps}`, numbersOf(imported.examples, `prediction@${eps}`), numbersOf(zoo.examples, `prediction@${eps}`));
      assertSameImages(`${key} success at eps ${eps}`, numbersOf(imported.examples, `success@${eps}`), numbersOf(zoo.examples, `success@${eps}`));
      gaps.push(`eps ${eps}: ${maxAbsDiff(imported.examples.get(`adversarial@${eps}`)!, zoo.examples.get(`adversarial@${eps}`)!)}`);
    }
    t.diagnostic(`${key}: largest pixel difference between its adversarial examples and the zoo model's: ${gaps.join(', ')}`);
  } finally {
    for (const m of [zoo.examples, imported.examples]) for (const tensor of m.values()) tensor.dispose();
  }
}

describe('import end to end: a PyTorch MNIST CNN as ONNX and TorchScript equals the zoo model', { skip: skipReason ?? false }, () => {
  it('the PyTorch script trains a working CNN in seconds and exports it', () => {
    for (const file of [files.onnx, files.pt, files.weights]) assert.ok(existsSync(file), `${file} was written`);
    assert.ok(trained.testAccuracy > 0.85, `PyTorch test accuracy ${trained.testAccuracy}`);
  });

  it('attack --model m.onnx (pgd): the zoo model\'s accuracies, image for image', async (t) => {
    await compareAttack(t, 'attack-onnx');
  });

  it('eval --classifier m.onnx --purifier CAE (fgsm, gray-box and white-box): the zoo model\'s accuracies', async (t) => {
    const read = async (key: string): Promise<{ clean: unknown; grayBox: unknown; adaptive: unknown; samples: number }> => {
      await ok(key);
      return (JSON.parse(readFileSync(join(work, key, 'eval.json'), 'utf8')) as { result: { clean: unknown; grayBox: unknown; adaptive: unknown; samples: number } }).result;
    };
    const zoo = await read('eval-zoo');
    const imported = await read('eval-onnx');
    t.diagnostic(`eval m.onnx: ${JSON.stringify({ clean: imported.clean, grayBox: imported.grayBox, adaptive: imported.adaptive })}`);
    t.diagnostic(`eval zoo:    ${JSON.stringify({ clean: zoo.clean, grayBox: zoo.grayBox, adaptive: zoo.adaptive })}`);
    assert.equal(imported.samples, LIMIT);
    assert.deepEqual({ clean: imported.clean, grayBox: imported.grayBox, adaptive: imported.adaptive }, { clean: zoo.clean, grayBox: zoo.grayBox, adaptive: zoo.adaptive });
    const cae = (zoo.clean as { defenses: Record<string, number> }).defenses['cae'];
    assert.ok(cae !== undefined && cae > 0.7, `the CAE keeps the classifier working (clean accuracy behind it ${cae})`);
  });

  it('the CAE-defended m.onnx and zoo model agree image for image under FGSM (gray-box and white-box, through the library)', async (t) => {
    const start = performance.now();
    const all = await loadDataset('mnist', { split: 'test' });
    const test = firstN(all, LIMIT);
    const perImage = async (classifierPath: string): Promise<Record<string, number[]>> => {
      const { model: classifier } = await loadClassifier(classifierPath);
      const { model: purifier } = await loadPurifier(files.cae);
      const defended = new DefendedClassifier(purifier, classifier);
      defended.eval();
      const out: Record<string, number[]> = {};
      const push = (name: string, values: number[]): void => {
        (out[name] ??= []).push(...values);
      };
      try {
        const threat = { norm: 'linf' as const, epsilons: FGSM_EPS, bounds: [0, 1] as [number, number] };
        // Gray-box: FGSM on the classifier alone, as `bastion eval` crafts it, then purified.
        await evaluateRobustness(classifier, test, {
          attack: createAttack('fgsm', { earlyStop: false, carryOver: false, seed: SEED }), threat, batchSize: 100, seed: SEED, progress: false,
          onBatch: (b) => {
            push('clean', b.cleanPredictions.toNumbers());
            b.result.perEpsilon.forEach((e, i) => {
              push(`gray-box classifier@${FGSM_EPS[i]}`, e.predictions.toNumbers());
              push(`gray-box defended@${FGSM_EPS[i]}`, scope(() => defended.forward(e.adversarial).argmax(1).toNumbers()));
            });
          },
        });
        // White-box: FGSM through purifier and classifier.
        await evaluateRobustness(defended, test, {
          attack: createAttack('fgsm', { seed: SEED }), threat, batchSize: 100, seed: SEED, progress: false,
          onBatch: (b) => {
            push('clean defended', b.cleanPredictions.toNumbers());
            b.result.perEpsilon.forEach((e, i) => push(`white-box defended@${FGSM_EPS[i]}`, e.predictions.toNumbers()));
          },
        });
        return out;
      } finally {
        defended.dispose();
      }
    };
    try {
      const zoo = await perImage(files.zoo);
      const imported = await perImage(files.onnx);
      const labels = await loadLabels(test);
      const accuracy = (p: number[]): number => p.filter((v, i) => v === labels[i]).length / p.length;
      t.diagnostic(`per-image (library), accuracy over ${LIMIT} images: ${Object.entries(zoo).map(([k, v]) => `${k} ${accuracy(v).toFixed(4)}`).join(', ')}`);
      assert.deepEqual(Object.keys(imported), Object.keys(zoo));
      for (const [name, predictions] of Object.entries(zoo)) {
        assert.equal(predictions.length, LIMIT, name);
        assertSameImages(`${name} predictions`, imported[name]!, predictions);
      }
    } finally {
      all.dispose();
      timings['library'] = (performance.now() - start) / 1000;
    }
  });

  it('attack --model m.pt (pgd): the zoo model\'s accuracies, image for image', async (t) => {
    await compareAttack(t, 'attack-pt');
  });
});

async function loadLabels(data: Dataset): Promise<number[]> {
  const labels: number[] = [];
  for await (const batch of new DataLoader(data, { batchSize: 500 }).batches(0)) labels.push(...batch.y.toNumbers());
  return labels;
}
