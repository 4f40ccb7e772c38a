/**
 * The small shared base of the attacks (torchattacks style: each attack file holds only its
 * algorithm). It provides
 *
 * - the `run()` template: input checks, seeding, the epsilon sweep in increasing order with
 *   carry-over of broken samples, the final evaluation (predictions, success, norms) and the
 *   kept, caller-owned result;
 * - {@link AttackContext}: loss gradients with respect to the input through `grad()` (parameter
 *   `.grad` fields are never touched), averaged over `eotSamples` stochastic forward passes
 *   (Expectation over Transformation, Athalye et al. 2018, "Obfuscated Gradients Give a False Sense
 *   of Security", sec. 4.3), steepest-ascent directions, projection onto L-inf / L2 balls and
 *   clipping to the pixel bounds, success and norms;
 * - the attack objectives (cross-entropy, the Carlini-Wagner margin, DLR);
 * - {@link ActiveSet} (per-sample state of the samples still being attacked, shrunk as samples
 *   succeed), {@link BestExamples} (the worst-case example found per sample) and {@link iterate},
 *   the loop shared by the iterative gradient attacks, one `scope()` per iteration so that memory
 *   stays flat.
 *
 * Epsilon sweep semantics (all attacks): epsilons are processed in increasing order. With
 * `carryOver` (default), the clean images are evaluated first, and a sample already broken at a
 * smaller epsilon (or misclassified / at its target on the clean image) counts as broken at every
 * larger epsilon with that same example. This is exact for a single threat model, whose balls are
 * nested (an example within the eps1-ball is within the eps2-ball for eps2 >= eps1); it makes
 * sweeps cheaper (only unbroken samples are attacked) and accuracy monotone in epsilon. Turn it off
 * (`carryOver: false`) to attack every epsilon independently, as papers usually tabulate FGSM.
 */
import {
  enableGrad, getRngState, grad, manualSeed, noGrad, randLike, randnLike, scope, setRngState, tensor, where, zeros, full,
  type Tensor,
} from '../tensor/index.js';
import { crossEntropy } from '../nn/functional.js';
import { BastionError } from '../util/errors.js';
import { Random } from '../util/random.js';
import type { Attack, AttackResult, EpsilonResult, Model, Norm, ThreatModel } from './types.js';

/** Options every attack accepts. */
export interface BaseAttackOptions {
  /**
   * Expectation over Transformation: average the loss (and its gradient) over this many stochastic
   * forward passes per step (Athalye et al. 2018). Use > 1 against randomised defenses; default 1.
   */
  eotSamples?: number;
  /**
   * Stop attacking a sample as soon as it is successful (the active batch shrinks). Default true;
   * set false to make every sample run the full budget (benchmarks that compare identical work).
   */
  earlyStop?: boolean;
  /** Reuse examples that broke a sample at a smaller epsilon (see the module comment). Default true. */
  carryOver?: boolean;
  /**
   * Seed of the attack's randomness (random starts, Square's proposals, and the model's own noise).
   * Run k of an attack seeds libtorch's generator with the k-th draw of Random(seed) and restores
   * the caller's generator state afterwards, so the same seed and call sequence give the same
   * results. Without a seed the global generator is used as is.
   */
  seed?: number;
}

/** A per-sample objective the attacker maximises: logits [n,K] -> [n]. */
export type Objective = (logits: Tensor) => Tensor;

/** The loss families of the attacks. */
export type LossKind = 'ce' | 'cw' | 'dlr';

/** A threat model with its defaults filled in. */
export interface ResolvedThreat {
  norm: Norm;
  epsilons: number[];
  bounds: [number, number];
  targeted: boolean;
}

// ---- checks ------------------------------------------------------------------------------------

/** Throws unless `value` is an integer >= min. */
export function checkInteger(value: number, name: string, attack: string, min = 1): number {
  if (!Number.isInteger(value) || value < min) throw new BastionError(`${attack}: ${name} must be an integer >= ${min}, got ${value}`, { exitCode: 2 });
  return value;
}

