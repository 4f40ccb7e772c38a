/**
 * Adversarial training with the attack running on the fly inside the training loop, as a
 * {@link LossFunction} for `trainClassifier({ loss, metrics, trainingInfo })` (or `fit`):
 *
 * - **Madry** (Madry et al. 2018, "Towards Deep Learning Models Resistant to Adversarial Attacks"):
 *   min_theta E[ max_{||d|| <= eps} CE(f(x + d), y) ], the inner maximum by PGD with a random start;
 *   the network trains on the adversarial examples only.
 * - **ALP**, Adversarial Logit Pairing (Kannan, Kurakin & Goodfellow 2018): the mixed clean /
 *   adversarial minibatch loss (1 - w) CE(f(x), y) + w CE(f(x_adv), y), w = 0.5, plus
 *   lambda * mean over the batch and the K logits of (f(x) - f(x_adv))^2 — i.e.
 *   (lambda / K) * mean_i ||z_i - z~_i||_2^2, the mean-squared-error form of the reference
 *   implementation, lambda = 0.5 (their logit-pairing weight). x_adv is Madry's PGD example.
 * - **TRADES** (Zhang et al. 2019): CE(f(x), y) + beta * KL(f(x) || f(x_adv)) with x_adv maximising
 *   that KL by PGD (beta = 6, their CIFAR-10 value; 1 on MNIST in their code). The KL-PGD here
 *   starts at a uniform random point of the ball (PGD's start) rather than TRADES' 0.001 Gaussian
 *   jitter: both only serve to leave the zero-gradient point x_adv = x.
 *
 * Each may add AAD's attention losses (paper 004 eq. 10, src/defenses/aad.ts):
 * L = L_base + alpha L_r + beta L_p.
 *
 * The attack (src/attacks PGD, full budget per sample: no early stopping) runs with the model in
 * evaluation mode (dropout off, BatchNorm on running statistics), then the model returns to the
 * mode it was in for the loss (training mode inside fit). The attack draws its random start from
 * libtorch's global generator, which fit() seeds and checkpoints, so a resumed run repeats the
 * uninterrupted one. Of the iterates PGD visits it keeps, per sample, a misclassified one if any,
 * else the highest-loss one (src/attacks BestExamples), which is at least as strong as Madry's
 * last iterate.
 *
 * With `attackPrecision: 'bfloat16'` the training attack runs under bfloat16 autocast
 * (src/tensor/autocast.ts): its convolutions and linear layers compute in bfloat16, its iterates,
 * projections and the examples it returns stay float32, and the training loss on those examples
 * is computed in float32 as before. On a CPU with AVX512-BF16 that makes PGD-40 on paper 004's
 * LeNet 1.8x faster (2.55 -> 1.43 s per batch of 100 on one thread; bench/attacks compares the
 * same against PyTorch's autocast), and the attack is about 90% of a Madry training step
 * (bench/adversarial-training times whole Madry, Madry+AAD and bfloat16 steps against PyTorch). The
 * gradient sign it steps along is that of a slightly perturbed network, which is at most a
 * change of training-time attack, never of evaluation: every evaluation attack runs in float32.
 * Without AVX512-BF16 the same region is emulated and ~20x *slower* than float32 (AMD Zen 3:
 * 65 vs 3.1 s per batch), so recipes ask for `'auto'`: bfloat16 where the CPU has it in hardware
 * (src/tensor/runtime.ts cpuHasNativeBFloat16), float16 on CUDA, float32 otherwise. The info
 * records the precision that ran (`attackPrecision`) and the one asked for.
 *
 * With `epsWarmupEpochs`, the budget grows linearly from 0 to eps over the first epochs. On MNIST
 * at eps 0.3, PGD training from scratch with paper 004's short schedule (5 epochs) otherwise sits
 * at chance accuracy for hundreds of steps (Madry et al. train 100,000 steps and can afford it).
 *
 * Metrics (per batch, averaged per epoch by fit): `accuracy` is the accuracy on the training
 * attack's adversarial examples (in training mode when training; in validation, the robust
 * accuracy under the training attack, so `saveBest: val_accuracy` selects the most robust epoch),
 * `clean_accuracy` where the clean logits are computed anyway (ALP, TRADES, AAD), `attack_ms` the
 * wall time of the attack per batch, and `l_r`, `l_p` with AAD.
 */
