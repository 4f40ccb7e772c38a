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
 * (their rule of thumb: enough to cross the ball from any point and still move along its boundary),
 * one random restart, early stopping per sample. Under paper 000's own protocol (Algorithm 1 has no
 * clipping to [0,1]: `bounds` unbounded) these defaults give lower MNIST accuracy than the paper's
 * Table 2 at every eps >= 0.1 on the full test set (`bastion reproduce paper000-tables1-2`). On
 * valid images, restarts and iterations buy a few points: at eps 0.1 (simple CNN, first 1,000 MNIST
 * test images) PGD-40 leaves 40.9% accuracy, 5 restarts of 100 steps 37.8%, and APGD-CE with 100
 * steps (apgd.ts) 33.2% (that experiment's supplement table); use APGD for the strongest single attack.
 * The loss is the cross-entropy (`loss: 'cw'` gives CW-PGD, `'dlr'` the DLR loss of Croce & Hein 2020).
 *
 * `recordSteps` also reports the examples after fewer iterations of the same run: with a fixed
 * step size, PGD-k from the same random start is exactly the first k steps of PGD-K (K >= k), so
 * one PGD-100 run gives paper 004's PGD10/20/40/100 columns (`atSteps` of the result).
 */
import { arange, noGrad, scope, type Tensor } from '../tensor/index.js';
import {
  AttackBase, BestExamples, checkInteger, checkNumber, iterate, objectiveOf, perSampleNorm, type ActiveSet, type AttackContext,
  type BaseAttackOptions, type LossKind,
} from './base.js';
import type { AttackResult, EpsilonResult, Model, Norm, ThreatModel } from './types.js';
import { BastionError } from '../util/errors.js';

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
  /**
   * Also report the examples after each of these iteration counts (each <= steps) in the
   * result's `atSteps` (see the file comment; needs restarts = 1). Iteration counts are judged as
   * the run judges them: a sample counts as broken after k steps if any of its first k + 1
   * iterates (random start included) is misclassified.
   */
  recordSteps?: number[];
}

/** The examples of one run after fewer iterations (see {@link PGDOptions.recordSteps}). */
export interface StepResults {
  steps: number;
  /** As `AttackResult.perEpsilon`, for the first `steps` iterations; freed by the result's dispose(). */
  perEpsilon: EpsilonResult[];
}

/** A PGD result; with `recordSteps`, also the results after those iteration counts. */
export type PGDResult = AttackResult & { atSteps?: StepResults[] };

/** BestExamples that snapshots the best examples after given iteration counts (one update per iteration). */
class RecordingBest extends BestExamples {
  readonly snapshots = new Map<number, Tensor>();
  #iteration = 0;

  constructor(x0: Tensor, readonly steps: readonly number[]) {
    super(x0);
  }

  override update(rows: Tensor, x: Tensor, loss: Tensor, success: Tensor): void {
    super.update(rows, x, loss, success);
    if (this.steps.includes(this.#iteration)) this.snapshots.set(this.#iteration, this.adversarial.clone().keep());
    this.#iteration++;
  }

  /**
   * Snapshots for every recorded count, handed over to the caller; counts not reached (every sample
   * broken earlier) get the final examples.
   */
  complete(): Tensor[] {
    const out = this.steps.map((k) => this.snapshots.get(k) ?? this.adversarial.clone().keep());
    this.snapshots.clear();
    return out;
  }
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
  readonly recordSteps: readonly number[] | undefined;
  /** Per run with recordSteps: epsilon -> batch positions attacked and their snapshots per recorded count. */
  #recording: Map<number, { rows: Tensor; snapshots: Tensor[] }> | null = null;

  constructor(options: PGDOptions = {}, name = 'pgd') {
    super(options, name);
    this.steps = checkInteger(options.steps ?? 40, 'steps', name);
    this.stepSize = options.stepSize === undefined ? undefined : checkNumber(options.stepSize, 'stepSize', name);
    this.restarts = checkInteger(options.restarts ?? 1, 'restarts', name);
    this.randomStart = options.randomStart ?? true;
    this.loss = options.loss ?? 'ce';
    if (!['ce', 'cw', 'dlr'].includes(this.loss)) throw new TypeError(`${name}: loss must be ce, cw or dlr, got '${this.loss}'`);
    this.confidence = options.confidence ?? Infinity;
    if (options.recordSteps !== undefined) {
      const counts = [...new Set(options.recordSteps.map((k) => checkInteger(k, 'recordSteps', name)))].sort((a, b) => a - b);
      if ((counts.at(-1) ?? 0) > this.steps) throw new BastionError(`${name}: recordSteps (${counts.join(', ')}) exceed steps (${this.steps})`, { hint: 'set steps to the largest count', exitCode: 2 });
      if (this.restarts !== 1) throw new BastionError(`${name}: recordSteps needs restarts = 1 (PGD-k with restarts is not a prefix of one run)`, { exitCode: 2 });
      this.recordSteps = counts;
    } else {
      this.recordSteps = undefined;
    }
  }

  override run(model: Model, x: Tensor, y: Tensor, threat: ThreatModel): PGDResult {
    if (this.recordSteps === undefined) return super.run(model, x, y, threat);
    const counts = this.recordSteps;
    this.#recording = new Map();
    try {
      const result = super.run(model, x, y, threat);
      const extra = { forwards: 0 };
      let atSteps: StepResults[];
      try {
        atSteps = counts.map((steps, c) => ({
          steps,
          perEpsilon: result.perEpsilon.map((final) => scope(() => {
            const recorded = this.#recording?.get(final.epsilon);
            const adversarial = recorded ? final.adversarial.clone().indexCopy_(0, recorded.rows, recorded.snapshots[c] as Tensor) : final.adversarial.clone();
            extra.forwards++;
            const predictions = noGrad(() => model.forward(adversarial).argmax(1));
            const labels = y.dtype === 'int64' ? y : y.long();
            const success = threat.targeted ?? false ? predictions.eq(labels) : predictions.ne(labels);
            const norms = perSampleNorm(adversarial.sub(x), threat.norm === 'linf' ? Infinity : 2).float();
            return { epsilon: final.epsilon, adversarial: adversarial.keep(), success: success.keep(), norms: norms.keep(), predictions: predictions.keep() };
          })),
        }));
      } catch (error) {
        result.dispose();
        throw error;
      }
      return {
        ...result,
        forwardEvaluations: result.forwardEvaluations + extra.forwards,
        atSteps,
        dispose: () => {
          result.dispose();
          for (const s of atSteps) for (const e of s.perEpsilon) for (const t of [e.adversarial, e.success, e.norms, e.predictions]) t.dispose();
        },
      };
    } finally {
      for (const r of this.#recording.values()) for (const t of [r.rows, ...r.snapshots]) t.dispose();
      this.#recording = null;
    }
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

  protected perturb(ctx: AttackContext, x: Tensor, y: Tensor, eps: number, rows?: Tensor): Tensor {
    const best = this.#recording && this.recordSteps ? new RecordingBest(x, this.recordSteps) : new BestExamples(x);
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
      if (best instanceof RecordingBest && rows !== undefined) this.#recording?.set(eps, { rows: rows.clone().keep(), snapshots: best.complete() });
      return best.adversarial.clone();
    } finally {
      if (best instanceof RecordingBest) for (const t of best.snapshots.values()) t.dispose();
      best.dispose();
    }
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
