/**
 * Indicators of attack failure (Pintor et al., "Indicators of Attack Failure: Debugging and
 * Improving Optimization of Adversarial Examples", NeurIPS 2022; the sanity checks of AutoAttack):
 * signs that a robustness number may overstate the model's robustness because the attack, not the
 * model, failed. Computed on every evaluation and shown as flags.
 *
 * Two kinds of checks:
 *
 * - a probe of the model on a batch of the evaluated images ({@link probeModel}): two identical
 *   no-grad forwards that disagree (a randomized model: average gradients over noise, EOT); scores
 *   that are probabilities rather than logits (saturated softmax, vanishing gradients); and input
 *   gradients of the loss that are zero or not finite (gradient masking, a non-differentiable step:
 *   use BPDA);
 * - checks over results: accuracy under attack above clean accuracy (label leaking or a broken
 *   attack), accuracy that rises with epsilon (a larger budget contains the smaller one), and a
 *   weaker threat model (a transfer/gray-box attack, BPDA, a black-box attack) breaking images the
 *   white-box attack did not.
 *
 * The probe runs without touching the random generator's state (it is saved and restored), so the
 * evaluation's numbers are the same with or without it.
 *
 * Not implemented: "loss not converged at the last iteration" (the attacks do not expose a
 * per-iteration loss trace).
 */
import { getRngState, gradOrNull, noGrad, scope, setRngState, type Tensor } from '../tensor/index.js';
import { crossEntropyPerSample, labelLogit, maxOtherLogit } from '../attacks/base.js';
import type { Model } from '../attacks/types.js';

/** What an indicator says about the number: 'failure' (the attack very likely failed), 'warning' (conditions under which attacks often fail). */
export type IndicatorSeverity = 'warning' | 'failure';

/** The indicators Bastion computes. */
export type IndicatorId =
  | 'randomized-model'
  | 'probability-outputs'
  | 'zero-gradients'
  | 'nonfinite-gradients'
  | 'attack-above-clean'
  | 'non-monotone-epsilon'
  | 'transfer-beats-white-box'
  | 'bpda-beats-white-box'
  | 'black-box-beats-white-box';

/** One raised indicator. */
export interface Indicator {
  id: IndicatorId;
  severity: IndicatorSeverity;
  /** What was seen, with the numbers. */
  message: string;
  /** Indices (in evaluation order) of the images concerned, at most {@link MAX_LISTED_IMAGES}; empty where only counts are known. */
  images: number[];
  /** How many images are concerned in all (may exceed `images.length`); null where only accuracies are compared. */
  imageCount: number | null;
  /** What to run instead. */
  advice: string;
}

/** The indicators of one evaluation. */
export interface IndicatorReport {
  /** Images the model probe ran on (0: no probe). */
  probedImages: number;
  /** The indicator ids that were checked (a flag absent from `flags` but listed here was checked and stayed quiet). */
  checked: IndicatorId[];
  flags: Indicator[];
}

/** At most this many image indices are listed per flag. */
export const MAX_LISTED_IMAGES = 20;

/** Images the probe looks at by default. */
export const PROBE_IMAGES = 32;

const PROBE_CHECKS: readonly IndicatorId[] = ['randomized-model', 'probability-outputs', 'zero-gradients', 'nonfinite-gradients'];

/** Indices where `mask` is true, shifted by `offset`. */
function indicesOf(mask: readonly (number | boolean)[], offset = 0): number[] {
  const out: number[] = [];
  mask.forEach((v, i) => { if (v) out.push(i + offset); });
  return out;
}

/** A flag listing at most {@link MAX_LISTED_IMAGES} of `images`. */
function flag(id: IndicatorId, severity: IndicatorSeverity, message: string, images: readonly number[] | null, advice: string): Indicator {
  return { id, severity, message, images: images === null ? [] : images.slice(0, MAX_LISTED_IMAGES), imageCount: images === null ? null : images.length, advice };
}

/** Options of {@link probeModel}. */
export interface ProbeOptions {
  /** Index of the first probed image in the evaluation (added to the reported indices; default 0). */
  offset?: number;
  /** Images probed, from the start of the batch (default {@link PROBE_IMAGES}). */
  maxImages?: number;
  /** Names the model in messages (default "the model"). */
  what?: string;
}

/**
 * Probes `model` on (up to `maxImages` of) the images `x` with true labels `y`: randomness (two
 * identical no-grad forwards), probability outputs (rows in [0,1] summing to 1), and the input
 * gradient of the loss (cross-entropy plus the logit margin, so that a confident, saturated
 * cross-entropy alone does not read as masking) per image: all zero, or not finite. The random
 * generator's state is restored afterwards.
 */