/** Throws unless `value` is a finite number in [min, max]. */
export function checkNumber(value: number, name: string, attack: string, min = 0, max = Infinity): number {
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new BastionError(`${attack}: ${name} must be a number in [${min}, ${max}], got ${value}`, { exitCode: 2 });
  }
  return value;
}

/** Validates a threat model against the norms an attack supports and fills in defaults. */
export function resolveThreat(threat: ThreatModel, attack: string, norms: readonly Norm[], targetable: boolean): ResolvedThreat {
  if (!norms.includes(threat.norm)) {
    throw new BastionError(`${attack} does not support the ${threat.norm} norm`, { hint: `use one of: ${norms.join(', ')}`, exitCode: 2 });
  }
  if (!Array.isArray(threat.epsilons) || threat.epsilons.length === 0) throw new BastionError(`${attack}: the threat model needs at least one epsilon`, { exitCode: 2 });
  for (const e of threat.epsilons) {
    if (!Number.isFinite(e) || e < 0) throw new BastionError(`${attack}: epsilons must be finite and >= 0, got ${e}`, { exitCode: 2 });
  }
  const bounds = threat.bounds ?? [0, 1];
  if (!(bounds[0] < bounds[1])) throw new BastionError(`${attack}: bounds must be [low, high] with low < high, got [${bounds.join(', ')}]`, { exitCode: 2 });
  const targeted = threat.targeted ?? false;
  if (targeted && !targetable) {
    throw new BastionError(`${attack} is untargeted by construction and cannot run a targeted threat model`, { hint: 'use pgd, bim, apgd, mifgsm, cw or square with targets', exitCode: 2 });
  }
  return { norm: threat.norm, epsilons: [...threat.epsilons], bounds: [bounds[0], bounds[1]], targeted };
}

function checkBatch(x: Tensor, y: Tensor, bounds: [number, number], attack: string): void {
  if (x.ndim !== 4 || !x.isFloatingPoint) throw new BastionError(`${attack}: x must be a float [N,C,H,W] tensor, got [${x.shape.join(',')}] ${x.dtype}`);
  if (y.ndim !== 1 || y.shape[0] !== x.shape[0] || y.isFloatingPoint || y.dtype === 'bool') {
    throw new BastionError(`${attack}: y must be an integer [${x.shape[0]}] tensor of class indices, got [${y.shape.join(',')}] ${y.dtype}`);
  }
  const [lo, hi] = scope(() => [x.min().item(), x.max().item()]);
  if ((lo as number) < bounds[0] - 1e-6 || (hi as number) > bounds[1] + 1e-6) {
    throw new BastionError(`${attack}: x has values in [${lo}, ${hi}], outside the threat model's bounds [${bounds.join(', ')}]`, {
      hint: 'attacks work in pixel space; pass un-normalised images (models normalise internally) or set threat.bounds',
    });
  }
}

/**
 * Throws unless every logit is finite. Accuracies and attack success computed from NaN or infinite
 * logits look plausible but mean nothing (argmax of NaN picks an arbitrary class), so attacks and
 * evaluations check the logits they score (clean and final adversarial, once per batch).
 * `what` says whose logits, e.g. "on the clean images".
 */
export function checkFiniteLogits(logits: Tensor, what: string): void {
  if (scope(() => logits.isfinite().all())) return;
  const bad = scope(() => {
    const broken = logits.isfinite().logicalNot();
    return (logits.ndim >= 2 ? broken.flatten(1).sum(1).gt(0) : broken).sum().item();
  });
  const n = logits.ndim >= 2 ? (logits.shape[0] as number) : logits.numel;
  throw new BastionError(`the model's logits ${what} hold NaN or infinite values (${bad} of ${n} samples); its accuracy and the attack's success would be meaningless`, {
    hint: 'check the model: weights that diverged in training, a purifier or normalisation that overflows, or inputs outside the range it was trained on',
  });
}

// ---- objectives ----------------------------------------------------------------------------------

/** The logit of class `labels` per sample: [n]. */
export function labelLogit(logits: Tensor, labels: Tensor): Tensor {
  return scope(() => logits.gather(1, labels.unsqueeze(1)).squeeze(1));
}

