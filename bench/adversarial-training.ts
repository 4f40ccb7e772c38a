/**
 * bench/adversarial-training: one adversarial-training step of paper 004's MNIST LeNet against
 * PyTorch on the same machine, in one run (bench/lib/harness.ts: interleaved rounds, medians,
 * both sides on the same threads, weights and images). Batch 100, Adam, dropout on for the loss.
 *
 * 1. Madry: PGD-40 (L-inf eps 0.3, step 0.01, random start, no early stop, best iterate kept) in
 *    evaluation mode, then cross-entropy on the adversarial batch and an Adam step — what
 *    `bastion train --defense madry` runs per batch (src/defenses/adversarial-training.ts) against
 *    the same written in PyTorch (bench/py/adversarial_training.py). Target: >= 1.0x.
 * 2. Madry + AAD: the same plus paper 004's attention losses (eq. 7-10: differentiable Grad-CAM
 *    of [x; x_adv], hard attention masks, a pass over the masked images, L_r and L_p, and the
 *    double backward through Grad-CAM). Target: >= 1.0x.
 * 3. AAD's losses alone: case 2 with a fixed adversarial batch instead of the attack, so the
 *    attention terms' cost is not buried under PGD's 40 gradients. Target: >= 1.0x.
 * 4. Madry with the training attack under bfloat16 autocast on both sides (what
 *    `attackPrecision: 'auto'` picks on a CPU with AVX512-BF16). Runs only on such a CPU (or with
 *    --bf16). Target: >= 1.0x.
 *
 * Before timing, both sides compute the Madry loss and AAD's L_r and L_p in evaluation mode on
 * the shared weights, images and fixed adversarial batch; the output prints both, so a ratio is
 * never that of two different computations.
 *
 * Weights: a freshly initialised LeNet (seed 0, no input normalisation, shared through a
 * safetensors file); images: the first 100 MNIST test images if MNIST is found, else random ones
 * (said in the output). The fixed adversarial batch is x + 0.3 sign(noise), clipped to [0, 1].
 *
 * Run: npx tsc -p . && node dist/bench/adversarial-training.js [--rounds N] [--json FILE] [--bf16]
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuHasNativeBFloat16, manualSeed, noGrad, rand, randint, randn, scope, setNumThreads, torchVersion, type Tensor } from '../src/tensor/index.js';
import { packageRoot } from '../src/tensor/native.js';
import { crossEntropy } from '../src/nn/functional.js';
import { Adam } from '../src/optim/index.js';
import { createClassifier, type Classifier } from '../src/models/index.js';
import { writeSafetensors } from '../src/io/safetensors.js';
import { adversarialTraining, type AttackPrecision } from '../src/defenses/adversarial-training.js';
import { aadTerms, resolveAAD } from '../src/defenses/aad.js';
import { benchThreads, compare, firstMnistTestImages, formatResults, PythonWorker, type BastionCase, type Comparison } from './lib/harness.js';

const BATCH = 100;
const EPS = 0.3;
const LENET = { channels: 1, height: 28, width: 28, numClasses: 10 };

interface Shared {
  /** The initial weights every case starts from. */
  state: Map<string, Tensor>;
  x: Tensor;
  y: Tensor;
  xAdv: Tensor;
  source: string;
}

async function sharedData(): Promise<Shared> {
  manualSeed(0);
  const model = createClassifier('lenet', LENET);
  const state = new Map([...model.stateDict()].map(([k, v]) => [k, v.clone().keep()] as const));
  model.dispose();
  let x: Tensor;
  let y: Tensor;
  let source: string;
  try {
    ({ x, y } = await firstMnistTestImages(BATCH));
    source = `a freshly initialised LeNet (seed 0) on the first ${BATCH} MNIST test images`;
  } catch (error) {
    process.stderr.write(`bench/adversarial-training: MNIST not found (${(error as Error).message}); using random images\n`);
    x = rand([BATCH, 1, 28, 28]).keep();
    y = randint(0, 10, [BATCH]).keep();
    source = `a freshly initialised LeNet (seed 0) on ${BATCH} random images (MNIST not found)`;
  }
  const xAdv = scope(() => x.add(randn([...x.shape]).sign().mul(EPS)).clamp(0, 1).keep());
  return { state, x, y, xAdv, source };
}

function freshLeNet(shared: Shared): Classifier {
  const model = createClassifier('lenet', LENET);
  model.loadStateDict(shared.state);
  return model;
}

/** The loss `bastion train --defense madry [--aad]` computes per batch, its PGD-40 attack included. */
function madryLoss(shared: Shared, aad: boolean, precision: AttackPrecision): (model: Classifier) => Tensor {
  const training = adversarialTraining({ method: 'madry', eps: EPS, steps: 40, stepSize: 0.01, aad, attackPrecision: precision });
  return (model) => {
    const result = training.loss(model, { x: shared.x, y: shared.y });
    return 'loss' in result ? result.loss : result;
  };
}

/** The Madry+AAD loss on the fixed adversarial batch instead of an attack: CE(f(x_adv)) + alpha L_r + beta L_p. */
function fixedAdversaryAADLoss(shared: Shared): (model: Classifier) => Tensor {
  const aad = resolveAAD();
  return (model) => {
    const terms = aadTerms(model, shared.x, shared.xAdv, shared.y, aad);
    return crossEntropy(terms.adversarialLogits, shared.y).add(terms.penalty);
  };
}

/**
 * Training steps as `bastion train` runs them: the defense's loss (attack included, or the fixed
 * adversarial batch when `attack` is false), backward, Adam step, all inside one scope per step.
 */
