/**
 * APGD, Auto-PGD (Croce & Hein 2020, "Reliable evaluation of adversarial robustness with an
 * ensemble of diverse parameter-free attacks", Algorithm 1), L-inf and L2, with the cross-entropy
 * (APGD-CE) or the DLR loss (APGD-DLR, eq. 6; see {@link dlrLoss} for the targeted form):
 *
 *     z^{k+1} = P(x^k + eta^k * step(grad f(x^k)))
 *     x^{k+1} = P(x^k + alpha (z^{k+1} - x^k) + (1 - alpha)(x^k - x^{k-1}))     alpha = 0.75 (1 at k = 0)
 *
 * with eta^0 = 2 eps per sample, halved at checkpoints w_j = ceil(p_j N) (p_0 = 0, p_1 = 0.22,
 * p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06)) when (1) the loss increased in fewer than
 * rho = 0.75 of the steps since the last checkpoint, or (2) the step size was not reduced at the last
 * checkpoint and the best loss has not improved since; after a halving the iterate restarts from the
 * best point. Condition (1) uses the paper's strict "<" and condition (2) is checked from the first
 * checkpoint on, as the paper states (the authors' code uses "<=" and skips (2) at the first one).
 * The start is a random point on the boundary of the ball, as in the authors' code.
 */
import { arange, randLike, randnLike, scope, where, zerosLike, type Tensor } from '../tensor/index.js';
import {
  AttackBase, BestExamples, checkInteger, checkNumber, objectiveOf, perSampleNorm, type ActiveSet, type AttackContext, type BaseAttackOptions,
} from './base.js';
import type { Norm } from './types.js';

/** Options of {@link APGD}. */
export interface APGDOptions extends BaseAttackOptions {
  /** Iterations N (default 100). */
  steps?: number;
  /** Runs from new random starts, keeping the best example (default 1). */
  restarts?: number;
  /** Objective: cross-entropy (default) or DLR. */
  loss?: 'ce' | 'dlr';
  /** Momentum alpha (default 0.75). */
  momentum?: number;
}

/** Checkpoint iterations w_1, w_2, ... <= steps (w_0 = 0 omitted). */
export function apgdCheckpoints(steps: number): number[] {
  const p = [0, 0.22];
  while ((p.at(-1) as number) < 1) p.push((p.at(-1) as number) + Math.max((p.at(-1) as number) - (p.at(-2) as number) - 0.03, 0.06));
  return [...new Set(p.slice(1).map((v) => Math.ceil(v * steps - 1e-9)))].filter((w) => w > 0 && w <= steps);
}

/** Auto-PGD with step-size halving at checkpoints and momentum (see the file comment). */
export class APGD extends AttackBase {
  readonly name: string;
  readonly norms: readonly Norm[] = ['linf', 'l2'];
  readonly steps: number;
  readonly restarts: number;
  readonly loss: 'ce' | 'dlr';
  readonly momentum: number;
  static readonly rho = 0.75;

  constructor(options: APGDOptions = {}, name = 'apgd') {
    super(options, name);
    this.name = name;
    this.steps = checkInteger(options.steps ?? 100, 'steps', name);
    this.restarts = checkInteger(options.restarts ?? 1, 'restarts', name);
    this.loss = options.loss ?? 'ce';
    if (this.loss !== 'ce' && this.loss !== 'dlr') throw new TypeError(`${name}: loss must be ce or dlr, got '${String(this.loss)}'`);
    this.momentum = checkNumber(options.momentum ?? 0.75, 'momentum', name, 0, 1);
  }

