/**
 * Evaluating purification defenses (papers 000, 001, 002) under four threat models, reported side
 * by side for every defended number:
 *
 * 1. gray-box — adversarial examples crafted on the classifier alone, then purified: what the
 *    papers report. The attack runs its full budget on every sample (no early stop, no carry-over
 *    between epsilons), as the papers' Algorithm 1 does, so the transferred examples are as strong
 *    as the attacker can make them against the classifier.
 * 2. white-box — the attack differentiates through purifier and classifier end to end.
 * 3. BPDA — forward through the purifier, backward as if it were the identity (Athalye et al.
 *    2018), the standard attack on purifiers whose gradients are unhelpful.
 * 4. EOT — the purifier keeps its latent Gaussian noise at inference (a randomised defense) and the
 *    attacker averages gradients over K noise draws (Expectation over Transformation); accuracy is
 *    measured on single stochastic passes. A deterministic defense has nothing to average over.
 *
 * The attacks use the true labels by default (the papers' Algorithm 1). With `attackLabels:
 * 'predicted'` every attack instead takes the attacked model's own prediction on the clean image
 * as its label (Kurakin et al. 2017): a true-label perturbation carries the label in its sign
 * pattern ("label leaking"), and a purifier trained on such examples can learn to read it, which
 * shows as higher accuracy on adversarial than on clean images. Accuracy is always against the
 * true labels.
 *
 * Several defenses can be evaluated on the same gray-box examples (paper 001's table compares
 * "DAE" and "DAE + K-fold" on one set of FGSM examples of the base CNN). A defense whose classifier
 * is a K-fold {@link Ensemble} is scored by its soft vote everywhere (it is the model the adaptive
 * attacks differentiate); on clean and gray-box inputs its hard (majority) vote and the mean
 * accuracy of its members (paper 001's "average across all K iterations") are reported as well.
 */
import { noGrad, scope, type Tensor } from '../tensor/index.js';
import { DataLoader, firstN, type Dataset } from '../data/index.js';
import { createAttack } from '../attacks/registry.js';
import { CLEAN, checkFiniteLogits } from '../attacks/base.js';
import type { Model, ThreatModel } from '../attacks/types.js';
import { Purifier } from '../models/index.js';
import type { DefendedClassifier } from '../defenses/defended.js';
import { Ensemble } from '../defenses/ensemble.js';
import { Progress } from '../util/progress.js';
import { BastionError } from '../util/errors.js';
import { checkDefenseResult, indicatorReport, probeModel, type DefenseImageEvidence, type Indicator, type IndicatorReport } from './indicators.js';

/** The four threat models of a defense evaluation (see the module comment). */
export type EvaluationMode = 'gray-box' | 'white-box' | 'bpda' | 'eot';

/** All modes, in report order. */
export const EVALUATION_MODES: readonly EvaluationMode[] = ['gray-box', 'white-box', 'bpda', 'eot'];

/** A defense to evaluate: a name for the tables and the defended model. */
export interface NamedDefense {
  name: string;
  model: DefendedClassifier;
}

/** Options of {@link evaluateDefenses}. */
export interface DefenseEvaluationOptions {
  /** The undefended classifier: attacked in gray-box mode, and reported as the "no defense" row. */
  source: Model;
  defenses: readonly NamedDefense[];
  dataset: Dataset;
  /** Attack name (src/attacks/registry.ts) and options (steps, stepSize, ...). */
  attack: string;
  attackOptions?: Record<string, unknown>;
  threat: ThreatModel;
  modes?: readonly EvaluationMode[];
  /** Noise draws per EOT gradient (default 10). */
  eotSamples?: number;
  /** Labels the attacks take: the true ones (default) or the attacked model's clean predictions (see the module comment). */
  attackLabels?: AttackLabels;
  batchSize?: number;
  /** Evaluate the first N test images only. */
  limit?: number;
  seed?: number;
  /** Stops between batches: the result covers the batches finished and says `interrupted: true`. */
  signal?: AbortSignal;
  progress?: boolean;
  /** Compute the indicators of attack failure (src/eval/indicators.ts; default true). */
  indicators?: boolean;
}

/** Which labels the attacks of a defense evaluation take (see the module comment). */
export type AttackLabels = 'true' | 'predicted';

/** Accuracies per epsilon (same order as the threat model's epsilons). */
export type AccuracyByEpsilon = number[];

/** The other two readings of an ensemble defense's accuracy (the soft vote is the defense's own number). */
export interface EnsembleVotes<T> {
  /** Majority vote of the members (ties to the soft vote). */
  hardVote: T;
  /** Mean of the members' own accuracies. */
  memberMean: T;
}

