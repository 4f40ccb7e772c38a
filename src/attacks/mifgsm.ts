/**
 * MI-FGSM, the Momentum Iterative Fast Gradient Sign Method (Dong et al. 2018, "Boosting
 * Adversarial Attacks with Momentum", Algorithm 1):
 *
 *     g_{t+1} = mu * g_t + grad_x J(x_t, y) / ||grad_x J(x_t, y)||_1
 *     x_{t+1} = Clip_{x,eps}(x_t + alpha * sign(g_{t+1}))          (L2: alpha * g / ||g||_2)
 *
 * from x_0 = x with g_0 = 0, alpha = eps / T and, as in the paper, T = 10 iterations and decay
 * mu = 1.0. The L1 normalisation is per sample.
 */
import { scope, zerosLike, type Tensor } from '../tensor/index.js';
import { checkNumber, perSampleNorm, type ActiveSet, type AttackContext, type BaseAttackOptions } from './base.js';
import { PGD } from './pgd.js';

/** Options of {@link MIFGSM}. */
export interface MIFGSMOptions extends BaseAttackOptions {
  /** Iterations T (default 10). */
  steps?: number;
  /** Step size alpha in pixel units; default eps / steps. */
  stepSize?: number;
  /** Momentum decay mu (default 1.0). */
  decay?: number;
}

/** MI-FGSM (L-inf, and the L2 variant). */
export class MIFGSM extends PGD {
  override readonly name: string = 'mifgsm';
  readonly decay: number;

  constructor(options: MIFGSMOptions = {}) {
    super({ ...options, steps: options.steps ?? 10, randomStart: false, restarts: 1 }, 'mifgsm');
    this.decay = checkNumber(options.decay ?? 1.0, 'decay', 'mifgsm');
  }

  protected override stepSizeFor(eps: number, ctx: AttackContext): number {
    return this.stepSize ?? eps / this.stepsFor(eps, ctx);
  }

  protected override initialState(_ctx: AttackContext, x: Tensor): Record<string, Tensor> {
    return { momentum: zerosLike(x) };
  }

  protected override step(ctx: AttackContext, active: ActiveSet, gradient: Tensor, alpha: number): Tensor {
    return scope(() => {
      const l1 = perSampleNorm(gradient, 1).add(1e-12).view(-1, 1, 1, 1);
      const momentum = active.get('momentum').mul(this.decay).add_(gradient.div(l1));
      active.set('momentum', momentum);
      return active.get('x').add(ctx.steepest(momentum).mul_(alpha));
    });
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
