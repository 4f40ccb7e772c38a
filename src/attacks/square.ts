/**
 * Square Attack (Andriushchenko et al. 2020, "Square Attack: a query-efficient black-box adversarial
 * attack via random search", Algorithms 1-3), L-inf and L2. Score-based: it only reads logits, never
 * gradients (forward evaluations only), so it is immune to gradient masking.
 *
 * Random search on the margin loss m = z_y - max_{j!=y} z_j (targeted: max_{j!=t} z_j - z_t), which
 * a proposal must strictly decrease to be accepted; a sample is broken when its margin is negative.
 * L-inf: start from vertical stripes of +-eps; each proposal sets a random s x s square of the
 * perturbation to +-eps per channel. L2: start from a grid of "pseudo-Gaussian" blocks; each proposal
 * moves the perturbation mass of one square into another square with a fresh pseudo-Gaussian
 * pattern, keeping ||delta||_2 = eps. The square side follows the paper's schedule for p (fraction
 * of pixels), halved at 10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000 of 10,000 iterations
 * (rescaled to `steps`), from p_init = 0.8 (the value of the authors' code and AutoAttack).
 * As in AutoAttack's implementation, the square's position is drawn once per iteration for the
 * whole batch (each image still gets its own signs and its own accept/reject), which leaves each
 * image's search distribution unchanged.
 */
import { arange, randint, rand, scope, tensor, where, zeros, type Tensor } from '../tensor/index.js';
import {
  AttackBase, BestExamples, checkInteger, checkNumber, labelLogit, maxOtherLogit, perSampleNorm, type ActiveSet, type AttackContext,
  type BaseAttackOptions,
} from './base.js';
import type { Norm } from './types.js';

/** Options of {@link Square}. */
export interface SquareOptions extends BaseAttackOptions {
  /** Random-search iterations, one query each after the initial one (default 5000). */
  steps?: number;
  /** Initial fraction of pixels a proposal changes (default 0.8). */
  pInit?: number;
}

/** The paper's schedule of p, the fraction of pixels changed at iteration `i` of `steps`. */
export function squareFraction(pInit: number, i: number, steps: number): number {
  const it = Math.floor((i / steps) * 10000);
  const halvings = [10, 50, 200, 500, 1000, 2000, 4000, 6000, 8000].filter((t) => it > t).length;
  return pInit / 2 ** halvings;
}

function rectangles(rows: number, cols: number): number[][] {
  const delta = Array.from({ length: rows }, () => new Array<number>(cols).fill(0));
  const [rc, cc] = [Math.floor(rows / 2) + 1, Math.floor(cols / 2) + 1];
  let [r0, c0] = [rc - 1, cc - 1];
  for (let k = 0; k < Math.max(rc, cc); k++) {
    for (let i = Math.max(r0, 0); i < Math.min(r0 + 2 * k + 1, rows); i++) {
      for (let j = Math.max(c0, 0); j < Math.min(c0 + 2 * k + 1, cols); j++) (delta[i] as number[])[j] = ((delta[i] as number[])[j] as number) + 1 / (k + 1) ** 2;
    }
    r0--;
    c0--;
  }
  return delta;
}

/** The s x s pseudo-Gaussian pattern of the L2 attack (unit Frobenius norm, randomly transposed): [1,1,s,s]. */
export function pseudoGaussian(s: number): Tensor {
  const top = rectangles(Math.floor(s / 2), s);
  const bottom = rectangles(s - Math.floor(s / 2), s).map((row) => row.map((v) => -v));
  const rows = [...top, ...bottom];
  const flat = rows.flat();
  const norm = Math.sqrt(flat.reduce((a, v) => a + v * v, 0)) || 1;
  return scope(() => {
    const t = tensor(flat.map((v) => v / norm), { shape: [1, 1, s, s] });
    return rand([1]).item() > 0.5 ? t.transpose(2, 3).contiguous() : t;
  });
}

function randomSigns(shape: number[]): Tensor {
  return scope(() => randint(0, 2, shape).float().mul_(2).sub_(1));
}

/** Square Attack, L-inf and L2 (see the file comment). */
export class Square extends AttackBase {
  readonly name: string = 'square';
  readonly norms: readonly Norm[] = ['linf', 'l2'];
  readonly steps: number;
  readonly pInit: number;

  constructor(options: SquareOptions = {}) {
    super(options, 'square');
    this.steps = checkInteger(options.steps ?? 5000, 'steps', 'square');
    this.pInit = checkNumber(options.pInit ?? 0.8, 'pInit', 'square', 1e-6, 1);
  }

