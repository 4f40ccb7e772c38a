/**
 * bench/latency: inference latency of paper 002's defended model against PyTorch on the same
 * machine, in one run (bench/lib/harness.ts: interleaved rounds, medians, both sides on the same
 * threads, weights and inputs).
 *
 * The model is the one experiments/paper002-tables1-3.json builds for MNIST (1x28x28): the CAE
 * purifier ('cae-mnist': src/models/cae.ts defaults, b = 16, inner skip, no latent noise in eval)
 * followed by VGG-16-BN at width x0.25 ('vgg-mnist': vgg16-bn, widthFactor 0.25, inputs padded to
 * 32, compact head, input normalisation), in evaluation mode without autograd, timed as
 * src/eval/latency.ts times it (forward pass, argmax, predicted classes copied out). Cases:
 * 1. CAE + VGG per image at batch 1 (the interactive case of paper 002's Table 3);
 * 2. CAE + VGG amortised per image at batch 256 (the throughput case);
 * 3. VGG alone per image at batch 1.
 * The PyTorch side (bench/py/latency.py) is the same network written with torch.nn in the default
 * NCHW layout, as a PyTorch user writes it; PyTorch's own channels-last recipe is reported as a
 * secondary line. Before timing, both sides must give the same logits on the same images (max abs
 * difference printed; the run fails above 1e-3). Target: >= 1.0x the default-layout PyTorch rate.
 *
 * Weights: the trained checkpoints of the paper-002 experiment (the cache folders of its models
 * 'vgg-mnist' and 'cae-mnist', as `bastion reproduce` keys them, or --classifier / --purifier DIR);
 * without them, freshly initialised models of the same architecture (said in the output; latency
 * does not depend on the weights).
 *
 * Run: npx tsc -p . && node dist/bench/latency.js [--rounds N] [--classifier DIR] [--purifier DIR] [--json FILE]
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { manualSeed, noGrad, rand, scope, setNumThreads, torchVersion, type Tensor } from '../src/tensor/index.js';
import { packageRoot } from '../src/tensor/native.js';
import {
  CAE, configOf, createClassifier, createPurifier, loadClassifier, loadPurifier, modelConfig, VGG16, type Classifier, type Purifier,
} from '../src/models/index.js';
import { DefendedClassifier } from '../src/defenses/defended.js';
import { loadExperiment, modelCacheDir, modelKeys } from '../src/eval/experiment.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { benchThreads, compare, firstMnistTestImages, PythonWorker, type BastionCase, type Comparison, type ComparisonResult } from './lib/harness.js';

const BATCH = 256;
const MNIST = { channels: 1, height: 28, width: 28, numClasses: 10 };
/** The architecture options of experiments/paper002-tables1-3.json's 'vgg-mnist' and 'cae-mnist'. */
const VGG_OPTIONS = { widthFactor: 0.25 };
/** MNIST training-set pixel statistics, as the experiment's trained 'vgg-mnist' records them (used by fresh models). */
const MNIST_NORMALIZATION = { mean: [0.130587], std: [0.308033] };
/** Largest |Bastion - PyTorch| logit difference accepted before timing. */
const TOLERANCE = 1e-3;

interface Models {
  classifier: Classifier;
  purifier: Purifier;
  /** Where the weights come from, for the output. */
  source: string;
}

/**
 * The cache folder of model `id` of experiments/paper002-tables1-3.json (the same key
 * `bastion reproduce` trains it under), or null when it has not been trained yet.
 */
async function experimentCheckpoint(id: string): Promise<string | null> {
  const experiment = await loadExperiment('paper002-tables1-3');
  const dir = join(modelCacheDir(), `${id}-${modelKeys(experiment).get(id) as string}`);
  return existsSync(join(dir, 'model.json')) ? dir : null;
}

/** Throws unless `classifier` and `purifier` have the architecture options of the paper-002 experiment. */
function checkSpec(classifier: Classifier, purifier: Purifier): void {
  const v = configOf(classifier);
  const c = configOf(purifier);
  const problems = [
    ...(classifier instanceof VGG16 ? [] : ['the classifier is not a VGG-16']),
    ...(v['batchNorm'] === true && v['widthFactor'] === VGG_OPTIONS.widthFactor ? [] : [`vgg16-bn x0.25 expected, got batchNorm ${String(v['batchNorm'])} widthFactor ${String(v['widthFactor'])}`]),
    ...(purifier instanceof CAE ? [] : ['the purifier is not a CAE']),
    ...(c['base'] === 16 && c['skips'] === 'inner' && c['stochastic'] !== true ? [] : [`CAE defaults expected (base 16, inner skips, not stochastic), got base ${String(c['base'])} skips ${String(c['skips'])}`]),
    ...([classifier, purifier].every((m) => m.channels === 1 && m.height === 28 && m.width === 28) ? [] : ['MNIST 1x28x28 models expected']),
  ];
  if (problems.length > 0) throw new Error(`bench/latency: not paper 002's defended MNIST model: ${problems.join('; ')}`);
}

