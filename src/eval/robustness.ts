/**
 * Robustness evaluation: a model on a data set (or any batch source) under an attack at every
 * epsilon of a threat model, batch by batch. Reports clean accuracy, accuracy and attack success per
 * epsilon, perturbation norms, the attack's gradient/forward counts and wall time, as JSON-able data.
 */
import { noGrad, scope, type Batch, type BatchSource, type Tensor } from '../tensor/index.js';
import { DataLoader, type Dataset } from '../data/index.js';
import { chooseTargets, type TargetMode } from '../attacks/targets.js';
import { CLEAN, checkFiniteLogits } from '../attacks/base.js';
import type { Attack, AttackResult, Model, Norm, ThreatModel } from '../attacks/types.js';
import { BastionError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { Random } from '../util/random.js';
import { ImageEvidence, checkRobustness, indicatorReport, probeModel, type Indicator, type IndicatorReport } from './indicators.js';

/** Options of {@link evaluateRobustness}. */
export interface RobustnessOptions {
  attack: Attack;
  threat: ThreatModel;
  /** Batch size when given a Dataset (default 256). */
  batchSize?: number;
  /** Evaluate only the first N samples. */
  limit?: number;
  /** How to choose targets; required when `threat.targeted`. */
  target?: TargetMode;
  /** Seed of random target choices (default 0). */
  seed?: number;
  /** Show progress (src/util/progress.ts; default true). */
  progress?: boolean;
  /** Progress label (default "<attack> attack"). */
  label?: string;
  /** Called after each batch with its tensors and attack result (valid only during the call). */
  onBatch?: (batch: RobustnessBatch) => void | Promise<void>;
  /** Stops between batches: the result covers the batches finished and says `interrupted: true`. */
  signal?: AbortSignal;
  /** Compute the indicators of attack failure (src/eval/indicators.ts; default true). */
  indicators?: boolean;
}

/** What {@link RobustnessOptions.onBatch} receives. */
export interface RobustnessBatch {
  /** Batch number, from 0. */
  index: number;
  /** Samples evaluated before this batch. */
  offset: number;
  x: Tensor;
  /** True labels. */
  y: Tensor;
  /** Targets (targeted threat models), else null. */
  targets: Tensor | null;
  cleanPredictions: Tensor;
  result: AttackResult;
}

/** Norm statistics of the successful examples of clean-correct samples (null without any). */
export interface NormSummary {
  count: number;
  mean: number | null;
  median: number | null;
  max: number | null;
}

/** The outcome at one epsilon. */
export interface EpsilonSummary {
  epsilon: number;
  /** Fraction classified correctly (true label) on the adversarial examples: robust accuracy. */
  accuracy: number;
  /** Fraction of samples where the attack succeeded (misclassified, or at the target when targeted). */
  successRate: number;
  /** Success among the samples the model classifies correctly when clean. */
  successRateOnCorrect: number | null;
  /** ||adv - x|| in the threat norm over successful examples of clean-correct samples. */
  norms: NormSummary;
}

/** The JSON-able result of {@link evaluateRobustness}. */
export interface RobustnessResult {
  attack: string;
  threat: { norm: Norm; epsilons: number[]; bounds: [number, number] | null; targeted: boolean };
  target: TargetMode | null;
  /** Samples attacked. */
  samples: number;
  /** Samples left out because their fixed target was their own class. */
  excluded: number;
  cleanAccuracy: number;
  perEpsilon: EpsilonSummary[];
  /** Summed over batches (each attack run counts gradient computations over its active batch). */
  gradientEvaluations: number;
  /** Attack forward passes plus one clean pass per batch. */
  forwardEvaluations: number;
  /** Seconds inside the attack's run(). */
  attackSeconds: number;
  /** Seconds of the whole evaluation (loading batches, clean pass, bookkeeping). */
  wallSeconds: number;
  batches: number;
  /** True when {@link RobustnessOptions.signal} stopped the run early: the numbers cover `samples` only. */
  interrupted?: boolean;
  /** Indicators of attack failure (src/eval/indicators.ts); absent when switched off. */
  indicators?: IndicatorReport;
}

function isDataset(data: Dataset | BatchSource): data is Dataset {
  return typeof (data as Dataset).get === 'function' && typeof (data as Dataset).length === 'number';
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/**
 * Attacks `model` on every batch of `data` (a Dataset, batched in order, or any BatchSource's
 * epoch 0) and aggregates the per-epsilon results. The model should already be in eval mode.
 */
export async function evaluateRobustness(model: Model, data: Dataset | BatchSource, options: RobustnessOptions): Promise<RobustnessResult> {
  const start = performance.now();
  const { attack, threat } = options;
  const targeted = threat.targeted ?? false;
  if (targeted && options.target === undefined) throw new BastionError('a targeted evaluation needs a target (a class index, random or least-likely)', { exitCode: 2 });
  if (options.limit !== undefined && (!Number.isInteger(options.limit) || options.limit < 1)) throw new BastionError(`limit must be a positive integer, got ${options.limit}`, { exitCode: 2 });
  const source: BatchSource = isDataset(data) ? new DataLoader(data, { batchSize: options.batchSize ?? 256 }) : data;
  const total = Math.min(source.sampleCount, options.limit ?? Infinity);
  const epsilons = threat.epsilons;
  const correct = epsilons.map(() => 0);
  const succeeded = epsilons.map(() => 0);
  const succeededOnCorrect = epsilons.map(() => 0);
  const norms: number[][] = epsilons.map(() => []);
  const rng = new Random(options.seed ?? 0);
  let [samples, excluded, cleanCorrect, gradients, forwards, attackSeconds, batches] = [0, 0, 0, 0, 0, 0, 0];
  const progress = options.progress === false ? null : new Progress(options.label ?? `${attack.name} attack`, total, 'img');
  let interrupted = false;
  const withIndicators = options.indicators !== false;
  const evidence = withIndicators ? new ImageEvidence(epsilons) : null;
  let probe: { probedImages: number; flags: Indicator[] } | null = null;
  try {
    for await (const raw of source.batches(0)) {
      if (options.signal !== undefined) {
        await new Promise<void>((r) => setImmediate(r)); // let a pending Ctrl-C be delivered
        if (options.signal.aborted) {
          interrupted = true;
          break;
        }
      }
      const seen = samples + excluded;
      if (seen >= total) break;
      const take = Math.min(raw.x.shape[0] as number, total - seen);
      const prepared = scope(() => {
        const batch: Batch = take === raw.x.shape[0] ? raw : { x: raw.x.narrow(0, 0, take), y: raw.y.narrow(0, 0, take) };
        const logits = noGrad(() => model.forward(batch.x));
        checkFiniteLogits(logits, CLEAN);
        let [x, y, clean] = [batch.x, batch.y.long(), logits.argmax(1)];
        let targets: Tensor | null = null;
        if (targeted) {
          const chosen = chooseTargets(options.target as TargetMode, y, logits, rng);
          const keep = chosen.eligible.nonzero().squeeze(1);
          [x, y, clean, targets] = [x.indexSelect(0, keep), y.indexSelect(0, keep), clean.indexSelect(0, keep), chosen.targets.indexSelect(0, keep)];
        }
        return { x, y, clean, targets };
      });
      forwards++;
      const n = prepared.x.shape[0] as number;
      excluded += take - n;
      try {
        if (n === 0) continue;
        const result = attack.run(model, prepared.x, prepared.targets ?? prepared.y, threat);
        try {
          scope(() => {
            const cleanOk = prepared.clean.eq(prepared.y);
            cleanCorrect += cleanOk.sum().item();
            result.perEpsilon.forEach((e, i) => {
              correct[i] = (correct[i] as number) + e.predictions.eq(prepared.y).sum().item();
              succeeded[i] = (succeeded[i] as number) + e.success.sum().item();
              const counted = e.success.logicalAnd(cleanOk);
              succeededOnCorrect[i] = (succeededOnCorrect[i] as number) + counted.sum().item();
              (norms[i] as number[]).push(...e.norms.maskedSelect(counted).toNumbers());
            });
            evidence?.add(samples, cleanOk.toNumbers(), result.perEpsilon.map((e) => ({ correct: e.predictions.eq(prepared.y).toNumbers(), success: e.success.toNumbers() })));
          });
          if (withIndicators && probe === null) probe = probeModel(model, prepared.x, prepared.y, { offset: samples });
          gradients += result.gradientEvaluations;
          forwards += result.forwardEvaluations;
          attackSeconds += result.seconds;
          await options.onBatch?.({ index: batches, offset: samples, x: prepared.x, y: prepared.y, targets: prepared.targets, cleanPredictions: prepared.clean, result });
        } finally {
          result.dispose();
        }
        samples += n;
        batches++;
        progress?.tick(take, { acc: (correct.at(-1) as number) / samples });
      } finally {
        for (const t of [prepared.x, prepared.y, prepared.clean, prepared.targets]) if (t !== null && t !== raw.x && t !== raw.y) t.dispose();
      }
    }
  } finally {
    progress?.end();
  }
  if (samples === 0 && interrupted) options.signal?.throwIfAborted();
  if (samples === 0) throw new BastionError('no samples were evaluated', { hint: excluded > 0 ? 'every sample had the fixed target as its label' : 'the data set is empty' });
  const bounds = threat.bounds ?? [0, 1];
  const summary: RobustnessResult = {
    attack: attack.name,
    threat: { norm: threat.norm, epsilons: [...epsilons], bounds: Number.isFinite(bounds[0]) && Number.isFinite(bounds[1]) ? [bounds[0], bounds[1]] : null, targeted },
    target: options.target ?? null,
    samples, excluded,
    ...(interrupted ? { interrupted: true } : {}),
    cleanAccuracy: cleanCorrect / samples,
    perEpsilon: epsilons.map((epsilon, i) => {
      const values = norms[i] as number[];
      return {
        epsilon,
        accuracy: (correct[i] as number) / samples,
        successRate: (succeeded[i] as number) / samples,
        successRateOnCorrect: cleanCorrect > 0 ? (succeededOnCorrect[i] as number) / cleanCorrect : null,
        norms: {
          count: values.length,
          mean: values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : null,
          median: median(values),
          max: values.length > 0 ? values.reduce((a, b) => Math.max(a, b), 0) : null,
        },
      };
    }),
    gradientEvaluations: gradients,
    forwardEvaluations: forwards,
    attackSeconds,
    wallSeconds: (performance.now() - start) / 1000,
    batches,
  };
  if (withIndicators) summary.indicators = indicatorReport(probe, ['attack-above-clean', 'non-monotone-epsilon'], checkRobustness(summary, evidence));
  return summary;
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
