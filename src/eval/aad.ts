/**
 * The experiments of paper 004 (AAD and A3) as drivers that return JSON-able results:
 *
 * - {@link evaluateTable6}: Table 6 — clean, FGSM, PGD-k and CW-k (k = 10, 20, 40, 100) accuracy at
 *   one budget. PGD and CW use "the same settings as Madry et al." (fixed step, random start, CW =
 *   PGD on the CW margin with kappa 50); with a fixed step size PGD-k is the first k steps of
 *   PGD-100 from the same random start, so one PGD-100 and one CW-100 run per batch give all eight
 *   columns (src/attacks/pgd.ts `recordSteps`), with early stopping per sample.
 * - {@link evaluateA3}: Table 7 — accuracy on I_att (the clean-correct images) under Iter-StepLL
 *   and PGD with and without the A3 attention term, same iterations, step rule and seed, with an
 *   exact McNemar test of each pair on the same images (does A3 break more of them than chance?).
 * - {@link attentionAnalysis}: Table 3 (sec. 3.2) — average IoU of the attention areas (top-k
 *   Grad-CAM cells) of clean and adversarial images, separately for successful and failed attacks
 *   (StepLL, eq. 4, on the clean-correct images), for several k.
 * - {@link formatTable6}: Table 6 rows (ours beside the paper's) from saved results.
 *
 * `bastion eval-aad` runs them and writes the results with provenance (src/io/provenance.ts).
 */