/** The largest logit among the classes other than `labels`: [n]. */
export function maxOtherLogit(logits: Tensor, labels: Tensor): Tensor {
  return scope(() => logits.scatter(1, labels.unsqueeze(1), -Infinity).amax(1));
}

/** Per-sample cross-entropy (reduction none). */
export function crossEntropyPerSample(logits: Tensor, labels: Tensor): Tensor {
  return crossEntropy(logits, labels, { reduction: 'none' });
}

/**
 * The Carlini-Wagner margin (Carlini & Wagner 2017, objective f6) as a quantity to maximise:
 * untargeted `max_{j!=y} z_j - z_y`, targeted `z_t - max_{j!=t} z_j`, capped at `confidence`
 * (kappa): beyond that margin the attacker gains nothing.
 */
export function cwMargin(logits: Tensor, labels: Tensor, targeted: boolean, confidence: number): Tensor {
  return scope(() => {
    const own = labelLogit(logits, labels);
    const other = maxOtherLogit(logits, labels);
    return (targeted ? own.sub(other) : other.sub(own)).clamp(null, confidence);
  });
}

/**
 * The Difference of Logits Ratio (Croce & Hein 2020, eq. 6), to maximise:
 * untargeted `-(z_y - max_{j!=y} z_j) / (z_pi1 - z_pi3)` with pi the logits sorted descending.
 * The targeted DLR of the paper needs the true label, which a targeted `Attack.run` does not get;
 * we use `-(max_{j!=t} z_j - z_t) / (z_pi1 - (z_pi3 + z_pi4)/2)`, the same expression with the
 * strongest competitor of the target in place of z_y (identical whenever that competitor is the
 * true class, as it is at the start of the attack). Needs at least 3 (untargeted) or 4 classes.
 */
export function dlrLoss(logits: Tensor, labels: Tensor, targeted: boolean): Tensor {
  const classes = logits.shape[1] as number;
  if (classes < (targeted ? 4 : 3)) throw new BastionError(`DLR loss needs at least ${targeted ? 4 : 3} classes, the model has ${classes}`, { hint: 'use the ce loss' });
  return scope(() => {
    const sorted = logits.topk(targeted ? 4 : 3, 1).values;
    const own = labelLogit(logits, labels);
    const other = maxOtherLogit(logits, labels);
    const top = sorted.select(1, 0);
    const denominator = targeted
      ? top.sub(sorted.select(1, 2).add(sorted.select(1, 3)).mul(0.5))
      : top.sub(sorted.select(1, 2));
    return (targeted ? own.sub(other) : other.sub(own)).div(denominator.add(1e-12));
  });
}

/** The per-sample objective of a loss family, oriented so that the attacker maximises it. */
export function objectiveOf(kind: LossKind, targeted: boolean, confidence = Infinity): (logits: Tensor, labels: Tensor) => Tensor {
  if (kind === 'ce') {
    return targeted ? (z, t) => scope(() => crossEntropyPerSample(z, t).neg()) : (z, y) => crossEntropyPerSample(z, y);
  }
  if (kind === 'cw') return (z, y) => cwMargin(z, y, targeted, confidence);
  return (z, y) => dlrLoss(z, y, targeted);
}

// ---- per-run context ---------------------------------------------------------------------------

/** Output of a loss evaluation: per-sample objective and mean logits (EOT), both detached; the gradient when asked for. */
export interface LossOutput {
  loss: Tensor;
  logits: Tensor;
  grad?: Tensor;
}

/** Lower and upper pixel bounds per element (the L-inf ball intersected with the pixel box). */
export interface Box {
  lower: Tensor;
  upper: Tensor;
}

/**
 * Everything an attack needs during one run: the model, the resolved threat model, the counters
 * and the numeric building blocks. One context per `run()`, so attacks stay reusable.
 */
export class AttackContext {
  gradientEvaluations = 0;
  forwardEvaluations = 0;

  constructor(
    readonly model: Model,
    readonly threat: ResolvedThreat,
    /** Samples in the batch given to `run()`. */
    readonly batchSize: number,
    readonly eotSamples: number,
    readonly earlyStop: boolean,
  ) {}

