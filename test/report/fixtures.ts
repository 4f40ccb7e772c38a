/**
 * Run folders for the report and dashboard tests: a synthetic experiment results.json with example
 * pictures (no training; numbers chosen by hand), and a real tiny experiment (a small CNN and a DAE
 * trained for two epochs on the patch data of test/defenses/fixtures.ts, attacked and defended).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { resolveTables, runExperiment, type Experiment, type ExperimentResults } from '../../src/eval/experiment.js';
import type { ExampleSet } from '../../src/eval/examples.js';
import type { RobustnessResult } from '../../src/eval/robustness.js';
import type { DefenseEvaluation } from '../../src/eval/defense.js';
import { encodePng } from '../../src/io/image.js';
import { writePatchDataset } from '../defenses/fixtures.js';

/** A 28x28 gray PNG: a square of brightness `value` at `offset` over black. */
export function squarePng(value: number, offset = 6): Uint8Array {
  const data = new Uint8Array(28 * 28);
  for (let r = offset; r < offset + 10; r++) for (let c = offset; c < offset + 10; c++) data[r * 28 + c] = value;
  return encodePng({ width: 28, height: 28, channels: 1, data });
}

/** The synthetic experiment: a classifier and a purifier, an FGSM sweep, a defense evaluation, latency, and a paper-004 Table 6 result. */
export function syntheticExperiment(options: { smoke: boolean; title?: string }): Experiment {
  return {
    name: 'synthetic', version: 1, title: options.title ?? 'Synthetic report test', papers: ['000'], description: 'Hand-made results for the report test.',
    estimateMinutes: 1, smoke: options.smoke,
    models: [
      { id: 'cnn', kind: 'classifier', architecture: 'simple-cnn', data: 'mnist', seed: 0 },
      { id: 'cae', kind: 'purifier', architecture: 'cae', data: 'mnist', mode: 'adversarial', classifier: 'cnn' },
    ],
    evaluations: [
      { id: 'fgsm', type: 'attack', model: 'cnn', data: 'mnist', attack: 'fgsm', epsilons: [0, 0.1, 0.2, 0.3] },
      { id: 'def', type: 'defense', classifier: 'cnn', purifiers: ['cae'], data: 'mnist', attack: 'fgsm', epsilons: [0.3, 0.6], modes: ['gray-box', 'white-box', 'bpda'] },
      { id: 'lat', type: 'latency', classifier: 'cnn', purifiers: ['cae'] },
      { id: 't6', type: 'table6', model: 'cnn', data: 'mnist', eps: 0.3, stepSize: 0.01, iterations: [10, 100] },
    ],
    tables: [
      {
        id: 'table1', title: 'FGSM without defense', columns: ['paper', 'ours'],
        rows: [0, 0.1, 0.2, 0.3].map((e, i) => ({
          label: `eps ${e}`,
          cells: { paper: { paper: 'paper000-table1', select: { dataset: 'mnist', attack: 'fgsm', epsilon: e } }, ours: { result: 'fgsm', path: `perEpsilon[${i}].accuracy` } },
        })),
        differences: [['ours', 'paper']], note: 'A note under table 1.',
      },
      {
        id: 'table3', title: 'CAE in front of the CNN', columns: ['paper', 'ours (gray-box)', 'ours (white-box)'],
        rows: [{
          label: 'FGSM 0.6, CAE',
          cells: {
            paper: { paper: 'paper000-table3', select: { dataset: 'mnist', defense: 'cae', attack: 'fgsm', epsilon: 0.6 } },
            'ours (gray-box)': { result: 'def', path: 'grayBox.defenses.cae[1]' },
            'ours (white-box)': { result: 'def', path: 'adaptive.white-box.cae[1]' },
          },
        }],
        differences: [['ours (gray-box)', 'paper']],
      },
    ],
  };
}

const FGSM_RESULT: RobustnessResult = {
  attack: 'fgsm', threat: { norm: 'linf', epsilons: [0, 0.1, 0.2, 0.3], bounds: [0, 1], targeted: false }, target: null, samples: 100, excluded: 0, cleanAccuracy: 0.99,
  perEpsilon: [0.99, 0.81, 0.42, 0.17].map((accuracy, i) => ({
    epsilon: [0, 0.1, 0.2, 0.3][i] as number, accuracy, successRate: 1 - accuracy, successRateOnCorrect: (0.99 - accuracy) / 0.99,
    norms: { count: Math.round((0.99 - accuracy) * 100), mean: [0, 0.1, 0.2, 0.3][i] as number, median: [0, 0.1, 0.2, 0.3][i] as number, max: [0, 0.1, 0.2, 0.3][i] as number },
  })),
  gradientEvaluations: 1, forwardEvaluations: 2, attackSeconds: 0.5, wallSeconds: 0.7, batches: 1,
};

