/**
 * Carlini-Wagner L2 (Carlini & Wagner 2017, "Towards Evaluating the Robustness of Neural Networks",
 * sec. V-A): a minimum-norm attack. Change of variables x = lo + (hi - lo)(tanh(w) + 1)/2 (always in
 * the bounds), Adam on
 *
 *     ||x - x0||_2^2 + c * f(x),     f(x) = max(z_y - max_{j!=y} z_j, -kappa)   (targeted: max(max_{j!=t} z_j - z_t, -kappa))
 *
 * with a per-sample binary search over c (x10 until the first success, then bisection), abort-early
 * when the loss stops decreasing (checked every tenth of the steps), keeping per sample the smallest
 * L2 example that succeeds with margin kappa. Defaults: 9 binary-search steps of 100 Adam steps at
 * learning rate 0.01 from c = 0.01, kappa = 0 (the paper runs up to 10,000 steps from c = 0.001;
 * raise `steps` for final evaluations).
 *
 * Epsilon semantics: the search runs once per batch, independently of the epsilons. At each eps a
 * sample's adversarial is its minimum-norm example when one was found with ||delta||_2 <= eps, and
 * otherwise the original image itself (zero perturbation). So "success at eps" means "found with L2
 * norm <= eps" (clean misclassifications count at norm 0), and the sweep is monotone by construction.
 */
import { full, scope, where, zeros, type Tensor } from '../tensor/index.js';
import { AttackBase, checkInteger, checkNumber, cwMargin, type AttackContext, type BaseAttackOptions } from './base.js';
import { BastionError } from '../util/errors.js';
import type { Norm } from './types.js';

/** Options of {@link CW}. */
export interface CWOptions extends Omit<BaseAttackOptions, 'earlyStop'> {
  /** Binary-search steps over c (default 9). */
  binarySearchSteps?: number;
  /** Adam steps per value of c (default 100). */
  steps?: number;
  /** Adam learning rate (default 0.01). */
  learningRate?: number;
  /** Initial c (default 0.01). */
  initialConst?: number;
  /** Margin kappa (default 0). */
  confidence?: number;
  /** Stop a value of c once the loss has not decreased by 0.01% over a tenth of the steps (default true). */
  abortEarly?: boolean;
}

/** Carlini-Wagner L2 (see the file comment). */
export class CW extends AttackBase<Tensor> {
  readonly name: string = 'cw';
  readonly norms: readonly Norm[] = ['l2'];
  readonly binarySearchSteps: number;
  readonly steps: number;
  readonly learningRate: number;
  readonly initialConst: number;
  readonly confidence: number;
  readonly abortEarly: boolean;

  constructor(options: CWOptions = {}) {
    super(options, 'cw');
    this.binarySearchSteps = checkInteger(options.binarySearchSteps ?? 9, 'binarySearchSteps', 'cw');
    this.steps = checkInteger(options.steps ?? 100, 'steps', 'cw');
    this.learningRate = checkNumber(options.learningRate ?? 0.01, 'learningRate', 'cw', 1e-9);
    this.initialConst = checkNumber(options.initialConst ?? 0.01, 'initialConst', 'cw', 1e-12);
    this.confidence = checkNumber(options.confidence ?? 0, 'confidence', 'cw');
    this.abortEarly = options.abortEarly ?? true;
  }

  /** The minimum-norm examples of the batch (the originals where none was found). */
  protected override prepare(ctx: AttackContext, x0: Tensor, y: Tensor, rows: Tensor): Tensor {
    const [lo, hi] = ctx.bounds;
    if (!Number.isFinite(lo) || !Number.isFinite(hi)) throw new BastionError('cw needs finite pixel bounds (its tanh change of variables maps onto them)');
    const n = x0.shape[0] as number;
    const half = (hi - lo) / 2;
    const fromW = (w: Tensor): Tensor => scope(() => w.tanh().add_(1).mul_(half).add_(lo));
    const state = scope(() => {
      const t = x0.sub(lo).div_(half).sub_(1).clamp_(-1 + 1e-6, 1 - 1e-6);
      const wStart = t.add(1).log().sub(t.rsub(1).log()).mul_(0.5); // atanh
      return { wStart, c: full([n], this.initialConst), lower: zeros([n]), upper: full([n], 1e10), bestL2: full([n], Infinity), best: x0.clone() };
    });
    for (const t of Object.values(state)) t.keep();
    try {
      for (let b = 0; b < this.binarySearchSteps; b++) {
        const w = state.wStart.clone().keep();
        const m = zeros(w.shape).keep();
        const v = zeros(w.shape).keep();
        const found = zeros([n], { dtype: 'bool' }).keep();
        let previous = Infinity;
        try {
          for (let i = 0; i < this.steps; i++) {
            const stop = scope(() => {
              const x = fromW(w);
              const c = state.c;
              const out = ctx.lossGradient(x, (logits) => cwMargin(logits, y, ctx.targeted, this.confidence).neg().mul(c));
              const margin = cwMargin(out.logits, y, ctx.targeted, Infinity);
              const success = this.confidence > 0 ? margin.ge(this.confidence) : ctx.isSuccess(out.logits, y);
              const l2 = x.sub(x0).square().flatten(1).sum(1);
              const better = success.logicalAnd(l2.lt(state.bestL2));
              state.bestL2.copy_(where(better, l2, state.bestL2));
              state.best.copy_(where(better.view(-1, 1, 1, 1), x, state.best));
              found.copy_(found.logicalOr(success));
              // d/dw of ||x - x0||^2 + c f(x), through x = lo + half (tanh(w) + 1).
              const gx = x.sub(x0).mul_(2).add_(out.grad);
              const gw = gx.mul_(w.tanh().square().rsub(1).mul_(half));
              const step = i + 1;
              m.mul_(0.9).add_(gw, 0.1);
              v.mul_(0.999).addcmul_(gw, gw, 0.001);
              const mHat = m.div(1 - 0.9 ** step);
              const vHat = v.div(1 - 0.999 ** step);
              w.sub_(mHat.div_(vHat.sqrt_().add_(1e-8)).mul_(this.learningRate));
              if (this.abortEarly && i % Math.max(1, Math.ceil(this.steps / 10)) === 0) {
                const loss = l2.add(out.loss).sum().item();
                if (loss > previous * 0.9999) return true;
                previous = loss;
              }
              return false;
            });
            if (stop) break;
          }
          scope(() => {
            const c = state.c;
            const upper = where(found, state.upper.minimum(c), state.upper);
            const lower = where(found, state.lower, state.lower.maximum(c));
            const mid = lower.add(upper).div(2);
            state.c.copy_(where(found.logicalOr(upper.lt(1e9)), mid, c.mul(10)));
            state.upper.copy_(upper);
            state.lower.copy_(lower);
          });
        } finally {
          for (const t of [w, m, v, found]) t.dispose();
        }
      }
      // Examples kept by the search were judged on EOT-mean logits; the base re-judges them with the model.
      return scope(() => ctx.toBatch(rows, state.best.clone()));
    } finally {
      for (const t of Object.values(state)) t.dispose();
    }
  }

  protected perturb(ctx: AttackContext, x: Tensor, _y: Tensor, eps: number, rows: Tensor, examples: Tensor): Tensor {
    return ctx.withinRadius(x, eps, rows, examples);
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