  get norm(): Norm {
    return this.threat.norm;
  }
  get targeted(): boolean {
    return this.threat.targeted;
  }
  get bounds(): [number, number] {
    return this.threat.bounds;
  }

  /**
   * The objective at `x` and its gradient with respect to `x` (torch.autograd.grad; parameters'
   * `.grad` untouched), averaged over `eotSamples` forward passes (EOT). Counts K gradient and K
   * forward evaluations. Works inside noGrad() regions too.
   */
  lossGradient(x: Tensor, objective: Objective): Required<LossOutput> {
    const k = this.eotSamples;
    const out = enableGrad(() => scope(() => {
      const leaf = x.detach().requiresGrad_(true);
      let sum: Required<LossOutput> | null = null;
      for (let i = 0; i < k; i++) {
        const draw = scope(() => {
          const logits = this.model.forward(leaf);
          const loss = objective(logits);
          const [g] = grad(loss.sum(), leaf) as [Tensor];
          return { grad: g, loss: loss.detach(), logits: logits.detach() };
        });
        if (sum === null) sum = draw;
        else {
          sum.grad.add_(draw.grad);
          sum.loss.add_(draw.loss);
          sum.logits.add_(draw.logits);
        }
      }
      const result = sum as Required<LossOutput>;
      if (k > 1) {
        result.grad.div_(k);
        result.loss.div_(k);
        result.logits.div_(k);
      }
      return result;
    }));
    this.gradientEvaluations += k;
    this.forwardEvaluations += k;
    return out;
  }

  /** The mean logits at `x` over `eotSamples` passes (no gradients) and the objective of those mean logits. */
  evaluate(x: Tensor, objective: Objective): LossOutput {
    const k = this.eotSamples;
    const out = noGrad(() => scope(() => {
      let logits = this.model.forward(x);
      for (let i = 1; i < k; i++) logits = logits.add(this.model.forward(x));
      if (k > 1) logits = logits.div(k);
      return { logits, loss: objective(logits) };
    }));
    this.forwardEvaluations += k;
    return out;
  }

  /**
   * The model's predicted classes on `x` (one forward pass, no gradients). With `what` (e.g. "on
   * the clean images"), the logits must be finite ({@link checkFiniteLogits}).
   */
  predict(x: Tensor, what?: string): Tensor {
    this.forwardEvaluations++;
    return noGrad(() => scope(() => {
      const logits = this.model.forward(x);
      if (what !== undefined) checkFiniteLogits(logits, what);
      return logits.argmax(1);
    }));
  }

  /** bool [n]: misclassified (untargeted) or at the target (targeted), from logits [n,K] or predictions [n]. */
  isSuccess(logitsOrPredictions: Tensor, labels: Tensor): Tensor {
    return scope(() => {
      const pred = logitsOrPredictions.ndim === 2 ? logitsOrPredictions.argmax(1) : logitsOrPredictions;
      return this.targeted ? pred.eq(labels) : pred.ne(labels);
    });
  }

  /** The steepest-ascent direction of a gradient in the threat norm: sign(g) (L-inf) or g/||g||_2 per sample (L2). */
  steepest(gradient: Tensor): Tensor {
    return scope(() => (this.norm === 'linf' ? gradient.sign() : gradient.div(perSampleNorm(gradient, 2).add(1e-12).view(-1, 1, 1, 1))));
  }

  /** The L-inf ball of radius eps around `x0` intersected with the pixel bounds, as per-element limits. */
  box(x0: Tensor, eps: number): Box {
    const [lo, hi] = this.bounds;
    return scope(() => ({ lower: x0.sub(eps).clamp_(lo, hi), upper: x0.add(eps).clamp_(lo, hi) }));
  }