import { noGrad, scope, type Tensor } from '../tensor/index.js';
import { DataLoader, type Dataset } from '../data/index.js';
import type { Classifier } from '../models/index.js';
import { FGSM } from '../attacks/fgsm.js';
import { PGD, type PGDResult } from '../attacks/pgd.js';
import { CWPGD } from '../attacks/cw-pgd.js';
import { IterStepLL, StepLL } from '../attacks/step-ll.js';
import { A3IterStepLL, A3PGD } from '../attacks/a3.js';
import type { Attack } from '../attacks/types.js';
import { gradCam, maskIoU, topCells } from '../explain/gradcam.js';
import { BastionError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { evaluateRobustness, type RobustnessResult } from './robustness.js';
import { comparePaired, type PairedComparison } from './stats.js';
import { paperTable } from './paper.js';

/** Options of {@link evaluateTable6}. */
export interface Table6Options {
  /** L-inf budget of every attack. */
  eps: number;
  /** PGD / CW step size (fixed, pixel units). */
  stepSize: number;
  /** Iteration columns (default 10, 20, 40, 100). */
  iterations?: number[];
  /** CW margin cap kappa (default 50, Madry et al.'s MNIST challenge). */
  confidence?: number;
  batchSize?: number;
  limit?: number;
  /** Seed of the random starts (default 0). */
  seed?: number;
  progress?: boolean;
}

/** Table 6 for one model: accuracies (fractions) by column, and the full robustness results. */
export interface Table6Result {
  eps: number;
  stepSize: number;
  iterations: number[];
  samples: number;
  /** clean, fgsm, pgd10, ..., cw100. */
  columns: Record<string, number>;
  /** Wall seconds per attack family. */
  seconds: Record<string, number>;
  /** evaluateRobustness output of FGSM, PGD-max and CW-max. */
  details: Record<string, RobustnessResult>;
}

/** Runs `attack` over `dataset` and counts correct predictions after each recorded iteration count. */
async function countAtSteps(model: Classifier, dataset: Dataset, attack: PGD, eps: number, options: Table6Options, label: string): Promise<{ correct: number[]; result: RobustnessResult }> {
  const counts = attack.recordSteps ?? [];
  const correct = counts.map(() => 0);
  const result = await evaluateRobustness(model, dataset, {
    attack, threat: { norm: 'linf', epsilons: [eps] }, batchSize: options.batchSize ?? 250, label,
    ...(options.limit !== undefined ? { limit: options.limit } : {}), progress: options.progress ?? true,
    onBatch: ({ y, result: r }) => {
      const steps = (r as PGDResult).atSteps;
      if (steps === undefined) throw new Error(`${label}: the attack did not record its iteration counts`);
      steps.forEach((s, i) => { correct[i] = (correct[i] as number) + scope(() => (s.perEpsilon[0] as { predictions: Tensor }).predictions.eq(y).sum().item()); });
    },
  });
  return { correct, result };
}

/** Paper 004 Table 6 for `model` (in evaluation mode) on `dataset` (see the module comment). */
export async function evaluateTable6(model: Classifier, dataset: Dataset, options: Table6Options): Promise<Table6Result> {
  const iterations = [...(options.iterations ?? [10, 20, 40, 100])].sort((a, b) => a - b);
  const steps = iterations.at(-1) as number;
  const seed = options.seed ?? 0;
  model.eval();
  const common = { batchSize: options.batchSize ?? 250, ...(options.limit !== undefined ? { limit: options.limit } : {}), progress: options.progress ?? true };
  const fgsm = await evaluateRobustness(model, dataset, { attack: new FGSM(), threat: { norm: 'linf', epsilons: [0, options.eps] }, label: 'FGSM', ...common });
  const pgdAttack = new PGD({ steps, stepSize: options.stepSize, randomStart: true, recordSteps: iterations, seed });
  const pgd = await countAtSteps(model, dataset, pgdAttack, options.eps, options, `PGD-${steps}`);
  const cwAttack = new CWPGD({ steps, stepSize: options.stepSize, randomStart: true, recordSteps: iterations, seed, confidence: options.confidence ?? 50 });
  const cw = await countAtSteps(model, dataset, cwAttack, options.eps, options, `CW-${steps}`);
  const samples = fgsm.samples;
  const columns: Record<string, number> = { clean: fgsm.cleanAccuracy, fgsm: (fgsm.perEpsilon[1] as { accuracy: number }).accuracy };
  iterations.forEach((k, i) => { columns[`pgd${k}`] = (pgd.correct[i] as number) / samples; });
  iterations.forEach((k, i) => { columns[`cw${k}`] = (cw.correct[i] as number) / samples; });
  return {
    eps: options.eps, stepSize: options.stepSize, iterations, samples, columns,
    seconds: { fgsm: fgsm.wallSeconds, pgd: pgd.result.wallSeconds, cw: cw.result.wallSeconds },
    details: { fgsm, pgd: pgd.result, cw: cw.result },
  };
}

/** Options of {@link evaluateA3}. */
export interface A3EvaluationOptions {
  /** Budgets to evaluate (L-inf). */
  epsilons: number[];
  /** Iterations of both attacks (paper 004 Table 7: 3). */
  steps?: number;
  /** A3 weight (paper: 10). */
  sigma?: number;
  /** Mean (default) or sum of the attention difference over the cells (src/attacks/a3.ts). */
  reduction?: 'mean' | 'sum';
  /** Divide the adversarial map by its maximum (default true, src/attacks/a3.ts). */
  normalize?: boolean;
  /** Grad-CAM tap point of the A3 term (default: the classifier's camLayer). */
  layer?: string;
  batchSize?: number;
  limit?: number;
  seed?: number;
  progress?: boolean;
}

/** One row of the Table 7 analogue: accuracy on I_att (clean-correct images) per attack at one eps. */
export interface A3Row {
  eps: number;
  /** Accuracy on I_att under Iter-StepLL, Iter-StepLL+A3, PGD, PGD+A3. */
  iterStepLL: number;
  iterStepLLA3: number;
  pgd: number;
  pgdA3: number;
  /**
   * Per base attack, the images of I_att only the A3 variant broke (`onlySecond`), only the plain
   * attack broke (`onlyFirst`), and the exact two-sided McNemar p-value of that split: A3 is shown
   * stronger when onlySecond > onlyFirst with a small p (src/eval/stats.ts).
   */
  paired: { iterStepLL: PairedComparison; pgd: PairedComparison };
}

/** The Table 7 analogue for one model. */
export interface A3EvaluationResult {
  steps: number;
  sigma: number;
  reduction: 'mean' | 'sum';
  normalize: boolean;
  /** The Grad-CAM tap point of the A3 term. */
  layer: string;
  /** Images evaluated and how many of them form I_att (clean-correct). */
  samples: number;
  iatt: number;
  rows: A3Row[];
  details: Record<string, RobustnessResult>;
}

/**
 * Paper 004 Table 7 analogue: accuracy on the clean-correct images under Iter-StepLL and PGD with
 * and without A3 (same steps; Iter-StepLL steps 1.25 eps / steps, PGD 2.5 eps / steps from the same
 * seeded random start), at each budget independently (no carry-over between budgets).
 */
export async function evaluateA3(model: Classifier, dataset: Dataset, options: A3EvaluationOptions): Promise<A3EvaluationResult> {
  const steps = options.steps ?? 3;
  const sigma = options.sigma ?? 10;
  const reduction = options.reduction ?? 'mean';
  const normalize = options.normalize ?? true;
  const seed = options.seed ?? 0;
  const layer = options.layer ?? model.camLayer;
  model.eval();
  const attacks: [keyof Omit<A3Row, 'eps' | 'paired'>, Attack][] = [
    ['iterStepLL', new IterStepLL({ steps, carryOver: false })],
    ['iterStepLLA3', new A3IterStepLL({ steps, sigma, reduction, normalize, layer, carryOver: false })],
    ['pgd', new PGD({ steps, seed, carryOver: false })],
    ['pgdA3', new A3PGD({ steps, sigma, reduction, normalize, layer, seed, carryOver: false })],
  ];
  const details: Record<string, RobustnessResult> = {};
  // broken[key][e][i]: image i was clean-correct and the attack `key` misclassified it at budget e.
  const broken: Record<string, boolean[][]> = {};
  for (const [key, attack] of attacks) {
    const flags: boolean[][] = options.epsilons.map(() => []);
    broken[key] = flags;
    details[key] = await evaluateRobustness(model, dataset, {
      attack, threat: { norm: 'linf', epsilons: options.epsilons }, batchSize: options.batchSize ?? 250, label: attack.name,
      ...(options.limit !== undefined ? { limit: options.limit } : {}), progress: options.progress ?? true,
      onBatch: (batch) => scope(() => {
        const cleanOk = batch.cleanPredictions.eq(batch.y);
        batch.result.perEpsilon.forEach((e, i) => { (flags[i] as boolean[]).push(...e.success.logicalAnd(cleanOk).toNumbers().map((v) => v !== 0)); });
      }),
    });
  }
  const first = details['iterStepLL'] as RobustnessResult;
  const rows = options.epsilons.map((eps, i) => {
    const pair = (plain: string, a3: string): PairedComparison => comparePaired((broken[plain] as boolean[][])[i] as boolean[], (broken[a3] as boolean[][])[i] as boolean[]);
    const row: A3Row = { eps, iterStepLL: 0, iterStepLLA3: 0, pgd: 0, pgdA3: 0, paired: { iterStepLL: pair('iterStepLL', 'iterStepLLA3'), pgd: pair('pgd', 'pgdA3') } };
    for (const [key] of attacks) row[key] = 1 - ((details[key] as RobustnessResult).perEpsilon[i]?.successRateOnCorrect ?? NaN);
    return row;
  });
  return { steps, sigma, reduction, normalize, layer, samples: first.samples, iatt: Math.round(first.cleanAccuracy * first.samples), rows, details };
}

/** Options of {@link attentionAnalysis}. */
export interface AttentionAnalysisOptions {
  /** StepLL budgets (one analysis per budget). */
  epsilons: number[];
  /** Numbers of top cells kept (paper 004 Table 3: 5, 10, 20, 30). */
  cells?: number[];
  /** Which class the adversarial image's map explains: its own prediction (default, Grad-CAM's usual use) or the true label. */
  adversarialClass?: 'predicted' | 'label';
  /** Grad-CAM tap point (default: the classifier's camLayer). */
  layer?: string;
  batchSize?: number;
  limit?: number;
  progress?: boolean;
}

/** Table 3 analogue at one budget. */
export interface AttentionRow {
  eps: number;
  /** Clean-correct images attacked, and the shares where StepLL succeeded / failed. */
  images: number;
  succeeded: number;
  failed: number;
  /** Per cell count: mean IoU of the clean and adversarial top-k areas over I_succeed and I_fail (null when a group is empty). */
  iou: { cells: number; succeed: number | null; fail: number | null }[];
}

/** The attention analysis for one model. */
export interface AttentionAnalysisResult {
  grid: [number, number];
  layer: string;
  adversarialClass: 'predicted' | 'label';
  rows: AttentionRow[];
}

/**
 * Paper 004 sec. 3.2 / Table 3 analogue: for the clean-correct images, StepLL at each budget; the
 * Grad-CAM maps of the clean image (its class) and of the adversarial image; the IoU of their top-k
 * cells (eq. 6), averaged separately over successful and failed attacks.
 */
export async function attentionAnalysis(model: Classifier, dataset: Dataset, options: AttentionAnalysisOptions): Promise<AttentionAnalysisResult> {
  const cells = options.cells ?? [5, 10, 20, 30];
  const layer = options.layer ?? model.camLayer;
  const adversarialClass = options.adversarialClass ?? 'predicted';
  model.eval();
  const total = Math.min(dataset.length, options.limit ?? Infinity);
  const sums = options.epsilons.map(() => ({ images: 0, succeeded: 0, succeed: cells.map(() => 0), fail: cells.map(() => 0) }));
  let grid: [number, number] | null = null;
  const loader = new DataLoader(dataset, { batchSize: options.batchSize ?? 250 });
  const progress = options.progress === false ? null : new Progress('attention analysis', total, 'img');
  const attack = new StepLL({ carryOver: false });
  let seen = 0;
  for await (const batch of loader.batches(0)) {
    if (seen >= total) break;
    const take = Math.min(batch.x.shape[0] as number, total - seen);
    seen += take;
    const result = scope(() => {
      const x0 = take === batch.x.shape[0] ? batch.x : batch.x.narrow(0, 0, take);
      const y0 = (take === batch.y.shape[0] ? batch.y : batch.y.narrow(0, 0, take)).long();
      const correct = noGrad(() => model.forward(x0).argmax(1).eq(y0)).nonzero().squeeze(1);
      return { x: x0.indexSelect(0, correct), y: y0.indexSelect(0, correct) };
    });
    try {
      if ((result.x.shape[0] as number) === 0) continue;
      const clean = scope(() => gradCam(model, result.x, { classes: result.y, layer }).maps);
      grid = [clean.shape[1] as number, clean.shape[2] as number];
      const out = attack.run(model, result.x, result.y, { norm: 'linf', epsilons: options.epsilons });
      try {
        out.perEpsilon.forEach((e, i) => scope(() => {
          const adversarial = gradCam(model, e.adversarial, adversarialClass === 'label' ? { classes: result.y, layer } : { layer }).maps;
          const s = sums[i] as (typeof sums)[number];
          s.images += result.x.shape[0] as number;
          s.succeeded += e.success.sum().item();
          cells.forEach((k, c) => {
            const iou = maskIoU(topCells(clean, k), topCells(adversarial, k));
            s.succeed[c] = (s.succeed[c] as number) + iou.maskedSelect(e.success).sum().item();
            s.fail[c] = (s.fail[c] as number) + iou.maskedSelect(e.success.logicalNot()).sum().item();
          });
        }));
      } finally {
        out.dispose();
        clean.dispose();
      }
    } finally {
      result.x.dispose();
      result.y.dispose();
    }
    progress?.tick(take);
  }
  progress?.end();
  if (grid === null) throw new BastionError('attention analysis: no clean-correct images to analyse', { hint: 'check the model and the data set' });
  return {
    grid, layer, adversarialClass,
    rows: options.epsilons.map((eps, i) => {
      const s = sums[i] as (typeof sums)[number];
      const failed = s.images - s.succeeded;
      return {
        eps, images: s.images, succeeded: s.succeeded, failed,
        iou: cells.map((k, c) => ({ cells: k, succeed: s.succeeded > 0 ? (s.succeed[c] as number) / s.succeeded : null, fail: failed > 0 ? (s.fail[c] as number) / failed : null })),
      };
    }),
  };
}

/** Table 6 column names in the paper's order. */
export const TABLE6_COLUMNS = ['clean', 'fgsm', 'pgd10', 'pgd20', 'pgd40', 'pgd100', 'cw10', 'cw20', 'cw40', 'cw100'] as const;

/** The published Table 6 row (fractions by column) of `defense` (none, madry, madry+aad, alp, alp+aad) in table `tableId`, or null. */
export function paperTable6Row(tableId: string, defense: string): Record<string, number> | null {
  const entries = paperTable(tableId).entries.filter((e) => e.defense === defense);
  if (entries.length === 0) return null;
  const row: Record<string, number> = {};
  for (const e of entries) {
    const key = e.attack === 'none' ? 'clean' : e.attack === 'fgsm' ? 'fgsm' : `${e.attack === 'cw-pgd' ? 'cw' : 'pgd'}${e.iterations ?? ''}`;
    row[key] = e.value;
  }
  return row;
}

/** A Markdown table of Table 6 rows (percent, two decimals), each followed by the paper's row when `tableId` has one. */
export function formatTable6(rows: readonly { label: string; defense: string; columns: Record<string, number> }[], tableId: string | null): string {
  const seen = new Set(rows.flatMap((r) => Object.keys(r.columns)));
  const columns = [...TABLE6_COLUMNS.filter((c) => seen.has(c)), ...[...seen].filter((c) => !(TABLE6_COLUMNS as readonly string[]).includes(c))];
  const head = `| model | ${columns.join(' | ')} |`;
  const rule = `|---|${columns.map(() => '---').join('|')}|`;
  const pct = (v: number | undefined): string => (v === undefined ? 'n/a' : (v * 100).toFixed(2));
  const lines = [head, rule];
  for (const r of rows) {
    lines.push(`| ${r.label} (ours) | ${columns.map((c) => pct(r.columns[c])).join(' | ')} |`);
    const paper = tableId === null ? null : paperTable6Row(tableId, r.defense);
    if (paper !== null) lines.push(`| ${r.label} (paper) | ${columns.map((c) => pct(paper[c])).join(' | ')} |`);
  }
  return lines.join('\n');
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