async function setupModels(classifierDir: string | undefined, purifierDir: string | undefined): Promise<Models> {
  const vggDir = classifierDir ?? (await experimentCheckpoint('vgg-mnist'));
  const caeDir = purifierDir ?? (await experimentCheckpoint('cae-mnist'));
  if (vggDir && caeDir) {
    try {
      const { model: classifier } = await loadClassifier(vggDir);
      const { model: purifier } = await loadPurifier(caeDir);
      checkSpec(classifier, purifier);
      return { classifier, purifier, source: `trained checkpoints ${relative(packageRoot, vggDir)} + ${relative(packageRoot, caeDir)}` };
    } catch (error) {
      // Checkpoints named on the command line must load; found ones may be skipped.
      if (classifierDir !== undefined || purifierDir !== undefined) throw error;
      process.stderr.write(`bench/latency: cannot use ${vggDir} + ${caeDir} (${(error as Error).message}); using fresh models\n`);
    }
  } else if (classifierDir !== undefined || purifierDir !== undefined) {
    throw new Error('bench/latency: give both --classifier and --purifier, or neither');
  }
  manualSeed(0);
  const classifier = createClassifier('vgg16-bn', modelConfig('vgg16-bn', MNIST, { ...VGG_OPTIONS, normalization: MNIST_NORMALIZATION }));
  const purifier = createPurifier('cae', modelConfig('cae', MNIST));
  checkSpec(classifier, purifier);
  return { classifier, purifier, source: 'freshly initialised models (no trained checkpoint found; latency does not depend on the weights)' };
}

/** The first 256 MNIST test images when the data set is available, else uniform noise. */
async function images(): Promise<{ x: Tensor; source: string }> {
  try {
    const { x, y } = await firstMnistTestImages(BATCH);
    y.dispose();
    return { x, source: `the first ${BATCH} MNIST test images` };
  } catch {
    manualSeed(1);
    return { x: rand([BATCH, 1, 28, 28]).keep(), source: `${BATCH} uniform random images (MNIST not found)` };
  }
}

/** Classifies `x` `units / batch` times as src/eval/latency.ts does: forward, argmax, classes copied out. */
function latencyCase(model: { forward(x: Tensor): Tensor }, x: Tensor): BastionCase {
  const batch = x.shape[0] as number;
  return {
    setup() {},
    run(units) {
      for (let i = 0; i < Math.max(1, Math.floor(units / batch)); i++) noGrad(() => scope(() => model.forward(x).argmax(1).toArray()));
    },
  };
}