  /**
   * Projects `x` onto the eps-ball around `x0` in the threat norm, then clips it to the pixel bounds
   * (`box`, if given, must be {@link box}(x0, eps) and makes the L-inf case a single clamp). For L2,
   * clipping after projecting keeps the norm within eps, as it moves every pixel towards x0.
   */
  project(x: Tensor, x0: Tensor, eps: number, box?: Box): Tensor {
    const [lo, hi] = this.bounds;
    return scope(() => {
      if (this.norm === 'linf') {
        if (box) return x.clamp(box.lower, box.upper);
        return x.clamp(x0.sub(eps), x0.add(eps)).clamp_(lo, hi);
      }
      const delta = x.sub(x0);
      const factor = perSampleNorm(delta, 2).add(1e-12).reciprocal().mul_(eps).clamp_(null, 1).view(-1, 1, 1, 1);
      return x0.add(delta.mul_(factor)).clamp_(lo, hi);
    });
  }

  /** A uniformly random point of the eps-ball around `x0` (clipped to the bounds; not yet projected for L2 rounding). */
  randomStart(x0: Tensor, eps: number): Tensor {
    const [lo, hi] = this.bounds;
    return scope(() => {
      if (this.norm === 'linf') return x0.add(randLike(x0).mul_(2 * eps).sub_(eps)).clamp_(lo, hi);
      const direction = randnLike(x0);
      const unit = direction.div(perSampleNorm(direction, 2).add(1e-12).view(-1, 1, 1, 1));
      // Uniform in the ball: radius eps * U^(1/d).
      const d = x0.numel / (x0.shape[0] as number);
      const radius = randLike(zeros([x0.shape[0] as number])).pow(1 / d).mul_(eps).view(-1, 1, 1, 1);
      return x0.add(unit.mul_(radius)).clamp_(lo, hi);
    });
  }

  /** float32 [n]: ||adv - x0|| in the threat norm. */
  norms(adv: Tensor, x0: Tensor): Tensor {
    return scope(() => perSampleNorm(adv.sub(x0), this.norm === 'linf' ? Infinity : 2).float());
  }

  /**
   * A minimum-norm attack's answer at radius `eps` (C&W, FAB): for the samples at positions `rows`,
   * the example it found (`examples`, batch-sized or already those rows) where its perturbation
   * from `x` is within eps, else the clean image.
   */
  withinRadius(x: Tensor, eps: number, rows: Tensor, examples: Tensor): Tensor {
    return scope(() => {
      const adv = rows.shape[0] === this.batchSize ? examples : examples.indexSelect(0, rows);
      return where(this.norms(adv, x).le(eps).view(-1, 1, 1, 1), adv, x);
    });
  }

  /** A batch-sized tensor holding `values` at positions `rows` (zeros elsewhere), e.g. state prepared for a subset. */
  toBatch(rows: Tensor, values: Tensor): Tensor {
    return scope(() => zeros([this.batchSize, ...values.shape.slice(1)], { dtype: values.dtype }).indexCopy_(0, rows, values));
  }

  /** A new {@link ActiveSet} over samples x0/y (positions `rows` in the attacked batch), with the L-inf box when applicable. */
  activeSet(x0: Tensor, y: Tensor, eps: number, rows: Tensor, extra: Record<string, Tensor> = {}): ActiveSet {
    return scope(() => new ActiveSet(rows, { x0, y, ...(this.norm === 'linf' ? { ...this.box(x0, eps) } : {}), ...extra }));
  }

  /** Projects `x` for the samples of `active` (uses its box for L-inf). */
  projectActive(x: Tensor, active: ActiveSet, eps: number): Tensor {
    const box = active.has('lower') ? { lower: active.get('lower'), upper: active.get('upper') } : undefined;
    return this.project(x, active.get('x0'), eps, box);
  }
}

/** Per-sample p-norm of a [n,...] tensor: [n]. */
export function perSampleNorm(t: Tensor, p: number): Tensor {
  return scope(() => t.flatten(1).norm(p, 1));
}

// ---- per-sample state ------------------------------------------------------------------------------

/**
 * Named per-sample tensors (leading dimension = samples) of the samples still being attacked, and
 * their positions `rows` (int64) in the attacked batch. Every tensor is kept and replaced
 * explicitly, so an attack's state survives its per-iteration scopes without growing.
 */
export class ActiveSet {
  readonly #tensors = new Map<string, Tensor>();
  #rows: Tensor;

