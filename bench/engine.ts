/**
 * bench/engine: the engine against PyTorch on the same machine, in one run.
 *
 * Workloads (paper 000's simple CNN, batch 128, 28x28x1): one Adam training step; inference
 * (evaluation mode, no autograd); the input-gradient step that FGSM/PGD repeat. The Bastion side
 * uses the library itself (src/models SimpleCNN, src/optim Adam, scopes); the PyTorch side is the
 * same model written with torch.nn as a PyTorch user would (default layout), plus PyTorch's own
 * channels-last recipe for transparency. Targets (issue 2): training >= 1.1x, inference and
 * input gradient >= 1.0x the default PyTorch figure.
 *
 * Run: node dist/bench/engine.js [--rounds N] [--json FILE] [--no-python]
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { grad, manualSeed, noGrad, rand, randint, scope, setNumThreads, torchVersion, type Tensor } from '../src/tensor/index.js';
import { packageRoot } from '../src/tensor/native.js';
import { crossEntropy } from '../src/nn/functional.js';
import { Adam } from '../src/optim/index.js';
import { createClassifier, modelConfig, type Classifier } from '../src/models/index.js';
import { benchThreads, compare, formatResults, PythonWorker, type BastionCase, type Comparison } from './lib/harness.js';

const BATCH = 128;
const MNIST = { channels: 1, height: 28, width: 28, numClasses: 10 };

function simpleCnn(): Classifier {
  manualSeed(0);
  return createClassifier('simple-cnn', modelConfig('simple-cnn', MNIST));
}

function batches(units: number): number {
  return Math.max(1, Math.floor(units / BATCH));
}

/** One Adam step of the simple CNN per batch. */
function trainStep(): BastionCase {
  let model: Classifier;
  let optimizer: Adam;
  let x: Tensor;
  let y: Tensor;
  return {
    setup() {
      model = simpleCnn().train();
      optimizer = new Adam(model.parameters(), { lr: 1e-3 });
      x = rand([BATCH, 1, 28, 28]).keep();
      y = randint(0, 10, [BATCH]).keep();
    },
    run(units) {
      for (let i = 0; i < batches(units); i++) {
        scope(() => {
          optimizer.zeroGrad();
          crossEntropy(model.forward(x), y).backward();
          optimizer.step();
        });
      }
    },
    teardown() {
      optimizer.dispose();
      model.dispose();
      x.dispose();
      y.dispose();
    },
  };
}

/** Inference: evaluation mode, no autograd, predicted classes. */
function inference(): BastionCase {
  let model: Classifier;
  let x: Tensor;
  return {
    setup() {
      model = simpleCnn().eval();
      x = rand([BATCH, 1, 28, 28]).keep();
    },
    run(units) {
      for (let i = 0; i < batches(units); i++) noGrad(() => scope(() => model.forward(x).argmax(1)));
    },
    teardown() {
      model.dispose();
      x.dispose();
    },
  };
}

/** The step FGSM/PGD repeat: sign of the gradient of the cross-entropy with respect to the input. */
function inputGradient(): BastionCase {
  let model: Classifier;
  let x: Tensor;
  let y: Tensor;
  return {
    setup() {
      model = simpleCnn().eval().freeze();
      x = rand([BATCH, 1, 28, 28]).keep();
      y = randint(0, 10, [BATCH]).keep();
    },
    run(units) {
      for (let i = 0; i < batches(units); i++) {
        scope(() => {
          const input = x.detach().requiresGrad_();
          const [g] = grad(crossEntropy(model.forward(input), y), input);
          (g as Tensor).sign();
        });
      }
    },
    teardown() {
      model.dispose();
      x.dispose();
      y.dispose();
    },
  };
}

async function main(): Promise<void> {
  // --no-python: Bastion alone (e.g. to compare OpenMP wait policies without a second process competing).
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '7' }, json: { type: 'string' }, 'no-python': { type: 'boolean', default: false } } });
  const rounds = Number(values.rounds);
  const threads = benchThreads();
  setNumThreads(threads);
  const python = values['no-python'] ? null : await PythonWorker.start(join(packageRoot, 'bench', 'py', 'worker.py'), threads);
  const comparisons: Comparison[] = [
    {
      name: 'training step (simple CNN, Adam, batch 128)', unit: 'img', units: 20 * BATCH, warmup: 5 * BATCH, bastion: trainStep(), target: 1.1,
      python: [{ name: 'train-default', label: 'PyTorch (default layout)' }, { name: 'train-channels-last', label: 'PyTorch (channels-last)' }],
    },
    {
      name: 'inference (simple CNN, eval, batch 128)', unit: 'img', units: 60 * BATCH, warmup: 10 * BATCH, bastion: inference(), target: 1.0,
      python: [{ name: 'infer-default', label: 'PyTorch (default layout)' }, { name: 'infer-channels-last', label: 'PyTorch (channels-last)' }],
    },
    {
      name: 'input gradient (what FGSM/PGD run, batch 128)', unit: 'img', units: 30 * BATCH, warmup: 5 * BATCH, bastion: inputGradient(), target: 1.0,
      python: [{ name: 'inputgrad-default', label: 'PyTorch (default layout)' }, { name: 'inputgrad-channels-last', label: 'PyTorch (channels-last)' }],
    },
  ];
  const results = [];
  for (const c of comparisons) results.push(await compare(python?.worker ?? null, c, rounds));
  python?.worker.close();
  const header = `bench/engine: Bastion (libtorch ${torchVersion()}) vs ${python ? `PyTorch ${python.torch}` : 'no PyTorch'}, ${threads} threads, ` +
    `OMP_WAIT_POLICY=${process.env['OMP_WAIT_POLICY'] ?? 'default'} on both sides, ${rounds} interleaved rounds, medians`;
  process.stdout.write(`${header}\n${formatResults(results)}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ bench: 'engine', threads, rounds, torch: python?.torch ?? null, results }, null, 2)}\n`);
}

await main();