import { autocast, cat, cpuHasNativeBFloat16, enableGrad, noGrad, scope, type AutocastDType, type Tensor } from '../tensor/index.js';
import { crossEntropy, klDiv, multilabelSoftMarginLoss, mseLoss } from '../nn/functional.js';
import type { Module } from '../nn/index.js';
import type { FitEvent, Metric, LossFunction } from '../train/index.js';
import { PGD, type PGDOptions } from '../attacks/pgd.js';
import type { ActiveSet, AttackContext } from '../attacks/base.js';
import type { Attack, Model, Norm } from '../attacks/types.js';
import { BastionError } from '../util/errors.js';
import { aadTerms, requireClassifier, resolveAAD, type AADOptions, type ResolvedAAD } from './aad.js';

/** The base methods. */
export type AdversarialMethod = 'madry' | 'alp' | 'trades';

/** The per-sample classification loss wherever the methods use one. */
export type ClassificationLoss = 'ce' | 'mlsm';

/** Every method name, for the CLI. */
export const ADVERSARIAL_METHODS: readonly AdversarialMethod[] = ['madry', 'alp', 'trades'];

/** Options of {@link adversarialTraining}. */
export interface AdversarialTrainingOptions {
  method: AdversarialMethod;
  /** Perturbation budget of the training attack (pixel units). */
  eps: number;
  /** Threat norm of the training attack (default linf). */
  norm?: Norm;
  /** PGD iterations of the training attack (default 40, Madry et al.'s MNIST setting). */
  steps?: number;
  /** PGD step size (default: 2.5 eps / steps, PGD's default). */
  stepSize?: number;
  /** Random start in the eps-ball (default true). */
  randomStart?: boolean;
  /** Pixel bounds (default [0, 1]). */
  bounds?: [number, number];
  /** Classification loss: softmax cross-entropy (default) or multi-label soft margin on one-hot targets (paper 004's L_c). */
  classificationLoss?: ClassificationLoss;
  /** ALP: logit-pairing weight lambda (default 0.5). */
  alpWeight?: number;
  /** ALP: weight w of the adversarial half of the mixed loss (default 0.5). */
  alpAdversarialWeight?: number;
  /** TRADES: weight beta of the KL term (default 6). */
  tradesBeta?: number;
  /** Add AAD's attention losses (paper 004 eq. 10); true for the defaults. */
  aad?: AADOptions | boolean;
  /**
   * Ramp the training budget linearly from 0 to eps over this many epochs (by batch; default 0:
   * the full eps from the first batch). Needs {@link AdversarialTraining.observe} as the training
   * loop's onEvent, which also makes the ramp exact after a resume.
   */
  epsWarmupEpochs?: number;
  /** Precision of the training attack's forward and backward passes (default float32; 'auto' picks by hardware; see the module comment). */
  attackPrecision?: AttackPrecisionRequest;
}

/** Precisions the training attack can run in: full, or an autocast precision. */
export type AttackPrecision = 'float32' | AutocastDType;

/** What a caller may ask for: a precision, or 'auto' (the fastest one this hardware has; see the module comment). */
export type AttackPrecisionRequest = AttackPrecision | 'auto';

/** Every attack precision request, for the CLI and experiment files. */
export const ATTACK_PRECISIONS: readonly AttackPrecisionRequest[] = ['auto', 'float32', 'bfloat16', 'float16'];

/** The precision 'auto' stands for on `device`: bfloat16 on a CPU with AVX512-BF16, float16 on CUDA, else float32; other requests unchanged. */
export function resolveAttackPrecision(request: AttackPrecisionRequest, device: 'cpu' | 'cuda' = 'cpu'): AttackPrecision {
  if (request !== 'auto') return request;
  if (device === 'cuda') return 'float16';
  return cpuHasNativeBFloat16() ? 'bfloat16' : 'float32';
}

/** The defense settings with defaults filled in, as recorded in model.json `training`. */
export interface AdversarialTrainingInfo {
  defense: AdversarialMethod;
  attack: { name: string; norm: Norm; eps: number; steps: number; stepSize: number; randomStart: boolean; bounds: [number, number] };
  classificationLoss: ClassificationLoss;
  alp?: { weight: number; adversarialWeight: number };
  trades?: { beta: number };
  aad: ResolvedAAD | null;
  epsWarmupEpochs: number;
  /** The precision the training attack ran in (on CPU; 'auto' on CUDA runs float16). */
  attackPrecision: AttackPrecision;
  /** What was asked for ('auto' or the same precision). */
  attackPrecisionRequested: AttackPrecisionRequest;
}

/** A ready-to-use adversarial-training loss with its metrics and description. */
export interface AdversarialTraining {
  loss: LossFunction;
  metrics: Record<string, Metric>;
  info: AdversarialTrainingInfo;
  /** The attack used inside the loop. */
  attack: Attack;
  /** Follows the training loop (epoch and batch) for the eps warm-up: pass it as fit's / trainClassifier's onEvent. */
  observe: (event: FitEvent) => void;
}

