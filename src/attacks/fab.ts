/**
 * FAB and FAB-T, the Fast Adaptive Boundary attack (Croce & Hein 2020, "Minimally distorted
 * adversarial examples with a fast adaptive boundary attack", ICML, Algorithm 1), L-inf and L2:
 * a minimum-norm attack. Per iteration, at the current point x^i:
 *
 * 1. linearise the classifier: for each class l != y the hyperplane pi_l of g_l(z) = f_l(z) - f_y(z)
 *    ~ g_l(x^i) + <grad g_l(x^i), z - x^i> = 0, and pick the closest one, s = argmin_l
 *    |g_l(x^i)| / ||grad g_l(x^i)||_q (q the dual norm: L1 for L-inf, L2 for L2). FAB-T
 *    uses the hyperplane of a target class t instead, t among the k classes with the largest clean
 *    logits after y (k = 9 by default, as AutoAttack's FAB-T), one run per target;
 * 2. project x^i and x_orig onto pi_s intersected with the box C (sec. 3, the projection problem;
 *    {@link projectHyperplaneBox}): delta^i and delta_orig;
 * 3. biased step: alpha = min(||delta^i|| / (||delta^i|| + ||delta_orig||), alpha_max),
 *    x^{i+1} = P_C((1 - alpha)(x^i + eta delta^i) + alpha (x_orig + eta delta_orig)), with the
 *    extrapolation eta = 1.05 > 1 and alpha_max = 0.1;
 * 4. when x^{i+1} is adversarial, keep it if it is the smallest found so far, then step back
 *    towards the original: x^{i+1} = (1 - beta) x_orig + beta x^{i+1}, beta = 0.9 (the backward step).
 *
 * Restarts after the first start from a random point at radius min(||best||, eps_max)/2 around
 * x_orig (the paper's random restarts, radius as in the authors' code; eps_max the largest epsilon of the threat model, so the search stays
 * independent of each epsilon). Untargeted in the threat-model sense: success = misclassified.
 *
 * Epsilon semantics, as for C&W (cw.ts): the search runs once per batch; at each eps a sample's
 * adversarial is its minimum-norm example when its norm is <= eps, and otherwise the original.
 * On a linear model the iteration settles at about 1.005x the minimal distance (the eta = 1.05
 * overshoot against the beta = 0.9 backward step; measured in test/attacks/autoattack-attacks.test.ts).
 * Untargeted FAB takes K gradients per iteration (one per class), FAB-T one per target run.
 */
import { cat, full, randLike, randnLike, scope, where, zeros, type Tensor } from '../tensor/index.js';
import { AttackBase, checkInteger, checkNumber, labelLogit, perSampleNorm, type AttackContext, type BaseAttackOptions } from './base.js';
import { topOtherClasses } from './apgd-t.js';
import type { Norm } from './types.js';

/** Options of {@link FAB}. */
export interface FABOptions extends Omit<BaseAttackOptions, 'earlyStop'> {
  /** Iterations per run (default 100). */
  steps?: number;
  /** Runs per target; the first from the original, the others from random starts (default 1). */
  restarts?: number;
  /** FAB-T: number of target classes k, by clean logit after the true class (default 9). */
  targets?: number;
  /** Largest bias towards the original, alpha_max (default 0.1). */
  alphaMax?: number;
  /** Extrapolation factor eta (default 1.05). */
  eta?: number;
  /** Backward step beta (default 0.9). */
  beta?: number;
}

/**
 * The minimal-norm delta with <w, delta> = c and lower <= delta <= upper (lower <= 0 <= upper), per
 * row of w [n,d] (FAB, Croce & Hein 2020, sec. 3, the projection onto a hyperplane intersected with
 * the box). With w' = sign(c) w, each coordinate moves along sign(w'_i) until it hits its bound:
 * L2: delta_i = sign(w'_i) min(lambda |w'_i|, room_i); L-inf: delta_i = sign(w'_i) min(lambda, room_i).
 * <w', delta(lambda)> is piecewise linear and nondecreasing in lambda; sorting the breakpoints
 * (where coordinates saturate) gives the exact lambda. Where the hyperplane misses the box, the
 * coordinates are all saturated (the box corner closest to the hyperplane). Computed in float64.
 */
