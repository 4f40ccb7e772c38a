/**
 * The contract of every attack: a threat model (norm, epsilons, pixel bounds, targeted or not), a
 * model (any differentiable x -> logits), and a result per epsilon (the Foolbox 3 idea: one call
 * sweeps all epsilons, so an FGSM sweep needs one gradient, not ten).
 */
import type { Tensor } from '../tensor/index.js';

/** The norm of the perturbation budget: L-infinity (max pixel change) or L2 (Euclidean). */
export type Norm = 'linf' | 'l2';

/** What the attacker may do: perturb each image by at most epsilon in `norm`, staying within `bounds`. */
export interface ThreatModel {
  norm: Norm;
  /** Budgets to evaluate, in pixel units of `bounds` (processed in increasing order, reported in this order). */
  epsilons: number[];
  /** Valid pixel range; default [0, 1]. */
  bounds?: [number, number];
  /** When true, `y` holds target labels and success means "classified as the target". Default false. */
  targeted?: boolean;
}

/**
 * Anything differentiable from images [N,C,H,W] to logits [N,K]: a Classifier, a purifier in front of
 * a classifier, a BPDA wrapper, an ensemble. Attacks never special-case them and switch nothing on
 * them (callers put the model in eval mode).
 */
export interface Model {
  forward(x: Tensor): Tensor;
}

/** The outcome of an attack at one epsilon. All tensors are kept and owned by the caller. */
export interface EpsilonResult {
  epsilon: number;
  /** [N,C,H,W] adversarial images, within bounds and within the epsilon-ball around the originals. */
  adversarial: Tensor;
  /**
   * bool [N]: misclassified (untargeted) or classified as the target (targeted), judged by the model's
   * predictions on `adversarial`.
   */
  success: Tensor;
  /** float32 [N]: ||adversarial - x|| in the threat model's norm. */
  norms: Tensor;
  /** int64 [N]: the model's predicted classes on `adversarial`. */
  predictions: Tensor;
}

/** The outcome of one `Attack.run`. */
export interface AttackResult {
  /** One entry per epsilon, in the order the threat model lists them. */
  perEpsilon: EpsilonResult[];
  /** Gradient computations through the model (each over the samples still being attacked; K per step with EOT). */
  gradientEvaluations: number;
  /** Forward passes through the model, including those of gradient computations and final evaluations. */
  forwardEvaluations: number;
  /** Wall-clock seconds of the run. */
  seconds: number;
  /** Frees every tensor of the result. */
  dispose(): void;
}

/** An adversarial attack. */
export interface Attack {
  /** Registry name, e.g. `pgd`. */
  readonly name: string;
  /**
   * Attacks the batch `x` (images within the threat model's bounds) with labels `y` (true labels, or
   * target labels when `threat.targeted`) at every epsilon of the threat model.
   */
  run(model: Model, x: Tensor, y: Tensor, threat: ThreatModel): AttackResult;
}