/**
 * PGD on TRADES' inner objective: maximise KL(f(x) || f(x')) over the eps-ball (Zhang et al. 2019,
 * Algorithm 1). The clean distribution f(x) is computed once per sample, without gradient.
 */
export class KLPGD extends PGD {
  override readonly name: string = 'kl-pgd';

  constructor(options: Omit<PGDOptions, 'loss' | 'confidence'> = {}) {
    super(options, 'kl-pgd');
  }

  protected override initialState(ctx: AttackContext, x: Tensor): Record<string, Tensor> {
    ctx.forwardEvaluations++;
    return { clean: noGrad(() => scope(() => ctx.model.forward(x).softmax(1))) };
  }

  protected override objective(_ctx: AttackContext, logits: Tensor, active: ActiveSet): Tensor {
    return scope(() => klDiv(logits.logSoftmax(1), active.get('clean'), { reduction: 'none' }).sum(1));
  }
}

function classification(kind: ClassificationLoss, logits: Tensor, y: Tensor): Tensor {
  if (kind === 'ce') return crossEntropy(logits, y);
  return scope(() => multilabelSoftMarginLoss(logits, y.oneHot(logits.shape[1] as number).to(logits.dtype)));
}

function check(value: number, name: string, min = 0): number {
  if (!Number.isFinite(value) || value < min) throw new BastionError(`adversarial training: ${name} must be a number >= ${min}, got ${value}`, { exitCode: 2 });
  return value;
}

/**
 * The loss, metrics and description of adversarial training by `options.method` (see the module
 * comment), optionally with AAD.
 */