/** What {@link evaluateDefenses} measures. */
export interface DefenseEvaluation {
  attack: string;
  attackOptions: Record<string, unknown>;
  norm: ThreatModel['norm'];
  epsilons: number[];
  samples: number;
  modes: EvaluationMode[];
  /** Labels the attacks took (absent in results saved before the option existed: 'true'). */
  attackLabels?: AttackLabels;
  clean: { source: number; defenses: Record<string, number>; ensembleVotes?: Record<string, EnsembleVotes<number>> };
  /** Gray-box: the undefended classifier on its own adversarial examples, and each defense on them. */
  grayBox: { source: AccuracyByEpsilon; defenses: Record<string, AccuracyByEpsilon>; ensembleVotes?: Record<string, EnsembleVotes<AccuracyByEpsilon>> } | null;
  /** Adaptive modes: each defense under attacks crafted against it. */
  adaptive: Partial<Record<Exclude<EvaluationMode, 'gray-box'>, Record<string, AccuracyByEpsilon>>>;
  /** Notes on modes that could not apply (e.g. EOT against a defense without randomness). */
  notes: string[];
  seconds: Record<string, number>;
  /** True when {@link DefenseEvaluationOptions.signal} stopped the run early: the numbers cover `samples` only. */
  interrupted?: boolean;
  /** Indicators of attack failure (src/eval/indicators.ts); absent in results saved before them or when switched off. */
  indicators?: IndicatorReport;
}

/** The model's logits on `x`, which must be finite (`what`: on which images, for the error). */
function finiteLogits(model: Model, x: Tensor, what: string): Tensor {
  const logits = model.forward(x);
  checkFiniteLogits(logits, what);
  return logits;
}

/** The model's predicted classes (int64 [N]). */
function predict(model: Model, x: Tensor): Tensor {
  return noGrad(() => scope(() => finiteLogits(model, x, CLEAN).argmax(1)));
}

function correct(model: Model, x: Tensor, y: Tensor, what: string): number {
  return heldMask(model, x, y, what).reduce((a, b) => a + b, 0);
}

/** Per image, 1 where the model classifies (x, y) correctly, else 0. */
function heldMask(model: Model, x: Tensor, y: Tensor, what: string): number[] {
  return noGrad(() => scope(() => finiteLogits(model, x, what).argmax(1).eq(y).toNumbers().map(Number)));
}

/**
 * Correct predictions of a defense on (x, y); for an ensemble defense also by hard vote, and summed
 * over its members (divide by K for the mean), all from one purification and one pass of the members.
 */
function scoreDefense(defense: DefendedClassifier, x: Tensor, y: Tensor, what: string): { correct: number; held: number[]; votes: EnsembleVotes<number> | null } {
  const ensemble = defense.classifier;
  if (!(ensemble instanceof Ensemble)) {
    const held = heldMask(defense, x, y, what);
    return { correct: held.reduce((a, b) => a + b, 0), held, votes: null };
  }
  return noGrad(() => scope(() => {
    const vote = ensemble.vote(defense.purify(x));
    checkFiniteLogits(vote.probabilities, what);
    const held = vote.soft.eq(y).toNumbers().map(Number);
    return {
      correct: held.reduce((a, b) => a + b, 0), held,
      votes: { hardVote: vote.hard.eq(y).sum().item(), memberMean: vote.members.eq(y.unsqueeze(0)).float().sum().item() / ensemble.members.length },
    };
  }));
}

function setStochastic(defense: DefendedClassifier, flag: boolean): boolean {
  let any = false;
  for (const p of defense.preprocessors) {
    if (p instanceof Purifier && p.latentNoise > 0) {
      p.stochastic = flag;
      any = true;
    }
  }
  return any;
}

/**
 * Runs the evaluation (see the module comment) over the data set in batches. Models must be in
 * evaluation mode. Accuracies are fractions of the evaluated samples.
 */
