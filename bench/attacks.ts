/**
 * bench/attacks: the attack suite against PyTorch on the same machine, in one run (bench/lib/harness.ts:
 * interleaved rounds, medians, both sides on the same threads, model weights and images).
 *
 * 1. PGD-40 (L-inf, eps 0.3, step 0.01, random start, batch 256, no early stop, best example kept,
 *    success masks) on paper 000's simple CNN: Bastion's PGD against the same algorithm in PyTorch
 *    (bench/py/attacks.py), default NCHW layout as a PyTorch user writes it, and channels-last.
 *    Target: >= 1.1x the default-layout PyTorch rate.
 *    The same PGD-40 under bfloat16 autocast on both sides (torch.autocast('cpu', bfloat16) in
 *    PyTorch, `autocast('bfloat16', ...)` in Bastion: what `attackPrecision: 'bfloat16'` runs inside
 *    adversarial training), against PyTorch's bfloat16 PGD. Target: >= 1.0x. Runs only on a CPU
 *    with AVX512-BF16 (or with --bf16): elsewhere both sides emulate bfloat16, ~20x slower than
 *    float32, and `attackPrecision: 'auto'` never picks it.
 * 2. The FGSM sweep over ten epsilons (one gradient) against ten separate FGSM runs (one gradient
 *    each); every run computes success masks. Reported: the Bastion sweep against ten separate Bastion
 *    runs (the algorithmic gain), against ten separate PyTorch runs, and against a PyTorch sweep, for
 *    the sweep with independent epsilons (1 gradient + 10 evaluation passes) and for the default
 *    sweep with carry-over (a clean pass, then only still-unbroken samples are evaluated). Target: >= 5x.
 *
 * Weights and images: the trained checkpoint at --model (default runs/models/simple-cnn-mnist) and
 * the first 256 MNIST test images when both exist (carry-over depends on real accuracy), else a
 * freshly initialised model and random images (said in the output).
 *
 * Run: npx tsc -p . && node dist/bench/attacks.js [--rounds N] [--model DIR] [--json FILE] [--bf16]
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { autocast, cpuHasNativeBFloat16, manualSeed, rand, randint, scope, setNumThreads, torchVersion, type Tensor } from '../src/tensor/index.js';
import { packageRoot } from '../src/tensor/native.js';
import { createClassifier, loadClassifier, modelConfig, type Classifier } from '../src/models/index.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { FGSM, PGD, type Attack } from '../src/attacks/index.js';
import { benchThreads, compare, firstMnistTestImages, formatResults, median, PythonWorker, type BastionCase, type Comparison } from './lib/harness.js';

const BATCH = 256;
const EPSILONS = [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.7, 1.0];

interface Setup {
  model: Classifier;
  x: Tensor;
  y: Tensor;
  source: string;
}

async function setupData(modelDir: string): Promise<Setup> {
  if (existsSync(join(modelDir, 'model.json'))) {
    try {
      const { model } = await loadClassifier(modelDir);
      const { x, y } = await firstMnistTestImages(BATCH);
      // The PyTorch side has no input normalisation layer: only a checkpoint without one is shared as is.
      if (model.normalization === null) return { model, x, y, source: `${modelDir} on the first ${BATCH} MNIST test images` };
      return { model: withoutNormalization(model), x, y, source: `${modelDir} (normalisation folded into conv1) on the first ${BATCH} MNIST test images` };
    } catch (error) {
      process.stderr.write(`bench/attacks: cannot use ${modelDir} with MNIST (${(error as Error).message}); using a fresh model and random images\n`);
    }
  }
  manualSeed(0);
  const model = createClassifier('simple-cnn', modelConfig('simple-cnn', { channels: 1, height: 28, width: 28, numClasses: 10 })).eval();
  return { model, x: rand([BATCH, 1, 28, 28]).keep(), y: randint(0, 10, [BATCH]).keep(), source: 'a freshly initialised simple CNN on random images (no trained checkpoint)' };
}

/**
 * The same function without the input normalisation: (x - m) / s through conv1 equals conv1 with
 * weights W / s and bias b - sum(W) m / s, so both sides run the identical plain torch.nn network.
 */