export function adversarialTraining(options: AdversarialTrainingOptions): AdversarialTraining {
  const { method } = options;
  if (!ADVERSARIAL_METHODS.includes(method)) {
    throw new BastionError(`unknown adversarial-training method '${String(method)}'`, { hint: `choose one of ${ADVERSARIAL_METHODS.join(', ')}`, exitCode: 2 });
  }
  const eps = check(options.eps, 'eps');
  if (eps === 0) throw new BastionError('adversarial training: eps must be > 0', { hint: 'e.g. 0.3 on MNIST, 8/255 on CIFAR-10', exitCode: 2 });
  const norm = options.norm ?? 'linf';
  const steps = options.steps ?? 40;
  if (!Number.isInteger(steps) || steps < 1) throw new BastionError(`adversarial training: attack steps must be an integer >= 1, got ${steps}`, { exitCode: 2 });
  const stepSize = check(options.stepSize ?? (2.5 * eps) / steps, 'step size');
  const randomStart = options.randomStart ?? true;
  const bounds = options.bounds ?? [0, 1];
  const classificationLoss = options.classificationLoss ?? 'ce';
  if (classificationLoss !== 'ce' && classificationLoss !== 'mlsm') throw new BastionError(`classification loss must be ce or mlsm, got '${String(classificationLoss)}'`, { exitCode: 2 });
  const aad = options.aad === undefined || options.aad === false ? null : resolveAAD(options.aad === true ? {} : options.aad);
  const attackOptions = { steps, stepSize, randomStart, earlyStop: false, carryOver: false };
  const attack = method === 'trades' ? new KLPGD(attackOptions) : new PGD({ ...attackOptions, loss: 'ce' });
  const threat = { norm, epsilons: [eps], bounds };
  const alp = { weight: check(options.alpWeight ?? 0.5, 'ALP weight'), adversarialWeight: check(options.alpAdversarialWeight ?? 0.5, 'ALP adversarial weight') };
  if (alp.adversarialWeight > 1) throw new BastionError(`ALP adversarial weight must be in [0, 1], got ${alp.adversarialWeight}`, { exitCode: 2 });
  const trades = { beta: check(options.tradesBeta ?? 6, 'TRADES beta') };
  const epsWarmupEpochs = check(options.epsWarmupEpochs ?? 0, 'eps warm-up epochs');
  const attackPrecisionRequested = options.attackPrecision ?? 'float32';
  if (!ATTACK_PRECISIONS.includes(attackPrecisionRequested)) {
    throw new BastionError(`adversarial training: unknown attack precision '${String(attackPrecisionRequested)}'`, { hint: `choose one of ${ATTACK_PRECISIONS.join(', ')}`, exitCode: 2 });
  }
  const attackPrecision = resolveAttackPrecision(attackPrecisionRequested);
  const loop = { epoch: -1, batch: 0, batches: 0 };
  const observe = (event: FitEvent): void => {
    if (event.type === 'epoch-start') Object.assign(loop, { epoch: event.epoch, batch: event.startBatch, batches: event.batches });
    else if (event.type === 'batch') Object.assign(loop, { batch: event.batch + 1, batches: event.batches });
  };
  /** The budget of the current training batch (the full eps outside training and after the warm-up). */
  const currentEps = (training: boolean): number => {
    if (!training || epsWarmupEpochs === 0) return eps;
    if (loop.epoch < 0) {
      throw new BastionError('adversarial training: the eps warm-up needs the training loop\'s events', { hint: 'pass the AdversarialTraining\'s observe as onEvent to fit / trainClassifier' });
    }
    const progress = (loop.epoch + (loop.batches > 0 ? loop.batch / loop.batches : 0)) / epsWarmupEpochs;
    return eps * Math.min(1, progress);
  };

  const last = { attackMs: 0, cleanAccuracy: NaN, lr: NaN, lp: NaN, eps };
  const accuracyOf = (logits: Tensor, y: Tensor): number => scope(() => logits.argmax(1).eq(y).float().mean().item());

  const loss: LossFunction = (module: Module, batch) => enableGrad(() => {
    const model = module as Module & Model;
    const y = batch.y;
    // The attack, in evaluation mode.
    const wasTraining = model.training;
    const started = performance.now();
    last.eps = currentEps(wasTraining);
    model.eval();
    let xAdv: Tensor;
    try {
      const run = () => attack.run(model, batch.x, y, { ...threat, epsilons: [last.eps] });
      const device = batch.x.device === 'cpu' ? 'cpu' : 'cuda';
      const precision = device === 'cpu' ? attackPrecision : resolveAttackPrecision(attackPrecisionRequested, device);
      const result = precision === 'float32' ? run() : autocast(precision, run, device);
      try {
        xAdv = (result.perEpsilon[0] as { adversarial: Tensor }).adversarial.clone();
      } finally {
        result.dispose();
      }
    } finally {
      model.train(wasTraining);
    }
    last.attackMs = performance.now() - started;

    // The loss, in the caller's mode.
    let cleanLogits: Tensor | null = null;
    let advLogits: Tensor;
    let penalty: Tensor | null = null;
    if (aad !== null) {
      const terms = aadTerms(requireClassifier(model, 'AAD'), batch.x, xAdv, y, aad);
      [cleanLogits, advLogits, penalty] = [terms.cleanLogits, terms.adversarialLogits, terms.penalty];
      last.lr = terms.rectification.item();
      last.lp = terms.preservation.item();
    } else if (method === 'madry') {
      advLogits = model.forward(xAdv);
    } else {
      const n = batch.x.shape[0] as number;
      const logits = model.forward(cat([batch.x, xAdv]));
      [cleanLogits, advLogits] = [logits.narrow(0, 0, n), logits.narrow(0, n, n)];
    }
    let base: Tensor;
    if (method === 'madry') {
      base = classification(classificationLoss, advLogits, y);
    } else if (method === 'alp') {
      const clean = cleanLogits as Tensor;
      base = classification(classificationLoss, clean, y).mul(1 - alp.adversarialWeight)
        .add(classification(classificationLoss, advLogits, y).mul(alp.adversarialWeight))
        .add(mseLoss(clean, advLogits).mul(alp.weight));
    } else {
      const clean = cleanLogits as Tensor;
      base = classification(classificationLoss, clean, y)
        .add(klDiv(advLogits.logSoftmax(1), clean.softmax(1), { reduction: 'batchmean' }).mul(trades.beta));
    }
    last.cleanAccuracy = cleanLogits === null ? NaN : accuracyOf(cleanLogits, y);
    return { loss: penalty === null ? base : base.add(penalty), output: advLogits };
  });

  const metrics: Record<string, Metric> = {
    accuracy: (output, batch) => accuracyOf(output, batch.y),
    attack_ms: () => last.attackMs,
  };
  if (method !== 'madry' || aad !== null) metrics['clean_accuracy'] = () => last.cleanAccuracy;
  if (aad !== null) {
    metrics['l_r'] = () => last.lr;
    metrics['l_p'] = () => last.lp;
  }
  if (epsWarmupEpochs > 0) metrics['eps'] = () => last.eps;
  const info: AdversarialTrainingInfo = {
    defense: method,
    attack: { name: attack.name, norm, eps, steps, stepSize, randomStart, bounds: [bounds[0], bounds[1]] },
    classificationLoss,
    ...(method === 'alp' ? { alp } : {}),
    ...(method === 'trades' ? { trades } : {}),
    aad,
    epsWarmupEpochs,
    attackPrecision,
    attackPrecisionRequested,
  };
  return { loss, metrics, info, attack, observe };
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
