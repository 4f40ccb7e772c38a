/**
 * PGD, Projected Gradient Descent (Madry et al. 2018, "Towards Deep Learning Models Resistant to
 * Adversarial Attacks"; paper 000 sec. III.B and Algorithm 1, lines 6-14):
 *
 *     x_0 = x + uniform noise in the eps-ball           (Algorithm 1: "X' = X + small random noise")
 *     x_{t+1} = Proj_{B_eps(x)}(x_t + alpha * sign(grad_x J(theta, x_t, y)))     (L-inf)
 *     x_{t+1} = Proj_{B_eps(x)}(x_t + alpha * g / ||g||_2)                        (L2)
 *
 * clipped to the pixel bounds after each projection, with random restarts keeping the best example
 * per sample (any successful one, else the highest-loss one). Paper 000 gives neither steps nor step
 * size; the defaults are Madry et al.'s: 40 steps (their MNIST attack) of alpha = 2.5 * eps / steps
 * (their rule of thumb: enough to reach the boundary of the ball from any point and move along it),
 * one random restart. With these, our PGD is stronger than paper 000's at every eps >= 0.05
 * (see the reproduction of Table 2 in the report). The loss is the cross-entropy (`loss: 'cw'` gives
 * CW-PGD, `'dlr'` the DLR loss of Croce & Hein 2020).
 */
import { arange, scope, type Tensor } from '../tensor/index.js';
import {
  AttackBase, BestExamples, checkInteger, checkNumber, iterate, objectiveOf, type ActiveSet, type AttackContext, type BaseAttackOptions,
  type LossKind,
} from './base.js';
import type { Norm } from './types.js';

/** Options of {@link PGD}. */
export interface PGDOptions extends BaseAttackOptions {
  /** Gradient steps per restart (default 40). */
  steps?: number;
  /** Absolute step size alpha in pixel units; default 2.5 * eps / steps. */
  stepSize?: number;
  /** Random restarts (default 1); the best example per sample is kept across them. */
  restarts?: number;
  /** Start from a uniformly random point of the ball (default true). */
  randomStart?: boolean;
  /** Attack objective: cross-entropy (default), CW margin, or DLR. */
  loss?: LossKind;
  /** Margin cap kappa of the CW loss (default Infinity). */
  confidence?: number;
}

/** PGD with L-inf or L2 steps, random start and restarts (see the file comment). */
export class PGD extends AttackBase {
  readonly name: string = 'pgd';
  readonly norms: readonly Norm[] = ['linf', 'l2'];
  readonly steps: number;
  readonly stepSize: number | undefined;
  readonly restarts: number;
  readonly randomStart: boolean;
  readonly loss: LossKind;
  readonly confidence: number;

  constructor(options: PGDOptions = {}, name = 'pgd') {
    super(options, name);
    this.steps = checkInteger(options.steps ?? 40, 'steps', name);
    this.stepSize = options.stepSize === undefined ? undefined : checkNumber(options.stepSize, 'stepSize', name);
    this.restarts = checkInteger(options.restarts ?? 1, 'restarts', name);
    this.randomStart = options.randomStart ?? true;
    this.loss = options.loss ?? 'ce';
    if (!['ce', 'cw', 'dlr'].includes(this.loss)) throw new TypeError(`${name}: loss must be ce, cw or dlr, got '${this.loss}'`);
    this.confidence = options.confidence ?? Infinity;
  }

  /** Steps at radius eps. */
  protected stepsFor(_eps: number, _ctx: AttackContext): number {
    return this.steps;
  }

  /** Step size at radius eps (default 2.5 * eps / steps, Madry et al.). */
  protected stepSizeFor(eps: number, ctx: AttackContext): number {
    return this.stepSize ?? (2.5 * eps) / this.stepsFor(eps, ctx);
  }

  /** Extra per-sample state the iteration needs (none for PGD). */
  protected initialState(_ctx: AttackContext, _x: Tensor, _y: Tensor): Record<string, Tensor> {
    return {};
  }

  /** The per-sample objective maximised at each step. */
  protected objective(ctx: AttackContext, logits: Tensor, active: ActiveSet): Tensor {
    return objectiveOf(this.loss, ctx.targeted, this.confidence)(logits, active.get('y'));
  }

  /** The next iterate before projection: a step of size alpha along the steepest-ascent direction. */
  protected step(ctx: AttackContext, active: ActiveSet, gradient: Tensor, alpha: number, _iteration: number): Tensor {
    return scope(() => active.get('x').add(ctx.steepest(gradient).mul_(alpha)));
  }

  protected perturb(ctx: AttackContext, x: Tensor, y: Tensor, eps: number): Tensor {
    const best = new BestExamples(x);
    const n = x.shape[0] as number;
    const alpha = this.stepSizeFor(eps, ctx);
    try {
      for (let r = 0; r < this.restarts; r++) {
        const active = scope(() => {
          const rows = r > 0 && ctx.earlyStop ? best.unsuccessfulRows() : arange(n);
          if (rows.shape[0] === 0) return null;
          const x0 = x.indexSelect(0, rows);
          const y0 = y.indexSelect(0, rows);
          return ctx.activeSet(x0, y0, eps, rows, this.initialState(ctx, x0, y0));
        });
        if (active === null) break;
        try {
          iterate(ctx, active, best, eps, {
            steps: this.stepsFor(eps, ctx),
            objective: (logits, a) => this.objective(ctx, logits, a),
            start: (a) => (this.randomStart ? ctx.randomStart(a.get('x0'), eps) : a.get('x0')),
            step: (a, gradient, t) => this.step(ctx, a, gradient, alpha, t),
          });
        } finally {
          active.dispose();
        }
      }
      return best.adversarial.clone();
    } finally {
      best.dispose();
    }
  }
}