export function probeModel(model: Model, x: Tensor, y: Tensor, options: ProbeOptions = {}): { probedImages: number; flags: Indicator[] } {
  const offset = options.offset ?? 0;
  const what = options.what ?? 'the model';
  const n = Math.min(x.shape[0] as number, options.maxImages ?? PROBE_IMAGES);
  if (n === 0) return { probedImages: 0, flags: [] };
  const rng = getRngState();
  try {
    return scope(() => {
      const xs = x.narrow(0, 0, n).detach();
      const ys = y.narrow(0, 0, n).long();
      const flags: Indicator[] = [];
      const [a, b] = noGrad(() => [model.forward(xs), model.forward(xs)]) as [Tensor, Tensor];
      const scale = a.abs().amax(1).add(1);
      const differs = a.sub(b).abs().amax(1).gt(scale.mul(1e-4));
      const random = indicesOf(differs.toNumbers(), offset);
      if (random.length > 0) {
        flags.push(flag('randomized-model', 'warning', `${what} is randomized: two identical forward passes gave different logits on ${random.length} of ${n} probed images`, random,
          'attack the expectation over the randomness: --eot K (EOT), or for AutoAttack --version rand; report accuracy over several stochastic passes'));
      }
      const finite = a.isfinite().all();
      if (finite && a.ge(-1e-6).all() && a.le(1 + 1e-6).all() && a.sum(1).sub(1).abs().amax().item() < 1e-3) {
        flags.push(flag('probability-outputs', 'warning', `${what} outputs probabilities (every row in [0,1] summing to 1), not logits: gradients of a saturated softmax vanish and attacks understate its weakness`,
          indicesOf(Array.from({ length: n }, () => 1), offset),
          'attack the logits: export the model without its final softmax, or wrap it to return log-probabilities (imported models do this with --output-kind probabilities)'));
      }
      const input = xs.requiresGrad_();
      const logits = model.forward(input);
      const loss = crossEntropyPerSample(logits, ys).add(maxOtherLogit(logits, ys).sub(labelLogit(logits, ys))).sum();
      const [g] = loss.requiresGrad ? gradOrNull(loss, [input]) : [null];
      const zero = g === null || g === undefined ? Array.from({ length: n }, () => 1) : g.abs().flatten(1).amax(1).eq(0).toNumbers();
      const nonFinite = g === null || g === undefined ? Array.from({ length: n }, () => 0) : g.isfinite().logicalNot().flatten(1).sum(1).gt(0).toNumbers();
      const zeros = indicesOf(zero.map((z, i) => z && !nonFinite[i]), offset);
      const bad = indicesOf(nonFinite, offset);
      if (zeros.length > 0) {
        flags.push(flag('zero-gradients', zeros.length * 2 >= n ? 'failure' : 'warning',
          `the input gradient of the loss through ${what} is exactly zero on ${zeros.length} of ${n} probed images (${((zeros.length / n) * 100).toFixed(0)}%): gradient-based attacks cannot move them`, zeros,
          'a non-differentiable step (quantization, rounding, thresholding) masks the gradient: attack with BPDA (bastion eval --modes bpda), a black-box attack (--attack square), or a transfer attack'));
      }
      if (bad.length > 0) {
        flags.push(flag('nonfinite-gradients', 'failure', `the input gradient of the loss through ${what} holds NaN or infinite values on ${bad.length} of ${n} probed images`, bad,
          'find the operation that overflows (log of 0, division by 0) and stabilise it, or attack with BPDA or a black-box attack (--attack square)'));
      }
      return { probedImages: n, flags };
    });
  } finally {
    setRngState(rng);
    rng.dispose();
  }
}

/** Per-image evidence from an evaluation, gathered batch by batch (see {@link ImageEvidence.add}). */
export class ImageEvidence {
  /** Images misclassified clean but classified correctly under attack, per epsilon index. */
  readonly fixed: number[][];
  /** Images broken at a smaller epsilon but not at this one, per epsilon index. */
  readonly unbroken: number[][];
  readonly #epsilons: readonly number[];

  /** Evidence over the epsilons of a threat model. */
  constructor(epsilons: readonly number[]) {
    this.#epsilons = epsilons;
    this.fixed = epsilons.map(() => []);
    this.unbroken = epsilons.map(() => []);
  }

