/**
 * The least-likely-class attacks (Kurakin et al. 2017, "Adversarial Machine Learning at Scale";
 * paper 004 eq. 4):
 *
 *     StepLL:       x_adv = x - eps * sign(grad_x L(f(x), y_LL))
 *     Iter-StepLL:  x_{t+1} = Clip_{x,eps}(x_t - alpha * sign(grad_x L(f(x_t), y_LL)))
 *
 * where y_LL is the class the model finds least likely on the clean image (paper 004: "the label
 * with the lowest confidence"), fixed for the whole attack. The step aims at y_LL, but success is
 * misclassification (untargeted): paper 004 reports accuracy under these attacks. They choose their
 * own target, so they reject targeted threat models. Iter-StepLL uses BIM's step schedule.
 */
import { noGrad, scope, type Tensor } from '../tensor/index.js';
import { crossEntropyPerSample, type ActiveSet, type AttackContext } from './base.js';
import { FGSM, type FGSMOptions } from './fgsm.js';
import { BIM, type BIMOptions } from './bim.js';

/** The least likely class of each sample under the model's clean prediction (int64 [n]). */
export function leastLikelyClass(ctx: AttackContext, x: Tensor): Tensor {
  ctx.forwardEvaluations++;
  return noGrad(() => scope(() => ctx.model.forward(x).argmin(1)));
}

/** StepLL (paper 004 eq. 4): one step of size eps down the cross-entropy of the least likely class. */
export class StepLL extends FGSM {
  override readonly name: string = 'step-ll';
  override readonly targetable = false;

  constructor(options: FGSMOptions = {}) {
    super(options);
  }

  protected override direction(ctx: AttackContext, x: Tensor, _y: Tensor): { direction: Tensor; logits: Tensor } {
    return scope(() => {
      const target = leastLikelyClass(ctx, x);
      const out = ctx.lossGradient(x, (logits) => crossEntropyPerSample(logits, target));
      return { direction: ctx.steepest(out.grad).neg_(), logits: out.logits };
    });
  }
}

/** Iter-StepLL: BIM's iteration down the cross-entropy of the (clean) least likely class. */
export class IterStepLL extends BIM {
  override readonly name: string = 'iter-step-ll';
  override readonly targetable = false;

  constructor(options: BIMOptions = {}) {
    super(options);
  }

  protected override initialState(ctx: AttackContext, x: Tensor): Record<string, Tensor> {
    return { target: leastLikelyClass(ctx, x) };
  }

  protected override objective(_ctx: AttackContext, logits: Tensor, active: ActiveSet): Tensor {
    return scope(() => crossEntropyPerSample(logits, active.get('target')).neg());
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
