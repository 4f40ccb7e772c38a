/**
 * APGD-T (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an ensemble of
 * diverse parameter-free attacks", sec. 3.3 and 4): Auto-PGD (Algorithm 1, reused from apgd.ts)
 * on the targeted DLR loss (eq. 7)
 *
 *     DLR-T(x, y, t) = -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)
 *
 * run once per target class t, the classes with the k largest clean logits other than y (k = 9 by
 * default, at most K - 1), each run only on the samples not yet broken, keeping the first success
 * per sample. Untargeted in the threat-model sense: success means misclassified; the targets are
 * only the means (a different loss landscape per run). Needs at least 4 classes (pi_4). With
 * earlyStop off every target runs on every sample, and the best example is kept by BestExamples'
 * rule (a success, then the highest loss) instead of the first success.
 */
import { noGrad, scope, type Tensor } from '../tensor/index.js';
import { BestExamples, checkInteger, labelLogit, type ActiveSet, type AttackContext } from './base.js';
import { APGD, type APGDOptions } from './apgd.js';
import { BastionError } from '../util/errors.js';

/** Options of {@link APGDT}. */
export interface APGDTOptions extends Omit<APGDOptions, 'loss'> {
  /** Number of target classes k, taken by clean logit after the true class (default 9). */
  targets?: number;
}

/**
 * The targeted DLR loss of Croce & Hein 2020, eq. 7, to maximise: -(z_y - z_t) / (z_pi1 -
 * (z_pi3 + z_pi4)/2), with y the true and t the target class, pi the logits sorted descending.
 */
export function dlrTargetedLoss(logits: Tensor, labels: Tensor, targets: Tensor): Tensor {
  const classes = logits.shape[1] as number;
  if (classes < 4) throw new BastionError(`the targeted DLR loss needs at least 4 classes, the model has ${classes}`, { hint: 'use apgd or apgd-dlr', exitCode: 2 });
  return scope(() => {
    const sorted = logits.topk(4, 1).values;
    const denominator = sorted.select(1, 0).sub(sorted.select(1, 2).add(sorted.select(1, 3)).mul(0.5));
    return labelLogit(logits, targets).sub(labelLogit(logits, labels)).div(denominator.add(1e-12));
  });
}

/**
 * The k classes with the largest logits other than the true class, per sample: int64 [n,k], most
 * likely first (the target classes of APGD-T and FAB-T, Croce & Hein 2020).
 */
export function topOtherClasses(logits: Tensor, labels: Tensor, k: number): Tensor {
  return scope(() => logits.scatter(1, labels.unsqueeze(1), -Infinity).topk(k, 1).indices);
}

/** APGD-T: APGD on the targeted DLR loss over the top-k target classes (see the file comment). */
export class APGDT extends APGD {
  override readonly targetable: boolean = false;
  readonly targets: number;

  constructor(options: APGDTOptions = {}) {
    super({ ...options, loss: 'dlr' }, 'apgd-t');
    this.targets = checkInteger(options.targets ?? 9, 'targets', 'apgd-t');
  }

  protected override perturb(ctx: AttackContext, x: Tensor, y: Tensor, eps: number): Tensor {
    const classes = scope(() => {
      ctx.forwardEvaluations += ctx.eotSamples;
      const logits = noGrad(() => {
        let sum = ctx.model.forward(x);
        for (let i = 1; i < ctx.eotSamples; i++) sum = sum.add(ctx.model.forward(x));
        return sum;
      });
      const count = logits.shape[1] as number;
      if (count < 4) throw new BastionError(`apgd-t needs at least 4 classes (targeted DLR loss, eq. 7), the model has ${count}`, { hint: 'use apgd or apgd-dlr', exitCode: 2 });
      return topOtherClasses(logits, y, Math.min(this.targets, count - 1)).keep();
    });
    const best = new BestExamples(x);
    try {
      const objective = (logits: Tensor, a: ActiveSet): Tensor => dlrTargetedLoss(logits, a.get('y'), a.get('target'));
      for (let k = 0; k < (classes.shape[1] as number); k++) {
        const target = scope(() => classes.select(1, k).contiguous()).keep();
        try {
          this.restartsInto(ctx, x, y, eps, best, { objective, extra: { target }, unbrokenOnly: true });
        } finally {
          target.dispose();
        }
        if (ctx.earlyStop && scope(() => best.success.all())) break;
      }
      return best.adversarial.clone();
    } finally {
      best.dispose();
      classes.dispose();
    }
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
