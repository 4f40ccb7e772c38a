/**
 * FGSM, the Fast Gradient Sign Method (Goodfellow et al. 2015), as paper 000 (sec. III.A and
 * Algorithm 1, lines 2-5) and paper 002 (sec. 2) write it:
 *
 *     x_adv = x + eps * sign(grad_x J(theta, x, y))
 *
 * followed by clipping to the pixel bounds (paper 002: "clips the values of the pixels"; paper 000
 * states its pixel range as [0,1]). Under the L2 norm it is the Fast Gradient Method,
 * x + eps * g / ||g||_2. Targeted: a step down the cross-entropy of the target class.
 *
 * The gradient does not depend on eps, so a sweep over any number of epsilons costs exactly one
 * gradient evaluation (then one forward pass per epsilon to judge success). Note on paper 000
 * Table 1: with clipping to [0,1], every eps >= 1 yields the same images (each pixel goes to 0 or
 * 1 by its gradient sign), so eps 1.0 and 1.5 give the same accuracy; the paper's two slightly
 * different values (.0739, .0721) suggest its images were not clipped at those budgets.
 */
import { scope, type Tensor } from '../tensor/index.js';
import { AttackBase, CLEAN, checkFiniteLogits, objectiveOf, type AttackContext, type BaseAttackOptions } from './base.js';
import type { Norm } from './types.js';

/** Options of {@link FGSM}: only the common ones (EOT, carry-over, seed). */
export type FGSMOptions = BaseAttackOptions;

/** FGSM / FGM: one step of size eps along the sign (L-inf) or the direction (L2) of the loss gradient. */
export class FGSM extends AttackBase<Tensor> {
  readonly name: string = 'fgsm';
  readonly norms: readonly Norm[] = ['linf', 'l2'];

  constructor(options: FGSMOptions = {}) {
    super(options, 'fgsm');
  }

  /** The unit step direction for samples x with labels y (steepest ascent of the attack objective), and the logits at x. */
  protected direction(ctx: AttackContext, x: Tensor, y: Tensor): { direction: Tensor; logits: Tensor } {
    const objective = objectiveOf('ce', ctx.targeted);
    return scope(() => {
      const out = ctx.lossGradient(x, (logits) => objective(logits, y));
      return { direction: ctx.steepest(out.grad), logits: out.logits };
    });
  }

  /**
   * With carry-over, the gradient pass at x doubles as the clean pass (its logits are the clean
   * logits), so a sweep costs one forward-backward plus forward passes on the still-unbroken
   * samples only. Not with EOT, whose logits are a mean over draws rather than one prediction.
   */
  protected override cleanPass(ctx: AttackContext, x: Tensor, y: Tensor, attacking: boolean): { predictions: Tensor; state?: Tensor } {
    if (!attacking || ctx.eotSamples > 1) return super.cleanPass(ctx, x, y, attacking);
    return scope(() => {
      const { direction, logits } = this.direction(ctx, x, y);
      checkFiniteLogits(logits, CLEAN);
      return { predictions: logits.argmax(1), state: direction };
    });
  }

  /** The single gradient of the whole sweep, stored batch-sized. */
  protected override prepare(ctx: AttackContext, x: Tensor, y: Tensor, rows: Tensor): Tensor {
    return scope(() => ctx.toBatch(rows, this.direction(ctx, x, y).direction));
  }

  protected perturb(ctx: AttackContext, x: Tensor, _y: Tensor, eps: number, rows: Tensor, direction: Tensor): Tensor {
    return scope(() => {
      const d = rows.shape[0] === ctx.batchSize ? direction : direction.indexSelect(0, rows);
      return ctx.project(x.add(d.mul(eps)), x, eps);
    });
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