export function projectHyperplaneBox(w: Tensor, c: Tensor, lower: Tensor, upper: Tensor, norm: Norm): Tensor {
  return scope(() => {
    const d = w.shape[1] as number;
    const big = 1e30;
    const sigma = where(c.ge(0), 1, -1).to('float64').unsqueeze(1);
    const wp = w.to('float64').mul(sigma);
    const target = c.to('float64').abs().unsqueeze(1);
    const a = wp.abs();
    const moving = a.gt(0);
    const room = where(wp.gt(0), upper.to('float64'), lower.to('float64').neg()).clamp(0, null);
    const slope = norm === 'l2' ? a.square() : a;
    const cap = a.mul(room);
    const breakpoint = where(moving, norm === 'l2' ? room.div(where(moving, a, 1)) : room, big);
    const order = breakpoint.sort(1);
    const t = order.values;
    const s = slope.gather(1, order.indices);
    const k = cap.gather(1, order.indices);
    const cumS = s.cumsum(1);
    const cumK = k.cumsum(1);
    const total = cumS.select(1, d - 1).unsqueeze(1);
    const phi = cumK.add(t.mul(total.sub(cumS).clamp(0, null)));
    const m = phi.lt(target).sum(1, { keepdim: true });
    const zero = zeros([w.shape[0] as number, 1], { dtype: 'float64' });
    const prevK = cat([zero, cumK], 1).gather(1, m);
    const prevS = cat([zero, cumS], 1).gather(1, m);
    const lambda = where(m.ge(d), big, target.sub(prevK).div(total.sub(prevS).clamp(1e-300, null)));
    const move = norm === 'l2' ? a.mul(lambda).minimum(room) : room.minimum(lambda.expand(a.shape));
    return where(moving, wp.sign().mul(move), 0).to(w.dtype);
  });
}

/** FAB / FAB-T (see the file comment). */
export class FAB extends AttackBase<Tensor> {
  readonly name: string;
  readonly norms: readonly Norm[] = ['linf', 'l2'];
  override readonly targetable: boolean = false;
  readonly steps: number;
  readonly restarts: number;
  readonly targets: number;
  readonly alphaMax: number;
  readonly eta: number;
  readonly beta: number;

  /** `targeted` makes FAB-T (registry name fab-t). */
  constructor(options: FABOptions = {}, readonly targeted = false) {
    const name = targeted ? 'fab-t' : 'fab';
    super(options, name);
    this.name = name;
    this.steps = checkInteger(options.steps ?? 100, 'steps', name);
    this.restarts = checkInteger(options.restarts ?? 1, 'restarts', name);
    this.targets = checkInteger(options.targets ?? 9, 'targets', name);
    this.alphaMax = checkNumber(options.alphaMax ?? 0.1, 'alphaMax', name, 0, 1);
    this.eta = checkNumber(options.eta ?? 1.05, 'eta', name, 1);
    this.beta = checkNumber(options.beta ?? 0.9, 'beta', name, 0, 1);
  }

  /** The minimum-norm examples of the batch (the originals where none was found). */
  protected override prepare(ctx: AttackContext, x0: Tensor, y: Tensor, rows: Tensor): Tensor {
    const n = x0.shape[0] as number;
    let classes = 0;
    const state = scope(() => {
      const logits = ctx.evaluate(x0, (z) => z.select(1, 0)).logits;
      const adversarial = ctx.isSuccess(logits, y);
      classes = logits.shape[1] as number;
      const targets = this.targeted ? topOtherClasses(logits, y, Math.min(this.targets, classes - 1)) : zeros([n, 0], { dtype: 'int64' });
      return { best: x0.clone(), bestNorm: where(adversarial, 0, full([n], Infinity)), targets };
    });
    for (const t of Object.values(state)) t.keep();
    try {
      const epsMax = Math.max(...ctx.threat.epsilons);
      const runs = this.targeted ? (state.targets.shape[1] as number) : 1;
      for (let target = 0; target < runs; target++) {
        for (let r = 0; r < this.restarts; r++) {
          scope(() => {
            const todo = state.bestNorm.gt(0).nonzero().squeeze(1);
            if (todo.shape[0] === 0) return;
            const xs = x0.indexSelect(0, todo);
            const ys = y.indexSelect(0, todo);
            const ts = this.targeted ? state.targets.select(1, target).indexSelect(0, todo) : null;
            const start = r === 0 ? xs : this.#randomStart(ctx, xs, state.bestNorm.indexSelect(0, todo).clamp(null, epsMax).div(2));
            const found = this.#single(ctx, xs, ys, ts, start, classes);
            const better = found.norm.lt(state.bestNorm.indexSelect(0, todo));
            const at = todo.indexSelect(0, better.nonzero().squeeze(1));
            const keep = better.nonzero().squeeze(1);
            state.best.indexCopy_(0, at, found.adversarial.indexSelect(0, keep));
            state.bestNorm.indexCopy_(0, at, found.norm.indexSelect(0, keep));
          });
        }
      }
      return scope(() => ctx.toBatch(rows, state.best.clone()));
    } finally {
      for (const t of Object.values(state)) t.dispose();
    }
  }

  protected perturb(ctx: AttackContext, x: Tensor, _y: Tensor, eps: number, rows: Tensor, examples: Tensor): Tensor {
    return ctx.withinRadius(x, eps, rows, examples);
  }