function withoutNormalization(model: Classifier): Classifier {
  const { mean, std } = model.normalization as { mean: readonly number[]; std: readonly number[] };
  const plain = createClassifier('simple-cnn', { channels: 1, height: 28, width: 28, numClasses: 10 });
  scope(() => {
    const state = model.stateDict();
    const w = state.get('conv1.weight') as Tensor;
    const b = state.get('conv1.bias') as Tensor;
    const folded = new Map(state);
    folded.set('conv1.weight', w.div(std[0] as number));
    folded.set('conv1.bias', b.sub(w.sum([1, 2, 3]).mul((mean[0] as number) / (std[0] as number))));
    plain.loadStateDict(folded);
  });
  model.dispose();
  return plain.eval();
}

function attackCase(setup: Setup, make: () => Attack[], epsilons: number[][], successes: number[][], precision: 'float32' | 'bfloat16' = 'float32'): BastionCase {
  const attacks = make();
  const batch = (): void => {
    const counts: number[] = [];
    attacks.forEach((attack, i) => {
      const result = attack.run(setup.model, setup.x, setup.y, { norm: 'linf', epsilons: epsilons[i] as number[] });
      scope(() => result.perEpsilon.forEach((e) => counts.push(e.success.sum().item())));
      result.dispose();
    });
    successes.push(counts);
  };
  return {
    setup() {},
    run(units) {
      for (let b = 0; b < Math.max(1, Math.floor(units / BATCH)); b++) {
        if (precision === 'bfloat16') autocast('bfloat16', batch);
        else batch();
      }
    },
  };
}