/** Max |a - b| of two logit arrays of the same length. */
function maxAbsDiff(a: Float32Array, b: readonly number[]): number {
  if (a.length !== b.length) throw new Error(`bench/latency: logit counts differ: Bastion ${a.length}, PyTorch ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs((a[i] as number) - (b[i] as number)));
  return Number.isNaN(max) ? Infinity : max;
}

/** Predicted classes of flat [N, classes] logits. */
function argmaxRows(logits: ArrayLike<number>, classes: number): number[] {
  return Array.from({ length: logits.length / classes }, (_, n) => {
    let best = 0;
    for (let k = 1; k < classes; k++) if ((logits[n * classes + k] as number) > (logits[n * classes + best] as number)) best = k;
    return best;
  });
}

/** Compares both sides' logits on the shared batch (defended model and classifier alone, both PyTorch layouts); throws above the tolerance. */
async function checkLogits(worker: PythonWorker, defended: DefendedClassifier, classifier: Classifier, x: Tensor, inputs: string): Promise<string> {
  const ours = noGrad(() => scope(() => ({ defended: defended.forward(x).toFloat32Array(), vgg: classifier.forward(x).toFloat32Array() })));
  await worker.request({ cmd: 'setup', case: 'latency-check' });
  const reply = await worker.request({ cmd: 'run', case: 'latency-check', units: BATCH });
  await worker.request({ cmd: 'teardown', case: 'latency-check' });
  const theirs = reply['logits'] as Record<'default' | 'channels-last', { defended: number[]; vgg: number[] }>;
  const parts: string[] = [];
  let worst = 0;
  for (const layout of ['default', 'channels-last'] as const) {
    const d = maxAbsDiff(ours.defended, theirs[layout].defended);
    const v = maxAbsDiff(ours.vgg, theirs[layout].vgg);
    worst = Math.max(worst, d, v);
    parts.push(`CAE+VGG ${d.toExponential(1)}, VGG ${v.toExponential(1)} (PyTorch ${layout})`);
  }
  const a = argmaxRows(ours.defended, classifier.numClasses);
  const b = argmaxRows(theirs.default.defended, classifier.numClasses);
  const same = a.filter((c, i) => c === b[i]).length;
  const line = `same logits on ${inputs}, max |Bastion - PyTorch|: ${parts.join('; ')}; same CAE+VGG class ${same}/${a.length}`;
  if (!(worst <= TOLERANCE)) throw new Error(`bench/latency: Bastion and PyTorch disagree (tolerance ${TOLERANCE}): ${line}`);
  return line;
}

function formatMs(rate: number): string {
  return `${(1000 / rate).toFixed(2)} ms ${Math.round(rate).toLocaleString('en-US').padStart(6)}/s`;
}

/** The results as a table: ms per image and images per second, ratio and target against default-layout PyTorch, channels-last below. */
function formatTable(results: readonly ComparisonResult[]): string {
  const width = Math.max(...results.map((r) => r.name.length)) + 2;
  const lines = [`${''.padEnd(width)}${'Bastion'.padStart(18)}  ${'PyTorch (NCHW)'.padStart(18)}${'ratio'.padStart(8)}   target`];
  for (const r of results) {
    const [reference, ...others] = r.python;
    lines.push(`${r.name.padEnd(width)}${formatMs(r.bastionRate).padStart(18)}  ${reference ? formatMs(reference.rate).padStart(18) : 'unavailable'.padStart(18)}` +
      `${reference ? `${reference.ratio.toFixed(2)}x`.padStart(8) : '-'.padStart(8)}   >= ${r.target.toFixed(1)}x ${r.meetsTarget ? 'met' : 'NOT met'}`);
    for (const p of others) lines.push(`  (${p.label}: ${formatMs(p.rate).replace(/ +/g, ' ')}, ratio ${p.ratio.toFixed(2)}x)`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, classifier: { type: 'string' }, purifier: { type: 'string' }, json: { type: 'string' } } });
  const rounds = Number(values.rounds);
  const threads = benchThreads();
  setNumThreads(threads);
  const { classifier, purifier, source } = await setupModels(values.classifier, values.purifier);
  const defended = new DefendedClassifier(purifier, classifier).eval();
  const { x, source: inputs } = await images();
  const x1 = x.narrow(0, 0, 1).contiguous().keep();

  const dir = mkdtempSync(join(tmpdir(), 'bastion-bench-latency-'));
  await writeSafetensors(join(dir, 'weights.safetensors'), new Map<string, Tensor>([...defended.stateDict(), ['x', x.contiguous()]]));
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify({ classifier: configOf(classifier), purifier: configOf(purifier) })}\n`);
  process.env['BASTION_BENCH_LATENCY_DIR'] = dir;
  const python = await PythonWorker.start(join(packageRoot, 'bench', 'py', 'latency.py'), threads);
  if (!python) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error('bench/latency: the PyTorch side is needed (logit check and ratios)');
  }
  let check: string;
  try {
    check = await checkLogits(python.worker, defended, classifier, x, inputs);
  } catch (error) {
    python.worker.close();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }

  const layouts = (name: string): { name: string; label: string }[] => [
    { name: `latency-${name}-default`, label: 'PyTorch (default layout)' },
    { name: `latency-${name}-channels-last`, label: 'PyTorch channels-last' },
  ];
  const comparisons: Comparison[] = [
    { name: 'CAE + VGG-16-BN x0.25, batch 1, per image', unit: 'img', units: 200, warmup: 20, target: 1.0, bastion: latencyCase(defended, x1), python: layouts('defended-b1') },
    { name: `CAE + VGG-16-BN x0.25, batch ${BATCH}, per image`, unit: 'img', units: 3 * BATCH, warmup: BATCH, target: 1.0, bastion: latencyCase(defended, x), python: layouts(`defended-b${BATCH}`) },
    { name: 'VGG-16-BN x0.25 alone, batch 1, per image', unit: 'img', units: 300, warmup: 20, target: 1.0, bastion: latencyCase(classifier, x1), python: layouts('vgg-b1') },
  ];
  const results: ComparisonResult[] = [];
  for (const c of comparisons) results.push(await compare(python.worker, c, rounds));
  python.worker.close();
  rmSync(dir, { recursive: true, force: true });

  const lines = [
    `bench/latency: Bastion (libtorch ${torchVersion()}) vs PyTorch ${python.torch}, ${threads} threads, ` +
      `OMP_WAIT_POLICY=${process.env['OMP_WAIT_POLICY'] ?? 'default'} on both sides, ${rounds} interleaved rounds, medians`,
    "model: paper 002's defended MNIST model, CAE (b 16, inner skip) + VGG-16-BN x0.25 (28x28 padded to 32), eval mode, no grad",
    `weights: ${source}`,
    check,
    formatTable(results),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ bench: 'latency', threads, rounds, torch: python.torch, source, check, results }, null, 2)}\n`);
  defended.dispose();
  x.dispose();
  x1.dispose();
}

await main();