  /** A random start at radius `radius` [n] around x0 (L-inf: uniform direction scaled to sup-norm radius; L2: on the sphere), clipped to the box. */
  #randomStart(ctx: AttackContext, x0: Tensor, radius: Tensor): Tensor {
    return scope(() => {
      const t = ctx.norm === 'linf' ? randLike(x0).mul_(2).sub_(1) : randnLike(x0);
      const scale = radius.div(perSampleNorm(t, ctx.norm === 'linf' ? Infinity : 2).add(1e-12)).view(-1, 1, 1, 1);
      return x0.add(t.mul(scale)).clamp_(ctx.bounds[0], ctx.bounds[1]);
    });
  }

  /**
   * The linearised decision hyperplane at x: w = grad g_s(x) and g = g_s(x) for g_l = f_l - f_y,
   * s the class of the closest linearised boundary (step 1 of the file comment) or the target.
   */
  #hyperplane(ctx: AttackContext, x: Tensor, y: Tensor, target: Tensor | null, classes: number): { w: Tensor; g: Tensor } {
    return scope(() => {
      if (target !== null) {
        const out = ctx.lossGradient(x, (z) => labelLogit(z, target).sub(labelLogit(z, y)));
        return { w: out.grad, g: out.loss };
      }
      const dual = ctx.norm === 'linf' ? 1 : 2;
      let best: { w: Tensor; g: Tensor; dist: Tensor } | null = null;
      for (let l = 0; l < classes; l++) {
        const out = ctx.lossGradient(x, (z) => z.select(1, l).sub(labelLogit(z, y)));
        const dist = where(y.eq(l), Infinity, out.loss.abs().div(perSampleNorm(out.grad, dual).add(1e-12)));
        if (best === null) best = { w: out.grad, g: out.loss, dist };
        else {
          const closer = dist.lt(best.dist);
          best = { w: where(closer.view(-1, 1, 1, 1), out.grad, best.w), g: where(closer, out.loss, best.g), dist: where(closer, dist, best.dist) };
        }
      }
      const found = best as { w: Tensor; g: Tensor };
      return { w: found.w, g: found.g };
    });
  }

  /** One run of Algorithm 1 from `start`: the smallest adversarial found per sample and its norm (inf where none). */
  #single(ctx: AttackContext, x0: Tensor, y: Tensor, target: Tensor | null, start: Tensor, classes: number): { adversarial: Tensor; norm: Tensor } {
    const n = x0.shape[0] as number;
    const [lo, hi] = ctx.bounds;
    const shape = x0.shape;
    const state = scope(() => {
      const pred = ctx.predict(start);
      const adversarial = pred.ne(y);
      return { x: start.clone(), best: x0.clone(), bestNorm: where(adversarial, ctx.norms(start, x0), full([n], Infinity)) };
    });
    for (const t of Object.values(state)) t.keep();
    try {
      for (let i = 0; i < this.steps; i++) {
        scope(() => {
          const x = state.x;
          const { w, g } = this.#hyperplane(ctx, x, y, target, classes);
          const wf = w.flatten(1);
          const c1 = g.neg();
          const c2 = g.add(wf.mul(x0.sub(x).flatten(1)).sum(1)).neg();
          const d1 = projectHyperplaneBox(wf, c1, x.flatten(1).rsub(lo), x.flatten(1).rsub(hi), ctx.norm).view(shape);
          const d2 = projectHyperplaneBox(wf, c2, x0.flatten(1).rsub(lo), x0.flatten(1).rsub(hi), ctx.norm).view(shape);
          const p = ctx.norm === 'linf' ? Infinity : 2;
          const a1 = perSampleNorm(d1, p);
          const a2 = perSampleNorm(d2, p);
          const alpha = a1.div(a1.add(a2).add(1e-12)).clamp(0, this.alphaMax).view(-1, 1, 1, 1);
          const next = x.add(d1.mul(this.eta)).mul(alpha.rsub(1)).add(x0.add(d2.mul(this.eta)).mul(alpha)).clamp(lo, hi);
          const adversarial = ctx.predict(next).ne(y);
          const norm = ctx.norms(next, x0);
          const better = adversarial.logicalAnd(norm.lt(state.bestNorm));
          state.best.copy_(where(better.view(-1, 1, 1, 1), next, state.best));
          state.bestNorm.copy_(where(better, norm, state.bestNorm));
          state.x.copy_(where(adversarial.view(-1, 1, 1, 1), x0.mul(1 - this.beta).add(next.mul(this.beta)), next));
        });
      }
      return scope(() => ({ adversarial: state.best.clone(), norm: state.bestNorm.clone() }));
    } finally {
      for (const t of Object.values(state)) t.dispose();
    }
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
