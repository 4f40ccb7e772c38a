/**
 * AAD, Attention-based Adversarial Defense (paper 004, Wu et al. 2022, sec. 4.1-4.2): two losses on
 * Grad-CAM activation maps added to an adversarial-training loss.
 *
 *   eq. 7   x^m = x ⊙ [1 - Att(x)]                                   (hard mask of the attention area)
 *   eq. 8   L_r(x) = -[ D(f(x), f(x^m)) + D(f(x_adv), f(x_adv^m)) ]   (rectification)
 *   eq. 9   L_p(x) = D'(g(x), g(x_adv))                               (preservation)
 *   eq. 10  L_total = L_c + alpha L_r + beta L_p,   alpha = beta = 0.01 (sec. 5.4: best setting)
 *
 * Readings chosen where the paper leaves room (each is what its text and numbers support best):
 *
 * - g(.) is Grad-CAM (eq. 1-2, src/explain/gradcam.ts) at the classifier's `camLayer` (LeNet:
 *   'block2', 7x7; ResNet-9: 'layer3') for the **true label** of each image, on both the clean and
 *   the adversarial image: the analysis of sec. 3 compares maps "toward the true labels", and the
 *   defense wants the adversarial image to keep the attention that supports the correct class.
 * - Att(x) (eq. 3) thresholds the map at kappa = the per-image mean of the map (sec. 5.1:
 *   kappa = mean(g(x))), after bilinear upsampling to the image size, since eq. 7 multiplies it
 *   into the image. The mask is a hard {0,1} mask ("a hard mask is imposed") and carries no gradient;
 *   all channels of a pixel are masked together.
 * - x_adv^m masks the adversarial image with **its own** attention area Att(x_adv) ("the same
 *   constraint is added to the adversarial image").
 * - D in eq. 8 is the L2 norm of the difference of the softmax outputs (sec. 5.1: "l2-norm ... to
 *   increase the distance between the soft labels"), per image, averaged over the batch. The norm
 *   is sqrt(sum + 1e-12) so that its gradient stays finite when the two outputs coincide.
 * - D' in eq. 9 is the L1 norm (sec. 5.1: "l1-norm in Eqn. (9) to encourage sparsity") of the
 *   difference of the raw (unnormalised) maps at the layer's resolution (sec. 3: "if there is no
 *   need to resize ... we use L_Grad-CAM directly"), summed over the cells of each image and
 *   averaged over the batch. Both maps stay in the graph (double backward through Grad-CAM), so
 *   the network learns to move either towards the other.
 * - L_c is the base method's classification loss (Madry: on x_adv; ALP: mixed clean/adversarial
 *   plus logit pairing; TRADES: natural loss plus KL), see adversarial-training.ts. The paper
 *   calls L_c "the standard multi-label soft margin loss"; with one-hot targets that is the
 *   class-averaged sigmoid cross-entropy. Bastion's default is the softmax cross-entropy on which
 *   Madry, ALP and TRADES are defined, so that a "+AAD" row differs from its base row only by the
 *   attention terms; `classificationLoss: 'mlsm'` gives the paper's literal L_c (for base and
 *   AAD rows alike).
 *
 * Cost: one forward pass over [x; x_adv] that keeps the tap activation, one Grad-CAM gradient
 * with createGraph, one forward pass over the two masked batches, and the backward pass through
 * all of it (including the double backward of the preservation loss).
 */
import { cat, noGrad, scope, type Tensor } from '../tensor/index.js';
import { gradCam, attentionArea, upsampleMap } from '../explain/gradcam.js';
import { Classifier } from '../models/index.js';
import { BastionError } from '../util/errors.js';

/** Settings of the AAD losses (eq. 10). */
export interface AADOptions {
  /** Weight alpha of the rectification loss (default 0.01, paper sec. 5.4). */
  alpha?: number;
  /** Weight beta of the preservation loss (default 0.01, paper sec. 5.4). */
  beta?: number;
  /** Grad-CAM tap point (default: the classifier's camLayer). */
  layer?: string;
  /** Threshold of the attention area: a number or 'mean' (default, paper sec. 5.1). */
  kappa?: number | 'mean';
}

/** AAD settings with defaults filled in (recorded in model.json). */
export interface ResolvedAAD {
  alpha: number;
  beta: number;
  layer: string | null;
  kappa: number | 'mean';
}

/** Fills in the defaults of {@link AADOptions} and checks them. */
export function resolveAAD(options: AADOptions = {}): ResolvedAAD {
  const alpha = options.alpha ?? 0.01;
  const beta = options.beta ?? 0.01;
  for (const [name, v] of [['alpha', alpha], ['beta', beta]] as const) {
    if (!Number.isFinite(v) || v < 0) throw new BastionError(`AAD: ${name} must be a number >= 0, got ${v}`, { exitCode: 2 });
  }
  const kappa = options.kappa ?? 'mean';
  if (kappa !== 'mean' && !Number.isFinite(kappa)) throw new BastionError(`AAD: kappa must be a number or 'mean', got ${String(kappa)}`, { exitCode: 2 });
  return { alpha, beta, layer: options.layer ?? null, kappa };
}