  constructor(rows: Tensor, tensors: Record<string, Tensor>) {
    this.#rows = rows.clone().keep();
    for (const [name, t] of Object.entries(tensors)) this.set(name, t.clone());
  }

  /** Positions of the active samples in the attacked batch (int64 [n]). */
  get rows(): Tensor {
    return this.#rows;
  }
  /** Number of active samples. */
  get size(): number {
    return this.#rows.shape[0] as number;
  }
  has(name: string): boolean {
    return this.#tensors.has(name);
  }
  get(name: string): Tensor {
    const t = this.#tensors.get(name);
    if (t === undefined) throw new Error(`ActiveSet: no tensor '${name}' (have ${[...this.#tensors.keys()].join(', ')})`);
    return t;
  }
  /** Stores `t` under `name` (kept), disposing the tensor it replaces. */
  set(name: string, t: Tensor): void {
    const old = this.#tensors.get(name);
    this.#tensors.set(name, t.keep());
    if (old !== undefined && old !== t) old.dispose();
  }
  /** Keeps only the samples where `keep` (bool [n]) is true, in every tensor. */
  filter(keep: Tensor): void {
    if (keep.all()) return;
    scope(() => {
      const index = keep.nonzero().squeeze(1);
      for (const [name, t] of this.#tensors) this.set(name, t.indexSelect(0, index));
      const rows = this.#rows.indexSelect(0, index).keep();
      this.#rows.dispose();
      this.#rows = rows;
    });
  }
  dispose(): void {
    for (const t of this.#tensors.values()) t.dispose();
    this.#tensors.clear();
    this.#rows.dispose();
  }
}

/**
 * The worst-case example found so far per sample of the attacked batch: a successful example
 * beats an unsuccessful one, and between two of the same kind the higher attack objective wins
 * (for PGD with restarts: any successful one, else the highest-loss one). Starts at the originals
 * with objective -inf.
 */
export class BestExamples {
  readonly adversarial: Tensor;
  readonly loss: Tensor;
  readonly success: Tensor;

  constructor(x0: Tensor) {
    const n = x0.shape[0] as number;
    this.adversarial = x0.clone().keep();
    this.loss = full([n], -Infinity).keep();
    this.success = zeros([n], { dtype: 'bool' }).keep();
  }

  /** Offers candidates `x` with objective `loss` and `success` for the samples at `rows`. */
  update(rows: Tensor, x: Tensor, loss: Tensor, success: Tensor): void {
    scope(() => {
      const bestLoss = this.loss.indexSelect(0, rows);
      const bestSuccess = this.success.indexSelect(0, rows);
      const better = success.logicalAnd(bestSuccess.logicalNot()).logicalOr(success.eq(bestSuccess).logicalAnd(loss.gt(bestLoss)));
      if (!better.any()) return;
      const index = better.nonzero().squeeze(1);
      const at = rows.indexSelect(0, index);
      this.adversarial.indexCopy_(0, at, x.indexSelect(0, index));
      this.loss.indexCopy_(0, at, loss.indexSelect(0, index).to(this.loss.dtype));
      this.success.indexCopy_(0, at, success.indexSelect(0, index));
    });
  }

  /** Positions (int64) of the samples without a successful example yet. */
  unsuccessfulRows(): Tensor {
    return scope(() => this.success.logicalNot().nonzero().squeeze(1));
  }

  dispose(): void {
    this.adversarial.dispose();
    this.loss.dispose();
    this.success.dispose();
  }
}

// ---- the iterative loop ------------------------------------------------------------------------

/** One iterative gradient attack, as {@link iterate} runs it. */
export interface IterativeSpec {
  /** Gradient steps. */
  steps: number;
  /** The per-sample objective to maximise, for the samples of `active` (labels: `active.get('y')` or others it holds). */
  objective(logits: Tensor, active: ActiveSet): Tensor;
  /** The first iterate (projected by the loop). Default: the originals. */
  start?(active: ActiveSet): Tensor;
  /** The next iterate before projection, from the current one (`active.get('x')`) and the objective's gradient there. */
  step(active: ActiveSet, gradient: Tensor, iteration: number): Tensor;
}

/**
 * Runs an iterative gradient attack on `active` (which must hold x0, y) at radius `eps`: `steps`
 * gradient steps, each followed by projection and clipping, offering every iterate (including the
 * last, evaluated with one extra forward pass) to `best`. With early stopping a sample leaves the
 * active set as soon as an iterate succeeds. One scope per iteration; memory stays flat.
 */
export function iterate(ctx: AttackContext, active: ActiveSet, best: BestExamples, eps: number, spec: IterativeSpec): void {
  active.set('x', scope(() => ctx.projectActive(spec.start ? spec.start(active) : active.get('x0'), active, eps)));
  for (let t = 0; t <= spec.steps && active.size > 0; t++) {
    scope(() => {
      const x = active.get('x');
      const objective: Objective = (logits) => spec.objective(logits, active);
      const last = t === spec.steps;
      const out = last ? ctx.evaluate(x, objective) : ctx.lossGradient(x, objective);
      const success = ctx.isSuccess(out.logits, active.get('y'));
      best.update(active.rows, x, out.loss, success);
      if (last) return;
      active.set('x', ctx.projectActive(spec.step(active, out.grad as Tensor, t), active, eps));
      if (ctx.earlyStop) active.filter(success.logicalNot());
    });
  }
}

// ---- the run() template ------------------------------------------------------------------------------

function scatterRows(base: Tensor, rows: Tensor, values: Tensor): Tensor {
  return scope(() => base.clone().indexCopy_(0, rows, values));
}

/** What {@link checkFiniteLogits} says of the clean pass. */
export const CLEAN = 'on the clean images';

/**
 * The base class of the attacks: implements `Attack.run` (see the module comment) around two hooks,
 * `prepare` (once per run, for work shared by all epsilons, such as FGSM's single gradient) and
 * `perturb` (the adversarial examples at one epsilon for the samples still to attack).
 */
export abstract class AttackBase<S = undefined> implements Attack {
  abstract readonly name: string;
  /** Norms the attack supports. */
  abstract readonly norms: readonly Norm[];
  /** Whether the attack can run a targeted threat model. */
  readonly targetable: boolean = true;
  readonly eotSamples: number;
  readonly earlyStop: boolean;
  readonly carryOver: boolean;
  readonly seed: number | undefined;
  readonly #random: Random | null;

  constructor(options: BaseAttackOptions, attackName: string) {
    this.eotSamples = checkInteger(options.eotSamples ?? 1, 'eotSamples', attackName);
    this.earlyStop = options.earlyStop ?? true;
    this.carryOver = options.carryOver ?? true;
    this.seed = options.seed;
    if (options.seed !== undefined) checkInteger(options.seed, 'seed', attackName, 0);
    this.#random = options.seed === undefined ? null : new Random(options.seed);
  }

  /**
   * The model's predictions on the clean batch, with which carry-over starts. An attack whose
   * first step is a forward pass at x anyway may fuse the two (FGSM's gradient pass gives the
   * clean logits) and return its prepared state for the whole batch, so that `prepare` is skipped.
   */
  protected cleanPass(ctx: AttackContext, x: Tensor, _y: Tensor, _attacking: boolean): { predictions: Tensor; state?: S } {
    return { predictions: ctx.predict(x, CLEAN) };
  }

  /**
   * Work shared by all epsilons, done once per run before the first epsilon that needs attacking,
   * on the samples `rows` of the batch still to attack then (a superset of those of later epsilons).
   * Tensors it returns live until the end of the run.
   */
  protected prepare(_ctx: AttackContext, _x: Tensor, _y: Tensor, _rows: Tensor): S {
    return undefined as S;
  }

  /**
   * Adversarial examples at radius `eps` (> 0) for `x` (the samples at positions `rows` of the
   * batch) with labels `y`; must stay within the eps-ball and the bounds.
   */
  protected abstract perturb(ctx: AttackContext, x: Tensor, y: Tensor, eps: number, rows: Tensor, state: S): Tensor;

  run(model: Model, x: Tensor, y: Tensor, threat: ThreatModel): AttackResult {
    const start = performance.now();
    const t = resolveThreat(threat, this.name, this.norms, this.targetable);
    checkBatch(x, y, t.bounds, this.name);
    const ctx = new AttackContext(model, t, x.shape[0] as number, this.eotSamples, this.earlyStop);
    const saved = this.#random === null ? null : getRngState().keep();
    if (this.#random !== null) manualSeed(this.#random.nextUint32());
    const results = new Map<number, EpsilonResult>();
    try {
      scope(() => {
        const labels = y.dtype === 'int64' ? y : y.long();
        const n = x.shape[0] as number;
        const all = tensor(Int32Array.from({ length: n }, (_, i) => i), { dtype: 'int64' });
        let previous: { adversarial: Tensor; predictions: Tensor; success: Tensor } | null = null;
        let state: { value: S } | null = null;
        if (this.carryOver) {
          const clean = this.cleanPass(ctx, x, labels, t.epsilons.some((e) => e > 0));
          if (clean.state !== undefined) state = { value: clean.state };
          previous = { adversarial: x, predictions: clean.predictions, success: ctx.isSuccess(clean.predictions, labels) };
        }
        const order = [...new Set(t.epsilons)].sort((a, b) => a - b);
        for (const eps of order) {
          const out = scope(() => {
            if (eps === 0) {
              const predictions = previous?.predictions ?? ctx.predict(x, CLEAN);
              return { adversarial: x.clone(), predictions: predictions.clone(), success: ctx.isSuccess(predictions, labels) };
            }
            const rows = previous === null ? all : previous.success.logicalNot().nonzero().squeeze(1);
            const pending = rows.shape[0] as number;
            if (pending === 0 && previous !== null) {
              return { adversarial: previous.adversarial.clone(), predictions: previous.predictions.clone(), success: previous.success.clone() };
            }
            const xs = pending === n ? x : x.indexSelect(0, rows);
            const ys = pending === n ? labels : labels.indexSelect(0, rows);
            // Returned from this scope (as `prepared`) so that it lives until the end of the run.
            const prepared = state === null ? { value: this.prepare(ctx, xs, ys, rows) } : null;
            state ??= prepared;
            const adv = this.perturb(ctx, xs, ys, eps, rows, (state as { value: S }).value);
            const predictions = ctx.predict(adv, `on the ${this.name} adversarial examples at eps ${eps}`);
            const success = ctx.isSuccess(predictions, ys);
            if (previous === null || pending === n) return { adversarial: adv, predictions, success, prepared };
            return {
              adversarial: scatterRows(previous.adversarial, rows, adv),
              predictions: scatterRows(previous.predictions, rows, predictions),
              success: scatterRows(previous.success, rows, success),
              prepared,
            };
          });
          const result: EpsilonResult = {
            epsilon: eps,
            adversarial: out.adversarial.keep(),
            success: out.success.keep(),
            predictions: out.predictions.keep(),
            norms: ctx.norms(out.adversarial, x).keep(),
          };
          results.set(eps, result);
          if (this.carryOver) previous = result;
        }
      });
    } catch (error) {
      for (const r of results.values()) disposeEpsilon(r);
      throw error;
    } finally {
      if (saved !== null) {
        setRngState(saved);
        saved.dispose();
      }
    }
    // Duplicate epsilons share one result; each gets its own copies so that dispose() stays simple.
    const seen = new Set<number>();
    const perEpsilon = t.epsilons.map((eps) => {
      const r = results.get(eps) as EpsilonResult;
      if (!seen.has(eps)) {
        seen.add(eps);
        return r;
      }
      return { epsilon: eps, adversarial: r.adversarial.clone().keep(), success: r.success.clone().keep(), norms: r.norms.clone().keep(), predictions: r.predictions.clone().keep() };
    });
    return {
      perEpsilon,
      gradientEvaluations: ctx.gradientEvaluations,
      forwardEvaluations: ctx.forwardEvaluations,
      seconds: (performance.now() - start) / 1000,
      dispose: () => perEpsilon.forEach(disposeEpsilon),
    };
  }
}

function disposeEpsilon(r: EpsilonResult): void {
  r.adversarial.dispose();
  r.success.dispose();
  r.norms.dispose();
  r.predictions.dispose();
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