  /**
   * Adds a batch: `cleanCorrect` (clean prediction equals the true label), and per epsilon (threat
   * model order) whether the adversarial example is classified correctly and whether the attack
   * succeeded; `offset` is the index of the batch's first image.
   */
  add(offset: number, cleanCorrect: readonly (number | boolean)[], perEpsilon: readonly { correct: readonly (number | boolean)[]; success: readonly (number | boolean)[] }[]): void {
    perEpsilon.forEach((e, i) => {
      (this.fixed[i] as number[]).push(...indicesOf(e.correct.map((c, k) => c && !cleanCorrect[k]), offset));
      const smaller = perEpsilon.filter((_, j) => (this.#epsilons[j] as number) < (this.#epsilons[i] as number));
      if (smaller.length === 0) return;
      (this.unbroken[i] as number[]).push(...indicesOf(e.success.map((s, k) => !s && smaller.some((o) => o.success[k])), offset));
    });
  }
}

/** The subset of a robustness result the result checks read. */
export interface RobustnessLike {
  samples: number;
  cleanAccuracy: number;
  perEpsilon: readonly { epsilon: number; accuracy: number }[];
}

const pct = (v: number): string => `${(v * 100).toFixed(2)}%`;

/**
 * Checks over a robustness result: accuracy under attack above clean accuracy, and accuracy that
 * rises with epsilon; `evidence` (when gathered) names the images.
 */
export function checkRobustness(result: RobustnessLike, evidence: ImageEvidence | null = null, what = 'the model'): Indicator[] {
  const flags: Indicator[] = [];
  const tol = 0.5 / Math.max(result.samples, 1);
  result.perEpsilon.forEach((e, i) => {
    if (e.accuracy > result.cleanAccuracy + tol) {
      flags.push(flag('attack-above-clean', 'failure', `${what}: accuracy under attack at eps ${e.epsilon} (${pct(e.accuracy)}) is above clean accuracy (${pct(result.cleanAccuracy)})${evidence ? `; ${evidence.fixed[i]?.length ?? 0} images misclassified clean are classified correctly under attack` : ''}`,
        evidence ? (evidence.fixed[i] as number[]) : null,
        'the perturbation carries the label (label leaking) or the attack pushes the wrong way: attack with the predicted labels (bastion eval --attack-labels predicted), check the loss sign, run more steps'));
    }
  });
  const order = result.perEpsilon.map((e, i) => i).sort((a, b) => (result.perEpsilon[a] as { epsilon: number }).epsilon - (result.perEpsilon[b] as { epsilon: number }).epsilon);
  let best = Infinity;
  let bestEps = 0;
  for (const i of order) {
    const e = result.perEpsilon[i] as { epsilon: number; accuracy: number };
    const unbroken = evidence?.unbroken[i] ?? [];
    if (e.accuracy > best + tol || unbroken.length > 0) {
      flags.push(flag('non-monotone-epsilon', 'failure', `${what}: at eps ${e.epsilon} ${e.accuracy > best + tol ? `accuracy ${pct(e.accuracy)} is above the ${pct(best)} at eps ${bestEps}` : 'accuracy did not rise'}${unbroken.length > 0 ? `; ${unbroken.length} images broken at a smaller epsilon survive this one` : ''}: a larger budget contains the smaller one`,
        evidence ? unbroken : null,
        'the attack did not converge: run more steps (--steps), random restarts (--restarts), keep the examples of smaller budgets (drop --independent-eps), or use APGD (--attack apgd)'));
    }
    if (e.accuracy < best) [best, bestEps] = [e.accuracy, e.epsilon];
  }
  return flags;
}

/** A defense evaluation's accuracies, as {@link checkDefenseResult} reads them (a subset of DefenseEvaluation). */
export interface DefenseResultLike {
  epsilons: readonly number[];
  samples: number;
  clean: { defenses: Record<string, number> };
  grayBox: { defenses: Record<string, readonly number[]> } | null;
  adaptive: Partial<Record<string, Record<string, readonly number[]>>>;
}

/** Per-image evidence of a defense evaluation: per defense and epsilon index, images the white-box attack did not break but another mode did. */
export type DefenseImageEvidence = Record<string, Partial<Record<'gray-box' | 'bpda', number[][]>>>;

/**
 * Checks over a defense evaluation, per defense and epsilon: a transfer (gray-box) or BPDA attack
 * breaking more images than the white-box attack (its accuracy below white-box accuracy: the
 * white-box gradient is masked), accuracy under attack above clean accuracy, and accuracy rising
 * with epsilon.
 */
export function checkDefenseResult(result: DefenseResultLike, evidence: DefenseImageEvidence = {}): Indicator[] {
  const flags: Indicator[] = [];
  const tol = 0.5 / Math.max(result.samples, 1);
  const white = result.adaptive['white-box'];
  for (const name of Object.keys(result.clean.defenses)) {
    const whiteRow = white?.[name];
    const others: [('gray-box' | 'bpda'), readonly number[] | undefined][] = [['gray-box', result.grayBox?.defenses[name]], ['bpda', result.adaptive['bpda']?.[name]]];
    if (whiteRow) {
      for (const [mode, row] of others) {
        if (!row) continue;
        result.epsilons.forEach((eps, i) => {
          const [w, o] = [whiteRow[i] as number, row[i] as number];
          const images = evidence[name]?.[mode]?.[i] ?? null;
          if (!(o < w - tol) && !(images !== null && images.length > 0 && o < w + tol)) return;
          const transfer = mode === 'gray-box';
          flags.push(flag(transfer ? 'transfer-beats-white-box' : 'bpda-beats-white-box', 'failure',
            `${name} at eps ${eps}: the ${transfer ? 'gray-box (transfer) attack, crafted without the defense,' : 'BPDA attack'} leaves ${pct(o)} accuracy, below the white-box attack's ${pct(w)}${images ? `; it breaks ${images.length} images the white-box attack did not` : ''}: the white-box gradient through the defense is masked`,
            images,
            transfer ? 'do not trust the white-box number: attack with BPDA (bastion eval --modes bpda), more steps, or report the lowest accuracy over all threat models' : 'report the BPDA number (the lowest accuracy over all threat models); the white-box attack sees a masked gradient'));
        });
      }
    }
    const rows: [string, readonly number[] | undefined][] = [['gray-box', result.grayBox?.defenses[name]], ...Object.entries(result.adaptive).map(([m, byDefense]) => [m, byDefense?.[name]] as [string, readonly number[] | undefined])];
    for (const [mode, row] of rows) {
      if (!row) continue;
      flags.push(...checkRobustness({ samples: result.samples, cleanAccuracy: result.clean.defenses[name] as number, perEpsilon: result.epsilons.map((epsilon, i) => ({ epsilon, accuracy: row[i] as number })) }, null, `${name} (${mode})`));
    }
  }
  return flags;
}

/**
 * Compares a white-box and a black-box (e.g. Square) or transfer evaluation of the same model on
 * the same images: at each common epsilon where the other attack leaves lower accuracy, the
 * white-box attack failed on images it should have broken (by counts).
 */
export function compareAttacks(whiteBox: RobustnessLike & { attack: string }, other: RobustnessLike & { attack: string }): Indicator[] {
  const flags: Indicator[] = [];
  const tol = 0.5 / Math.max(Math.min(whiteBox.samples, other.samples), 1);
  for (const e of other.perEpsilon) {
    const w = whiteBox.perEpsilon.find((x) => Math.abs(x.epsilon - e.epsilon) < 1e-12);
    if (!w || !(e.accuracy < w.accuracy - tol)) continue;
    flags.push(flag('black-box-beats-white-box', 'failure',
      `at eps ${e.epsilon} ${other.attack} leaves ${pct(e.accuracy)} accuracy, below white-box ${whiteBox.attack}'s ${pct(w.accuracy)} (about ${Math.round((w.accuracy - e.accuracy) * whiteBox.samples)} more images broken): the white-box attack's gradients are misleading`,
      null, 'report the lower number; the gradient is masked or obfuscated: try BPDA, EOT (--eot K), the DLR loss (--attack apgd-dlr), or more steps and restarts'));
  }
  return flags;
}

/** Assembles a report from a probe and result checks. */
export function indicatorReport(probe: { probedImages: number; flags: Indicator[] } | null, resultChecks: readonly IndicatorId[], flags: readonly Indicator[]): IndicatorReport {
  return {
    probedImages: probe?.probedImages ?? 0,
    checked: [...(probe && probe.probedImages > 0 ? PROBE_CHECKS : []), ...resultChecks],
    flags: [...(probe?.flags ?? []), ...flags],
  };
}

/** One printable line per flag: "flag: [severity] id: message (images ...) -> advice". */
export function formatIndicators(report: IndicatorReport | undefined): string[] {
  if (!report) return [];
  if (report.flags.length === 0) return [`indicators of attack failure: none raised (${report.checked.length} checked${report.probedImages > 0 ? `, probe on ${report.probedImages} images` : ''})`];
  return report.flags.map((f) => `flag: [${f.severity}] ${f.id}: ${f.message}${f.images.length > 0 ? ` (images ${f.images.join(', ')}${f.imageCount !== null && f.imageCount > f.images.length ? `, ... ${f.imageCount} in all` : ''})` : ''} -> ${f.advice}`);
}