function trainingStep(shared: Shared, options: { aad: boolean; attack: boolean; precision?: AttackPrecision }): BastionCase {
  let model: Classifier;
  let optimizer: Adam;
  const lossOf = options.attack ? madryLoss(shared, options.aad, options.precision ?? 'float32') : fixedAdversaryAADLoss(shared);
  const step = (): void => scope(() => {
    optimizer.zeroGrad();
    lossOf(model).backward();
    optimizer.step();
  });
  return {
    setup() {
      model = freshLeNet(shared).train();
      optimizer = new Adam(model.parameters(), { lr: 1e-3 });
    },
    run(units) {
      for (let b = 0; b < Math.max(1, Math.floor(units / BATCH)); b++) step();
    },
    teardown() {
      optimizer.dispose();
      model.dispose();
    },
  };
}

/** The Madry loss and AAD's terms on the shared weights and batches in evaluation mode. */
function bastionCheck(shared: Shared): { ce: number; lr: number; lp: number } {
  const model = freshLeNet(shared).eval();
  try {
    return scope(() => {
      const terms = aadTerms(model, shared.x, shared.xAdv, shared.y, resolveAAD());
      const ce = noGrad(() => crossEntropy(terms.adversarialLogits, shared.y).item());
      return { ce, lr: terms.rectification.item(), lp: terms.preservation.item() };
    });
  } finally {
    model.dispose();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '5' }, bf16: { type: 'boolean', default: false }, json: { type: 'string' } } });
  const rounds = Number(values.rounds);
  const threads = benchThreads();
  setNumThreads(threads);
  const shared = await sharedData();
  const dir = mkdtempSync(join(tmpdir(), 'bastion-bench-at-'));
  const file = join(dir, 'shared.safetensors');
  await writeSafetensors(file, new Map<string, Tensor>([...shared.state, ['x', shared.x.contiguous()], ['y', shared.y], ['x_adv', shared.xAdv.contiguous()]]));
  process.env['BASTION_BENCH_AT_FILE'] = file;
  const python = await PythonWorker.start(join(packageRoot, 'bench', 'py', 'adversarial_training.py'), threads);

  const layouts = (name: string, what: string): Comparison['python'] => [
    { name: `${name}-default`, label: `PyTorch ${what}(default)` },
    { name: `${name}-channels-last`, label: `PyTorch ${what}(channels-last)` },
  ];
  const runBf16 = cpuHasNativeBFloat16() || values.bf16 === true;
  const comparisons: Comparison[] = [
    {
      name: `Madry step: PGD-40 (eps 0.3, step 0.01) + CE + Adam, batch ${BATCH}`, unit: 'img', units: BATCH, warmup: BATCH, target: 1.0,
      bastion: trainingStep(shared, { aad: false, attack: true }), python: layouts('at-madry', ''),
    },
    {
      name: `Madry + AAD step (paper 004 eq. 10), batch ${BATCH}`, unit: 'img', units: BATCH, warmup: BATCH, target: 1.0,
      bastion: trainingStep(shared, { aad: true, attack: true }), python: layouts('at-madry-aad', ''),
    },
    {
      name: `AAD losses alone (fixed x_adv): Grad-CAM double backward + CE + Adam, batch ${BATCH}`, unit: 'img', units: 10 * BATCH, warmup: 2 * BATCH, target: 1.0,
      bastion: trainingStep(shared, { aad: true, attack: false }), python: layouts('at-aad-loss', ''),
    },
    ...(runBf16 ? [{
      name: `Madry step, training attack under bfloat16 autocast on both sides, batch ${BATCH}`, unit: 'img', units: BATCH, warmup: BATCH, target: 1.0,
      bastion: trainingStep(shared, { aad: false, attack: true, precision: 'bfloat16' }), python: layouts('at-madry-bf16', 'bf16 '),
    }] : []),
  ];

  const ours = bastionCheck(shared);
  let check = `Bastion:  CE(x_adv) ${ours.ce.toFixed(6)}  L_r ${ours.lr.toFixed(6)}  L_p ${ours.lp.toFixed(6)}`;
  if (python) {
    const theirs = await python.worker.request({ cmd: 'setup', case: 'at-check' }).then(() => python.worker.request({ cmd: 'run', case: 'at-check', units: 1 }));
    await python.worker.request({ cmd: 'teardown', case: 'at-check' });
    check += `\n  PyTorch:  CE(x_adv) ${(theirs['ce'] as number).toFixed(6)}  L_r ${(theirs['lr'] as number).toFixed(6)}  L_p ${(theirs['lp'] as number).toFixed(6)}`;
  }
  const results = [];
  for (const c of comparisons) results.push(await compare(python?.worker ?? null, c, rounds));
  python?.worker.close();
  rmSync(dir, { recursive: true, force: true });

  const lines = [
    `bench/adversarial-training: Bastion (libtorch ${torchVersion()}) vs ${python ? `PyTorch ${python.torch}` : 'no PyTorch'}, ${threads} threads, ${rounds} interleaved rounds, medians`,
    `model and data: ${shared.source}`,
    `same computation, evaluation mode on the shared weights, x and fixed x_adv:\n  ${check}`,
    formatResults(results),
    ...(runBf16 ? [] : ['Madry step in bfloat16: skipped, this CPU has no AVX512-BF16 (both sides would emulate it; --bf16 runs it anyway)']),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ bench: 'adversarial-training', threads, rounds, torch: python?.torch ?? null, source: shared.source, check: ours, results }, null, 2)}\n`);
  for (const t of [...shared.state.values(), shared.x, shared.y, shared.xAdv]) t.dispose();
}

await main();