  protected perturb(ctx: AttackContext, x: Tensor, y: Tensor, eps: number): Tensor {
    const best = new BestExamples(x);
    const [, c, h, w] = x.shape as [number, number, number, number];
    const margin = (logits: Tensor, labels: Tensor): Tensor => scope(() => {
      const own = labelLogit(logits, labels);
      const other = maxOtherLogit(logits, labels);
      return ctx.targeted ? other.sub(own) : own.sub(other);
    });
    const active = ctx.activeSet(x, y, eps, arange(x.shape[0] as number));
    const query = (point: Tensor): Tensor => scope(() => {
      const out = ctx.evaluate(point, (logits) => margin(logits, active.get('y')).neg());
      best.update(active.rows, point, out.loss, ctx.isSuccess(out.logits, active.get('y')));
      return out.loss.neg();
    });
    try {
      scope(() => {
        const x0 = active.get('x0');
        const start = ctx.norm === 'linf'
          ? x0.add(randomSigns([x0.shape[0] as number, c, 1, w]).mul_(eps))
          : x0.add(unit(this.#l2Init(x0)).mul_(eps));
        const xBest = ctx.projectActive(start, active, eps);
        const m = query(xBest);
        active.set('xBest', xBest);
        active.set('margin', m);
        if (ctx.earlyStop) active.filter(m.ge(0));
      });
      for (let i = 0; i < this.steps && active.size > 0; i++) {
        scope(() => {
          const p = squareFraction(this.pInit, i, this.steps);
          const proposal = ctx.projectActive(ctx.norm === 'linf' ? this.#linfProposal(active, eps, p, c, h, w) : this.#l2Proposal(active, eps, p, c, h, w), active, eps);
          const m = query(proposal);
          const improved = m.lt(active.get('margin'));
          active.set('xBest', where(improved.view(-1, 1, 1, 1), proposal, active.get('xBest')));
          active.set('margin', where(improved, m, active.get('margin')));
          if (ctx.earlyStop) active.filter(active.get('margin').ge(0));
        });
      }
      return best.adversarial.clone();
    } finally {
      active.dispose();
      best.dispose();
    }
  }

  /** L-inf proposal: one random s x s square of the perturbation set to +-eps per image and channel. */
  #linfProposal(a: ActiveSet, eps: number, p: number, c: number, h: number, w: number): Tensor {
    const s = Math.min(Math.max(Math.round(Math.sqrt(p * h * w)), 1), h - 1 > 0 ? h - 1 : h);
    const [top, left] = [randint(0, h - s + 1, [1]).item(), randint(0, w - s + 1, [1]).item()];
    const x0 = a.get('x0');
    const delta = a.get('xBest').sub(x0);
    delta.narrow(2, top, s).narrow(3, left, s).copy_(randomSigns([a.size, c, 1, 1]).mul_(eps).expand(a.size, c, s, s));
    return x0.add(delta);
  }

  /** L2 proposal: moves the mass of one square into another with a new pseudo-Gaussian pattern, keeping ||delta|| = eps. */
  #l2Proposal(a: ActiveSet, eps: number, p: number, c: number, h: number, w: number): Tensor {
    let s = Math.max(Math.round(Math.sqrt(p * h * w)), 3);
    if (s % 2 === 0) s++;
    s = Math.min(s, h, w);
    const n = a.size;
    const [top, left] = [randint(0, h - s + 1, [1]).item(), randint(0, w - s + 1, [1]).item()];
    const [top2, left2] = [randint(0, h - s + 1, [1]).item(), randint(0, w - s + 1, [1]).item()];
    const x0 = a.get('x0');
    const delta = a.get('xBest').sub(x0);
    const square = (t: Tensor, r: number, col: number): Tensor => t.narrow(2, r, s).narrow(3, col, s);
    const both = zeros([1, 1, h, w]);
    square(both, top, left).fill_(1);
    square(both, top2, left2).fill_(1);
    const imageNorm = perSampleNorm(delta, 2).view(-1, 1, 1, 1);
    const windowsNorm = perSampleNorm(delta.mul(both), 2).view(-1, 1, 1, 1);
    const old = square(delta, top, left);
    const oldNorm = old.square().sum([2, 3], { keepdim: true }).sqrt();
    let fresh = pseudoGaussian(s).mul(randomSigns([n, c, 1, 1])).add(old.div(oldNorm.add(1e-12)));
    const budget = imageNorm.square().neg().add(eps * eps).clamp_(0, null).div_(c).add_(windowsNorm.square()).sqrt_();
    fresh = fresh.div(fresh.square().sum([2, 3], { keepdim: true }).sqrt().add(1e-12)).mul(budget);
    square(delta, top2, left2).zero_();
    square(delta, top, left).copy_(fresh);
    return x0.add(unit(delta).mul_(eps));
  }

  /** L2 start: a grid of pseudo-Gaussian blocks of side h/5 with random signs per image and channel. */
  #l2Init(x0: Tensor): Tensor {
    const [n, c, h, w] = x0.shape as [number, number, number, number];
    const s = Math.max(Math.floor(h / 5), 1);
    const first = Math.floor((h - s * 5) / 2);
    const delta = zeros([n, c, h, w]);
    for (let top = Math.max(first, 0); top + s <= h; top += s) {
      for (let left = Math.max(first, 0); left + s <= w; left += s) {
        delta.narrow(2, top, s).narrow(3, left, s).add_(pseudoGaussian(s).mul(randomSigns([n, c, 1, 1])));
      }
    }
    return delta;
  }
}

/** delta / ||delta||_2 per sample. */
function unit(delta: Tensor): Tensor {
  return scope(() => delta.div(perSampleNorm(delta, 2).add(1e-12).view(-1, 1, 1, 1)));
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