/** Interleaved rounds of two Bastion cases: rates and the median per-round ratio a/b. */
function compareBastion(a: BastionCase, b: BastionCase, units: number, rounds: number): { a: number; b: number; ratio: number } {
  const time = (c: BastionCase): number => {
    const start = performance.now();
    c.run(units);
    return units / ((performance.now() - start) / 1000);
  };
  a.run(BATCH);
  b.run(BATCH);
  const ra: number[] = [];
  const rb: number[] = [];
  for (let r = 0; r < rounds; r++) {
    ra.push(time(a));
    rb.push(time(b));
  }
  return { a: median(ra), b: median(rb), ratio: median(ra.map((v, i) => v / (rb[i] as number))) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, bf16: { type: 'boolean', default: false }, model: { type: 'string', default: join(packageRoot, 'runs', 'models', 'simple-cnn-mnist') }, json: { type: 'string' } } });
  const rounds = Number(values.rounds);
  const threads = benchThreads();
  setNumThreads(threads);
  const setup = await setupData(values.model as string);
  const dir = mkdtempSync(join(tmpdir(), 'bastion-bench-attacks-'));
  const file = join(dir, 'shared.safetensors');
  const shared = new Map<string, Tensor>([...setup.model.stateDict(), ['x', setup.x.contiguous()], ['y', setup.y]]);
  await writeSafetensors(file, shared);
  process.env['BASTION_BENCH_ATTACK_FILE'] = file;
  const python = await PythonWorker.start(join(packageRoot, 'bench', 'py', 'worker.py'), threads);

  const pgdSuccess: number[][] = [];
  const pgd: Comparison = {
    name: `PGD-40 (L-inf eps 0.3, step 0.01, batch ${BATCH}, no early stop)`, unit: 'img', units: BATCH, warmup: BATCH, target: 1.1,
    bastion: attackCase(setup, () => [new PGD({ steps: 40, stepSize: 0.01, earlyStop: false, carryOver: false, seed: 1 })], [[0.3]], pgdSuccess),
    python: [{ name: 'pgd40-default', label: 'PyTorch (default layout)' }, { name: 'pgd40-channels-last', label: 'PyTorch (channels-last)' }],
  };
  const runBf16 = cpuHasNativeBFloat16() || values.bf16 === true;
  const pgdBf16Success: number[][] = [];
  const pgdBf16: Comparison = {
    name: `PGD-40 as above, bfloat16 autocast on both sides`, unit: 'img', units: BATCH, warmup: BATCH, target: 1.0,
    bastion: attackCase(setup, () => [new PGD({ steps: 40, stepSize: 0.01, earlyStop: false, carryOver: false, seed: 1 })], [[0.3]], pgdBf16Success, 'bfloat16'),
    python: [{ name: 'pgd40-bf16-default', label: 'PyTorch bf16 (default layout)' }, { name: 'pgd40-bf16-channels-last', label: 'PyTorch bf16 (channels-last)' }],
  };
  const sweepSuccess: number[][] = [];
  const sweepIndependent = attackCase(setup, () => [new FGSM({ carryOver: false })], [EPSILONS], sweepSuccess);
  const sweepCarry = attackCase(setup, () => [new FGSM()], [EPSILONS], []);
  const separateSuccess: number[][] = [];
  const separate = attackCase(setup, () => EPSILONS.map(() => new FGSM({ carryOver: false })), EPSILONS.map((e) => [e]), separateSuccess);
  const fgsmPython = [
    { name: 'fgsm10-separate-default', label: 'PyTorch 10 separate (default)' },
    { name: 'fgsm10-separate-channels-last', label: 'PyTorch 10 separate (ch.-last)' },
    { name: 'fgsm10-sweep-default', label: 'PyTorch sweep (default)' },
  ];
  const units = 4 * BATCH;
  const results = [
    await compare(python?.worker ?? null, pgd, rounds),
    ...(runBf16 ? [await compare(python?.worker ?? null, pgdBf16, rounds)] : []),
    await compare(python?.worker ?? null, { name: 'FGSM 10-eps sweep, independent eps (1 gradient + 10 passes)', unit: 'img', units, warmup: BATCH, target: 5, bastion: sweepIndependent, python: fgsmPython }, rounds),
    await compare(python?.worker ?? null, { name: 'FGSM 10-eps sweep, carry-over (default)', unit: 'img', units, warmup: BATCH, target: 5, bastion: sweepCarry, python: fgsmPython }, rounds),
  ];
  const gainIndependent = compareBastion(sweepIndependent, separate, units, 2 * rounds + 1);
  const gainCarry = compareBastion(sweepCarry, separate, units, 2 * rounds + 1);
  let agreement = '';
  if (python) {
    const reply = await python.worker.request({ cmd: 'setup', case: 'fgsm10-sweep-default' }).then(() => python.worker.request({ cmd: 'run', case: 'fgsm10-sweep-default', units: BATCH }));
    await python.worker.request({ cmd: 'teardown', case: 'fgsm10-sweep-default' });
    const ours = sweepSuccess.at(-1) ?? [];
    agreement = `FGSM success counts per eps, Bastion vs PyTorch: ${ours.join(',')} vs ${(reply['success'] as number[]).join(',')}`;
  }
  python?.worker.close();
  rmSync(dir, { recursive: true, force: true });

  const header = `bench/attacks: Bastion (libtorch ${torchVersion()}) vs ${python ? `PyTorch ${python.torch}` : 'no PyTorch'}, ${threads} threads, ${rounds} interleaved rounds, medians\nmodel and data: ${setup.source}`;
  const lines = [
    header, formatResults(results),
    'FGSM algorithmic gain, Bastion sweep vs 10 separate Bastion FGSM runs (interleaved rounds):',
    `  independent eps ${Math.round(gainIndependent.a)} vs ${Math.round(gainIndependent.b)} img/s: ${gainIndependent.ratio.toFixed(2)}x`,
    `  carry-over      ${Math.round(gainCarry.a)} vs ${Math.round(gainCarry.b)} img/s: ${gainCarry.ratio.toFixed(2)}x  (target >= 5x: ${gainCarry.ratio >= 5 ? 'met' : 'NOT met'})`,
    ...(agreement ? [agreement] : []),
    `PGD success count (last batch): Bastion ${pgdSuccess.at(-1)?.[0] ?? '-'} of ${BATCH} in float32, ${pgdBf16Success.at(-1)?.[0] ?? '-'} in bfloat16`,
    ...(runBf16 ? [] : ['PGD-40 in bfloat16: skipped, this CPU has no AVX512-BF16 (both sides would emulate it, ~20x slower than float32; --bf16 runs it anyway)']),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) {
    writeFileSync(values.json, `${JSON.stringify({ bench: 'attacks', threads, rounds, torch: python?.torch ?? null, source: setup.source, results, fgsmGain: { independent: gainIndependent, carryOver: gainCarry } }, null, 2)}\n`);
  }
  setup.model.dispose();
  setup.x.dispose();
  setup.y.dispose();
}

await main();