export async function evaluateDefenses(options: DefenseEvaluationOptions): Promise<DefenseEvaluation> {
  const modes = [...(options.modes ?? EVALUATION_MODES)];
  const data = options.limit !== undefined && options.limit < options.dataset.length ? firstN(options.dataset, options.limit) : options.dataset;
  const epsilons = [...options.threat.epsilons];
  const attackOptions = { ...options.attackOptions };
  const eotSamples = options.eotSamples ?? 10;
  const attackLabels = options.attackLabels ?? 'true';
  if (attackLabels !== 'true' && attackLabels !== 'predicted') throw new BastionError(`attackLabels must be 'true' or 'predicted', got '${String(attackLabels)}'`);
  const predictedLabels = attackLabels === 'predicted';
  const names = options.defenses.map((d) => d.name);
  if (new Set(names).size !== names.length) throw new BastionError(`defense names must be unique, got ${names.join(', ')}`);
  const zeros = (): number[] => epsilons.map(() => 0);
  const counts = {
    clean: { source: 0, defenses: Object.fromEntries(names.map((n) => [n, 0])) as Record<string, number> },
    grayBox: { source: zeros(), defenses: Object.fromEntries(names.map((n) => [n, zeros()])) as Record<string, number[]> },
    adaptive: {} as Record<string, Record<string, number[]>>,
    cleanVotes: {} as Record<string, EnsembleVotes<number>>,
    /** Per defense, one entry per epsilon. */
    grayBoxVotes: {} as Record<string, EnsembleVotes<number>[]>,
  };
  const noVotes = (): EnsembleVotes<number> => ({ hardVote: 0, memberMean: 0 });
  for (const d of options.defenses) {
    if (!(d.model.classifier instanceof Ensemble)) continue;
    counts.cleanVotes[d.name] = noVotes();
    counts.grayBoxVotes[d.name] = epsilons.map(noVotes);
  }
  const addVotes = (into: EnsembleVotes<number> | undefined, add: EnsembleVotes<number> | null): void => {
    if (!into || !add) return;
    into.hardVote += add.hardVote;
    into.memberMean += add.memberMean;
  };
  for (const mode of modes) if (mode !== 'gray-box') counts.adaptive[mode] = Object.fromEntries(names.map((n) => [n, zeros()]));
  const seconds: Record<string, number> = Object.fromEntries(modes.map((m) => [m, 0]));
  const notes: string[] = [];
  const randomised = new Map(options.defenses.map((d) => [d.name, setStochastic(d.model, false)]));
  for (const [name, isRandom] of randomised) {
    if (!isRandom && modes.includes('eot')) notes.push(`${name}: deterministic at inference (no latent noise), so EOT equals the white-box attack`);
  }
  const transferAttack = createAttack(options.attack, { ...attackOptions, earlyStop: false, carryOver: false, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  const adaptiveAttack = createAttack(options.attack, { ...attackOptions, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  const eotAttack = createAttack(options.attack, { ...attackOptions, eotSamples, earlyStop: false, carryOver: false, ...(options.seed === undefined ? {} : { seed: options.seed }) });
  const loader = new DataLoader(data, { batchSize: options.batchSize ?? 250 });
  const progress = options.progress === false ? null : new Progress(`${options.attack} eps ${epsilons.join(',')} (${modes.join(', ')})`, data.length, 'img');
  const threat: ThreatModel = { ...options.threat, epsilons };
  const timed = (mode: string, fn: () => void): void => {
    const start = performance.now();
    fn();
    seconds[mode] = (seconds[mode] ?? 0) + (performance.now() - start) / 1000;
  };
  let n = 0;
  let interrupted = false;
  const withIndicators = options.indicators !== false;
  const evidence: DefenseImageEvidence = {};
  const probeFlags: Indicator[] = [];
  let probed = 0;
  /** Per image of the current batch: held (1) or broken (0), per mode, defense and epsilon index. */
  let held: Record<string, Record<string, number[][]>> = {};
  const keepHeld = (mode: string, name: string, i: number, mask: number[]): void => {
    if (!withIndicators) return;
    ((held[mode] ??= {})[name] ??= [])[i] = mask;
  };
  for await (const batch of loader.batches(0)) {
    if (options.signal !== undefined) {
      await new Promise<void>((r) => setImmediate(r)); // let a pending Ctrl-C be delivered
      if (options.signal.aborted) {
        interrupted = true;
        break;
      }
    }
    const { x, y } = batch;
    held = {};
    if (withIndicators && n === 0) {
      const source = probeModel(options.source, x, y, { what: 'the undefended classifier' });
      probeFlags.push(...source.flags);
      probed = source.probedImages;
      for (const d of options.defenses) probeFlags.push(...probeModel(d.model, x, y, { what: `defense ${d.name}` }).flags);
    }
    counts.clean.source += correct(options.source, x, y, CLEAN);
    for (const d of options.defenses) {
      const score = scoreDefense(d.model, x, y, CLEAN);
      counts.clean.defenses[d.name] = (counts.clean.defenses[d.name] ?? 0) + score.correct;
      addVotes(counts.cleanVotes[d.name], score.votes);
    }
    if (modes.includes('gray-box')) {
      timed('gray-box', () => {
        const labels = predictedLabels ? predict(options.source, x) : null;
        const result = transferAttack.run(options.source, x, labels ?? y, threat);
        labels?.dispose();
        try {
          result.perEpsilon.forEach((r, i) => {
            (counts.grayBox.source as number[])[i] = (counts.grayBox.source[i] as number) + (predictedLabels ? correct(options.source, r.adversarial, y, `on its gray-box adversarial examples at eps ${r.epsilon}`) : r.success.logicalNot().sum().item());
            for (const d of options.defenses) {
              const score = scoreDefense(d.model, r.adversarial, y, `of defense ${d.name} on the gray-box adversarial examples at eps ${r.epsilon}`);
              (counts.grayBox.defenses[d.name] as number[])[i] = (counts.grayBox.defenses[d.name]![i] as number) + score.correct;
              keepHeld('gray-box', d.name, i, score.held);
              addVotes(counts.grayBoxVotes[d.name]?.[i], score.votes);
            }
          });
        } finally {
          result.dispose();
        }
      });
    }
    for (const mode of modes) {
      if (mode === 'gray-box') continue;
      for (const d of options.defenses) {
        timed(mode, () => {
          const stochastic = mode === 'eot' && randomised.get(d.name) === true;
          if (stochastic) setStochastic(d.model, true);
          try {
            const target: Model = mode === 'bpda' ? d.model.bpda() : d.model;
            const attack = mode === 'eot' && stochastic ? eotAttack : adaptiveAttack;
            const labels = predictedLabels ? predict(d.model, x) : null;
            const result = attack.run(target, x, labels ?? y, threat);
            labels?.dispose();
            try {
              result.perEpsilon.forEach((r, i) => {
                const mask = mode === 'bpda' || stochastic || predictedLabels ? heldMask(d.model, r.adversarial, y, `of defense ${d.name} on the ${mode} adversarial examples at eps ${r.epsilon}`) : scope(() => r.success.logicalNot().toNumbers().map(Number));
                keepHeld(mode, d.name, i, mask);
                const row = counts.adaptive[mode]![d.name] as number[];
                row[i] = (row[i] as number) + mask.reduce((a, b) => a + b, 0);
              });
            } finally {
              result.dispose();
            }
          } finally {
            if (stochastic) setStochastic(d.model, false);
          }
        });
      }
    }
    for (const d of options.defenses) {
      const white = held['white-box']?.[d.name];
      if (!white) continue;
      for (const mode of ['gray-box', 'bpda'] as const) {
        const other = held[mode]?.[d.name];
        if (!other) continue;
        const rows = ((evidence[d.name] ??= {})[mode] ??= epsilons.map(() => []));
        epsilons.forEach((_, i) => {
          const [w, o] = [white[i] ?? [], other[i] ?? []];
          w.forEach((h, k) => { if (h === 1 && o[k] === 0) (rows[i] as number[]).push(n + k); });
        });
      }
    }
    progress?.tick(x.shape[0] as number);
    n += x.shape[0] as number;
  }
  progress?.end();
  if (n === 0 && interrupted) options.signal?.throwIfAborted();
  const frac = (row: number[]): number[] => row.map((c) => c / n);
  const hasVotes = Object.keys(counts.cleanVotes).length > 0;
  const cleanVotes = Object.fromEntries(Object.entries(counts.cleanVotes).map(([k, v]) => [k, { hardVote: v.hardVote / n, memberMean: v.memberMean / n }]));
  const grayBoxVotes = Object.fromEntries(Object.entries(counts.grayBoxVotes).map(([k, v]) => [k, { hardVote: frac(v.map((e) => e.hardVote)), memberMean: frac(v.map((e) => e.memberMean)) }]));
  const result: DefenseEvaluation = {
    ...(interrupted ? { interrupted: true } : {}),
    attack: options.attack, attackOptions, norm: threat.norm, epsilons, samples: n, modes, attackLabels,
    clean: {
      source: counts.clean.source / n, defenses: Object.fromEntries(Object.entries(counts.clean.defenses).map(([k, v]) => [k, v / n])),
      ...(hasVotes ? { ensembleVotes: cleanVotes } : {}),
    },
    grayBox: modes.includes('gray-box')
      ? {
        source: frac(counts.grayBox.source), defenses: Object.fromEntries(Object.entries(counts.grayBox.defenses).map(([k, v]) => [k, frac(v)])),
        ...(hasVotes ? { ensembleVotes: grayBoxVotes } : {}),
      }
      : null,
    adaptive: Object.fromEntries(Object.entries(counts.adaptive).map(([mode, byDefense]) => [mode, Object.fromEntries(Object.entries(byDefense).map(([k, v]) => [k, frac(v)]))])),
    notes, seconds,
  };
  if (withIndicators) {
    const checks = ['attack-above-clean', 'non-monotone-epsilon', ...(modes.includes('white-box') && modes.includes('gray-box') ? ['transfer-beats-white-box' as const] : []), ...(modes.includes('white-box') && modes.includes('bpda') ? ['bpda-beats-white-box' as const] : [])] as const;
    result.indicators = indicatorReport({ probedImages: probed, flags: probeFlags }, [...checks], checkDefenseResult(result, evidence));
  }
  return result;
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
