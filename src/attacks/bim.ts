/**
 * BIM, the Basic Iterative Method or I-FGSM (Kurakin et al. 2017, "Adversarial examples in the
 * physical world"; paper 002 sec. 2):
 *
 *     x_0 = x,   x_{t+1} = Clip_{x,eps}(x_t + alpha * sign(grad_x J(x_t, y)))
 *
 * PGD without random start or restarts. Defaults follow Kurakin et al.: alpha = 1 pixel level
 * (1/255 of the bounds' range) and min(eps + 4, 1.25 * eps) iterations with eps in pixel levels,
 * e.g. 80 steps at eps = 0.3 on [0,1] (at least one step). When only `steps` is given, alpha keeps
 * Kurakin's ratio for large eps, steps * alpha = 1.25 * eps, so that the iterates can reach the
 * boundary of the ball.
 */
import { BastionError } from '../util/errors.js';
import { checkInteger, checkNumber, type AttackContext, type BaseAttackOptions } from './base.js';
import { PGD } from './pgd.js';
import type { Norm } from './types.js';

/** Options of {@link BIM}. */
export interface BIMOptions extends BaseAttackOptions {
  /** Iterations; default Kurakin et al.'s min(eps + 4, 1.25 eps) in pixel levels. */
  steps?: number;
  /** Step size alpha in pixel units; default one pixel level (range / 255), or 1.25 * eps / steps when steps is given. */
  stepSize?: number;
}

/** BIM / I-FGSM (L-inf). */
export class BIM extends PGD {
  override readonly name: string = 'bim';
  override readonly norms: readonly Norm[] = ['linf'];
  readonly #steps: number | undefined;

  constructor(options: BIMOptions = {}, name = 'bim') {
    super({ ...options, steps: options.steps ?? 1, randomStart: false, restarts: 1 }, name);
    this.#steps = options.steps === undefined ? undefined : checkInteger(options.steps, 'steps', name);
    if (options.stepSize !== undefined) checkNumber(options.stepSize, 'stepSize', name);
  }

  protected override stepsFor(eps: number, ctx: AttackContext): number {
    if (this.#steps !== undefined) return this.#steps;
    if (!Number.isFinite(ctx.bounds[1] - ctx.bounds[0])) {
      throw new BastionError(`${this.name}: Kurakin's default schedule counts pixel levels of the bounds, which are unbounded here`, { hint: 'give steps (and stepSize)', exitCode: 2 });
    }
    const levels = (eps / (ctx.bounds[1] - ctx.bounds[0])) * 255;
    return Math.max(1, Math.ceil(Math.min(levels + 4, 1.25 * levels)));
  }

  protected override stepSizeFor(eps: number, ctx: AttackContext): number {
    if (this.stepSize !== undefined) return this.stepSize;
    return this.#steps === undefined ? (ctx.bounds[1] - ctx.bounds[0]) / 255 : (1.25 * eps) / this.#steps;
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