/**
 * Eq. 7: the images with their attention area blacked out, x ⊙ (1 - Att(x)). `maps` [N,h,w] are
 * Grad-CAM maps of `x` [N,C,H,W]; they are upsampled to HxW (bilinear) and thresholded at kappa
 * (eq. 3). The mask is computed without gradient.
 */
export function maskAttention(x: Tensor, maps: Tensor, kappa: number | 'mean' = 'mean'): Tensor {
  const [, , height, width] = x.shape as [number, number, number, number];
  return scope(() => {
    const keep = noGrad(() => attentionArea(upsampleMap(maps.detach(), height, width), kappa).logicalNot().to(x.dtype).unsqueeze(1));
    return x.mul(keep);
  });
}

/** D of eq. 8: per-image L2 distance between the softmax outputs of two logit batches, [N]. */
export function softmaxDistance(logits: Tensor, otherLogits: Tensor): Tensor {
  return scope(() => logits.softmax(1).sub(otherLogits.softmax(1)).square().sum(1).add(1e-12).sqrt());
}

/**
 * Eq. 8: L_r = -[mean D(f(x), f(x^m)) + mean D(f(x_adv), f(x_adv^m))], from the four logit batches.
 * Minimising it pushes the predictions of the masked images away from those of the unmasked ones,
 * i.e. it makes the attention area hold everything the prediction needs.
 */
export function rectificationLoss(clean: Tensor, cleanMasked: Tensor, adversarial: Tensor, adversarialMasked: Tensor): Tensor {
  return scope(() => softmaxDistance(clean, cleanMasked).mean().add(softmaxDistance(adversarial, adversarialMasked).mean()).neg());
}

/** Eq. 9: L_p = mean over images of ||g(x) - g(x_adv)||_1 (sum over the map's cells). */
export function preservationLoss(cleanMaps: Tensor, adversarialMaps: Tensor): Tensor {
  if (cleanMaps.shape.join(',') !== adversarialMaps.shape.join(',')) {
    throw new TypeError(`preservationLoss: maps [${cleanMaps.shape.join(',')}] and [${adversarialMaps.shape.join(',')}] differ in shape`);
  }
  return scope(() => cleanMaps.sub(adversarialMaps).abs().flatten(1).sum(1).mean());
}

/** What {@link aadTerms} computes for one batch (all in the graph). */
export interface AADTerms {
  /** Logits of the clean images (from the Grad-CAM pass; reuse them for L_c). */
  cleanLogits: Tensor;
  /** Logits of the adversarial images (same pass). */
  adversarialLogits: Tensor;
  /** L_r (eq. 8). */
  rectification: Tensor;
  /** L_p (eq. 9). */
  preservation: Tensor;
  /** alpha L_r + beta L_p. */
  penalty: Tensor;
}

/** Throws unless `model` can give Grad-CAM maps. */
export function requireClassifier(model: unknown, what: string): Classifier {
  if (!(model instanceof Classifier)) {
    throw new BastionError(`${what} needs a zoo classifier with Grad-CAM tap points (src/models), got ${(model as object)?.constructor?.name ?? typeof model}`, {
      hint: 'train one of the architectures listed by `bastion models`',
    });
  }
  return model;
}

/**
 * The AAD terms of eq. 8-10 for clean images `x`, their adversarial examples `xAdv` and labels `y`,
 * with the model in whatever mode the caller set (training mode when training). One Grad-CAM pass
 * over [x; x_adv] gives both logit batches and both maps (differentiable); see the module comment.
 */
export function aadTerms(model: Classifier, x: Tensor, xAdv: Tensor, y: Tensor, options: ResolvedAAD): AADTerms {
  const n = x.shape[0] as number;
  return scope(() => {
    const labels = y.dtype === 'int64' ? y : y.long();
    const both = cat([x, xAdv]);
    const { maps, logits } = gradCam(model, both, { classes: cat([labels, labels]), createGraph: true, ...(options.layer ? { layer: options.layer } : {}) });
    const masked = maskAttention(both, maps, options.kappa);
    const maskedLogits = model.forward(masked);
    const [cleanLogits, adversarialLogits] = [logits.narrow(0, 0, n), logits.narrow(0, n, n)];
    const rectification = rectificationLoss(cleanLogits, maskedLogits.narrow(0, 0, n), adversarialLogits, maskedLogits.narrow(0, n, n));
    const preservation = preservationLoss(maps.narrow(0, 0, n), maps.narrow(0, n, n));
    const penalty = rectification.mul(options.alpha).add(preservation.mul(options.beta));
    return { cleanLogits, adversarialLogits, rectification, preservation, penalty };
  });
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