const DEFENSE_RESULT: DefenseEvaluation = {
  attack: 'fgsm', attackOptions: {}, norm: 'linf', epsilons: [0.3, 0.6], samples: 100, modes: ['gray-box', 'white-box', 'bpda'],
  clean: { source: 0.99, defenses: { cae: 0.97 } },
  grayBox: { source: [0.17, 0.06], defenses: { cae: [0.93, 0.88] } },
  adaptive: { 'white-box': { cae: [0.21, 0.04] }, bpda: { cae: [0.12, 0.02] } },
  notes: ['cae: a note about the evaluation'], seconds: { 'gray-box': 1.5, 'white-box': 2.5, bpda: 2 },
};

/**
 * Writes a synthetic results.json and examples (PNG files, one of them missing and one named
 * outside the run folder) into `dir`; returns the results.
 */
export function writeSyntheticRun(dir: string, options: { smoke?: boolean; title?: string } = {}): ExperimentResults {
  const experiment = syntheticExperiment({ smoke: options.smoke ?? true, ...(options.title ? { title: options.title } : {}) });
  const evaluations: ExperimentResults['evaluations'] = {
    fgsm: { type: 'attack', seconds: 0.8, result: FGSM_RESULT },
    def: { type: 'defense', seconds: 6.1, result: DEFENSE_RESULT },
    lat: { type: 'latency', seconds: 3, result: { classifier: { perImageBatch1: 0.0004, perImageAmortised: 0.00002, batchSize: 256, runs: { batch1: 50, batched: 10 } }, cae: { perImageBatch1: 0.0021, perImageAmortised: 0.0001, batchSize: 256, runs: { batch1: 50, batched: 10 } } } },
    t6: {
      type: 'table6', seconds: 9,
      result: {
        eps: 0.3, stepSize: 0.01, iterations: [10, 100], samples: 100, seconds: { fgsm: 1, pgd: 4, cw: 4 }, details: {},
        columns: { clean: 0.99, fgsm: 0.9, pgd10: 0.8, pgd100: 0.7, cw10: 0.75, cw100: 0.65 },
      },
    },
  };
  const results: ExperimentResults = {
    format: 'bastion-experiment-results', version: 1, experiment, configHash: '0123456789abcdef', smoke: experiment.smoke === true,
    startedAt: '2026-01-02T03:04:05.000Z', wallSeconds: 42.5,
    models: {
      cnn: {
        dir: '/cache/models/cnn-1', cached: false, seconds: 20,
        training: { data: 'mnist', testAccuracy: 0.99, trainSamples: 1000, recipe: { epochs: 3 }, wallSeconds: 19 },
        history: [0, 1, 2].map((epoch) => ({ epoch, loss: 1 / (epoch + 1), accuracy: 0.8 + epoch * 0.05, val_loss: 1.1 / (epoch + 1), val_accuracy: 0.78 + epoch * 0.05, lr: 0.001, seconds: 5 })),
      },
      cae: { dir: '/cache/models/cae-1', cached: true, seconds: 0.1, training: { mode: 'adversarial', testMse: 0.01 }, history: [0, 1].map((epoch) => ({ epoch, loss: 0.05 / (epoch + 1), val_mse: 0.04 / (epoch + 1) })) },
    },
    evaluations,
    tables: resolveTables(experiment, evaluations),
    provenance: {
      createdAt: '2026-01-02T03:05:00.000Z', gitRevision: 'abc123-dirty', bastionVersion: '0.1.0', torchVersion: '1.13.0', node: 'v20.0.0',
      machine: { hostname: 'testhost', cpus: 2, cpuModel: 'Test CPU', platform: 'linux', arch: 'x64' }, seed: 0, command: 'bastion reproduce synthetic',
    },
  };
  mkdirSync(join(dir, 'examples', 'fgsm'), { recursive: true });
  mkdirSync(join(dir, 'examples', 'def'), { recursive: true });
  writeFileSync(join(dir, 'results.json'), JSON.stringify(results, null, 2));
  const png = (rel: string, value: number): string => {
    writeFileSync(join(dir, rel), squarePng(value));
    return rel;
  };
  const fgsmSet: ExampleSet = {
    evaluation: 'fgsm', attack: 'fgsm', epsilons: [0.1, 0.3], classNames: ['zero', 'one', 'two'], amplification: 1 / 0.3,
    samples: [0, 1].map((i) => ({
      index: i, label: i,
      clean: { png: png(`examples/fgsm/clean-${i}.png`, 200), prediction: i, confidence: 0.98 },
      cleanGradcam: png(`examples/fgsm/clean-${i}-gradcam.png`, 120),
      perEpsilon: [0, 1].map((e) => ({
        epsilon: [0.1, 0.3][e] as number,
        adversarial: { png: png(`examples/fgsm/adv-${i}-eps${e}.png`, 180), prediction: e === 0 ? i : 2, confidence: 0.61 },
        perturbation: png(`examples/fgsm/delta-${i}-eps${e}.png`, 128),
        adversarialGradcam: png(`examples/fgsm/adv-${i}-eps${e}-gradcam.png`, 90),
        purified: {},
      })),
    })),
  };
  const defSet: ExampleSet = {
    evaluation: 'def', attack: 'fgsm', epsilons: [0.3], classNames: ['zero', 'one', 'two'], amplification: 1 / 0.3,
    samples: [{
      index: 0, label: 1,
      clean: { png: png('examples/def/clean-0.png', 210), prediction: 1, confidence: 0.9 },
      perEpsilon: [{
        epsilon: 0.3,
        adversarial: { png: png('examples/def/adv-0-eps0.png', 150), prediction: 0, confidence: 0.7 },
        perturbation: 'examples/def/missing-delta.png',
        purified: {
          cae: { png: png('examples/def/purified-cae-0-eps0.png', 199), prediction: 1, confidence: 0.8 },
          escape: { png: '../outside.png', prediction: 1, confidence: 0.5 },
        },
      }],
    }],
  };
  writeFileSync(join(dir, 'examples', 'fgsm.json'), JSON.stringify(fgsmSet));
  writeFileSync(join(dir, 'examples', 'def.json'), JSON.stringify(defSet));
  return results;
}