  /** A random point on the boundary of the eps-ball (clipped to the bounds). */
  #start(ctx: AttackContext, x0: Tensor, eps: number): Tensor {
    return scope(() => {
      const t = ctx.norm === 'linf' ? randLike(x0).mul_(2).sub_(1) : randnLike(x0);
      const scale = perSampleNorm(t, ctx.norm === 'linf' ? Infinity : 2).add(1e-12).reciprocal().mul_(eps).view(-1, 1, 1, 1);
      return x0.add(t.mul_(scale)).clamp_(ctx.bounds[0], ctx.bounds[1]);
    });
  }

  protected perturb(ctx: AttackContext, x: Tensor, y: Tensor, eps: number): Tensor {
    const best = new BestExamples(x);
    try {
      this.restartsInto(ctx, x, y, eps, best);
      return best.adversarial.clone();
    } finally {
      best.dispose();
    }
  }

  /**
   * Runs the restarts of Algorithm 1 on (x, y) at radius `eps`, offering every iterate to `best`.
   * The hook of attacks built on APGD (APGD-T, Croce & Hein 2020 sec. 3.3): `run.objective`
   * replaces the loss (it may read the per-sample tensors `run.extra`, given batch-sized and stored
   * in the active set under their names), and `run.unbrokenOnly` attacks only the samples without
   * a success in `best` from the first restart on (with early stopping).
   */
  protected restartsInto(
    ctx: AttackContext, x: Tensor, y: Tensor, eps: number, best: BestExamples,
    run: { objective?: (logits: Tensor, active: ActiveSet) => Tensor; extra?: Record<string, Tensor>; unbrokenOnly?: boolean } = {},
  ): void {
    for (let r = 0; r < this.restarts; r++) {
      const active = scope(() => {
        const rows = (r > 0 || run.unbrokenOnly === true) && ctx.earlyStop ? best.unsuccessfulRows() : arange(x.shape[0] as number);
        if (rows.shape[0] === 0) return null;
        const extra = Object.fromEntries(Object.entries(run.extra ?? {}).map(([name, t]) => [name, t.indexSelect(0, rows)]));
        return ctx.activeSet(x.indexSelect(0, rows), y.indexSelect(0, rows), eps, rows, extra);
      });
      if (active === null) break;
      try {
        this.#run(ctx, active, best, eps, run.objective);
      } finally {
        active.dispose();
      }
    }
  }

  #run(ctx: AttackContext, a: ActiveSet, best: BestExamples, eps: number, custom?: (logits: Tensor, active: ActiveSet) => Tensor): void {
    const objective = objectiveOf(this.loss, ctx.targeted);
    const f = custom === undefined ? (logits: Tensor): Tensor => objective(logits, a.get('y')) : (logits: Tensor): Tensor => custom(logits, a);
    const checkpoints = apgdCheckpoints(this.steps);
    const evaluate = (point: Tensor): { loss: Tensor; grad: Tensor; success: Tensor } => {
      const out = ctx.lossGradient(point, f);
      const success = ctx.isSuccess(out.logits, a.get('y'));
      best.update(a.rows, point, out.loss, success);
      return { loss: out.loss, grad: out.grad, success };
    };
    scope(() => {
      const x = ctx.projectActive(this.#start(ctx, a.get('x0'), eps), a, eps);
      const { loss, grad, success } = evaluate(x);
      const initial = {
        x, previous: x, grad, eta: zerosLike(loss).add_(2 * eps), xMax: x, lossMax: loss, gradMax: grad, lossPrevious: loss,
        increases: zerosLike(loss), lossMaxAtCheck: loss, reducedAtCheck: zerosLike(loss).gt(0),
      };
      for (const [name, t] of Object.entries(initial)) a.set(name, t.clone());
      if (ctx.earlyStop) a.filter(success.logicalNot());
    });
    let lastCheck = 0;
    for (let k = 0; k < this.steps && a.size > 0; k++) {
      scope(() => {
        const xk = a.get('x');
        const eta = a.get('eta').view(-1, 1, 1, 1);
        const z = ctx.projectActive(xk.add(ctx.steepest(a.get('grad')).mul_(eta)), a, eps);
        const alpha = k === 0 ? 1 : this.momentum;
        const next = ctx.projectActive(xk.add(z.sub(xk).mul_(alpha)).add_(xk.sub(a.get('previous')).mul_(1 - alpha)), a, eps);
        const { loss, grad, success } = evaluate(next);
        a.set('increases', a.get('increases').add(loss.gt(a.get('lossPrevious')).float()));
        const improved = loss.gt(a.get('lossMax'));
        const mask = improved.view(-1, 1, 1, 1);
        a.set('xMax', where(mask, next, a.get('xMax')));
        a.set('gradMax', where(mask, grad, a.get('gradMax')));
        a.set('lossMax', where(improved, loss, a.get('lossMax')));
        a.set('lossPrevious', loss);
        a.set('previous', xk.clone());
        a.set('x', next);
        a.set('grad', grad);
        if (checkpoints.includes(k + 1)) {
          const span = k + 1 - lastCheck;
          lastCheck = k + 1;
          const oscillating = a.get('increases').lt(APGD.rho * span);
          const stalled = a.get('reducedAtCheck').logicalNot().logicalAnd(a.get('lossMaxAtCheck').ge(a.get('lossMax')));
          const reduce = oscillating.logicalOr(stalled);
          const reduce4 = reduce.view(-1, 1, 1, 1);
          a.set('eta', where(reduce, a.get('eta').mul(0.5), a.get('eta')));
          a.set('x', where(reduce4, a.get('xMax'), a.get('x')));
          a.set('grad', where(reduce4, a.get('gradMax'), a.get('grad')));
          a.set('reducedAtCheck', reduce);
          a.set('lossMaxAtCheck', a.get('lossMax').clone());
          a.set('increases', zerosLike(loss));
        }
        if (ctx.earlyStop) a.filter(success.logicalNot());
      });
    }
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