/**
 * Runs a real tiny experiment into `runDir` (models cached in `cacheDir`): a kfold-cnn and a DAE
 * trained two epochs on patch data written to `dataDir`, an FGSM sweep, a defense evaluation in
 * three threat models, latency, and a table beside paper 000's Table 1.
 */
export async function runTinyExperiment(runDir: string, cacheDir: string, dataDir: string): Promise<ExperimentResults> {
  const data = writePatchDataset(dataDir, 200, 4);
  const experiment: Experiment = {
    name: 'tiny-dashboard', version: 1, title: 'Tiny dashboard run', papers: ['000'], description: 'A tiny real run for the dashboard tests.',
    estimateMinutes: 1, smoke: true,
    models: [
      { id: 'cnn', kind: 'classifier', architecture: 'kfold-cnn', data, recipe: { epochs: 2, valCount: 40, batchSize: 32, flip: false, cropPadding: 0 } },
      { id: 'dae', kind: 'purifier', architecture: 'dae', data, mode: 'gaussian', recipe: { epochs: 2, batchSize: 32, valCount: 40 } },
    ],
    evaluations: [
      { id: 'fgsm', type: 'attack', model: 'cnn', data, attack: 'fgsm', epsilons: [0, 0.1, 0.3], attackOptions: { carryOver: false } },
      { id: 'defense', type: 'defense', classifier: 'cnn', purifiers: ['dae'], data, attack: 'fgsm', epsilons: [0.1, 0.3], modes: ['gray-box', 'white-box', 'bpda'] },
      { id: 'latency', type: 'latency', classifier: 'cnn', purifiers: ['dae'], batchSize: 1 },
    ],
    tables: [{
      id: 'fgsm', title: 'FGSM without defense', columns: ['paper', 'ours'],
      rows: [0, 0.1, 0.3].map((e, i) => ({
        label: `eps ${e}`,
        cells: { paper: { paper: 'paper000-table1', select: { dataset: 'mnist', attack: 'fgsm', epsilon: e } }, ours: { result: 'fgsm', path: `perEpsilon[${i}].accuracy` } },
      })),
      differences: [['ours', 'paper']],
    }],
  };
  const previous = process.env['BASTION_CACHE_DIR'];
  process.env['BASTION_CACHE_DIR'] = cacheDir;
  try {
    return await runExperiment(experiment, { out: runDir, progress: false });
  } finally {
    if (previous === undefined) delete process.env['BASTION_CACHE_DIR'];
    else process.env['BASTION_CACHE_DIR'] = previous;
  }
}
