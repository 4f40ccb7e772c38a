/**
 * Grad-CAM (Selvaraju et al. 2017) and the attention measures of paper 004 (AAD):
 *
 *   eq. 1-2  g(x) = ReLU( sum_k alpha_k^c A^k ),  alpha_k^c = mean_ij d y^c / d A^k_ij
 *   eq. 3    Att(x) = g(x) >= kappa   (kappa fixed, or the mean of the map — the paper's default)
 *   eq. 5-6  IoU of two attention areas, or of an attention area and a ground-truth box
 *   Table 3  attention areas as the top-k cells of the map
 *
 * With `createGraph`, the map stays differentiable with respect to the network's parameters and
 * the input (double backward), so losses on it can train the network (AAD's preservation loss)
 * or drive an attack (the A3 attack).
 */
import { grad, noGrad, scope, tensor, type Tensor } from '../tensor/index.js';
import { interpolate } from '../nn/functional.js';
import type { Classifier } from '../models/index.js';

/** Options of {@link gradCam}. */
export interface GradCamOptions {
  /** Classes to explain, int64 [N] (default: the model's predictions). */
  classes?: Tensor;
  /** Tap point of the classifier (default: its camLayer, the last convolutional feature map). */
  layer?: string;
  /** Keep the map differentiable (for losses on it: AAD, A3). Default false. */
  createGraph?: boolean;
}

/** A Grad-CAM result: the maps, the logits of the same forward pass, and the explained classes. */
export interface GradCamResult {
  /** [N, h, w] non-negative maps at the layer's resolution. */
  maps: Tensor;
  logits: Tensor;
  classes: Tensor;
}

/**
 * Grad-CAM maps of `model` on `x` (eq. 1-2 of paper 004). The maps are at the resolution of the
 * chosen layer; use {@link upsampleMap} for image size.
 */
export function gradCam(model: Classifier, x: Tensor, options: GradCamOptions = {}): GradCamResult {
  const createGraph = options.createGraph ?? false;
  return scope(() => {
    const { logits, activation } = model.forwardWithActivation(x, options.layer);
    const classes = options.classes ?? noGrad(() => logits.argmax(1));
    return { maps: gradCamFromActivation(logits, activation, classes, createGraph), logits, classes };
  });
}

/**
 * Grad-CAM maps [N,h,w] (eq. 2) from the logits and the tap activation of one forward pass
 * (`Classifier.forwardWithActivation`), for `classes` (int64 [N]). The graph of the forward pass is
 * retained; with `createGraph` the maps stay differentiable (otherwise they are detached). For
 * callers that already ran the forward pass, e.g. an attack objective that adds an attention term.
 */
export function gradCamFromActivation(logits: Tensor, activation: Tensor, classes: Tensor, createGraph = false): Tensor {
  return scope(() => {
    const score = logits.gather(1, classes.reshape(-1, 1)).sum();
    const [dA] = grad(score, activation, { createGraph, retainGraph: true });
    const weights = (dA as Tensor).mean([2, 3], { keepdim: true });
    const maps = activation.mul(weights).sum(1).relu();
    return createGraph ? maps : maps.detach();
  });
}

/** Bilinear upsampling of [N,h,w] maps to [N,H,W]. */
export function upsampleMap(maps: Tensor, height: number, width: number): Tensor {
  return scope(() => interpolate(maps.unsqueeze(1), { size: [height, width], mode: 'bilinear', alignCorners: false }).squeeze(1));
}

/** Per-sample division by the map's maximum, so every map spans [0, 1] (all-zero maps stay zero). */
export function normalizeMaps(maps: Tensor): Tensor {
  return scope(() => maps.div(maps.amax([1, 2], true).clamp(1e-12)));
}

/**
 * The attention area Att(x) = g(x) >= kappa (eq. 3): a bool mask [N,h,w]. kappa is a number or
 * 'mean' (per-sample mean of the map, paper 004's default).
 */
export function attentionArea(maps: Tensor, kappa: number | 'mean' = 'mean'): Tensor {
  return scope(() => (kappa === 'mean' ? maps.ge(maps.mean([1, 2], { keepdim: true })) : maps.ge(kappa)));
}

/** The `cells` highest-scoring cells of each map as a bool mask [N,h,w] (Table 3's attention areas). */
export function topCells(maps: Tensor, cells: number): Tensor {
  const [n, h, w] = maps.shape as [number, number, number];
  if (!Number.isInteger(cells) || cells < 1 || cells > h * w) throw new RangeError(`topCells: cells must be in [1, ${h * w}], got ${cells}`);
  return scope(() => {
    const flat = maps.reshape(n, h * w);
    const { indices } = flat.topk(cells, 1);
    return flat.mul(0).scatter(1, indices, 1).gt(0).reshape(n, h, w);
  });
}

/** Intersection over union of two bool masks, per sample (eq. 5-6); 0 when both are empty. */
export function maskIoU(a: Tensor, b: Tensor): Tensor {
  return scope(() => {
    const inter = a.logicalAnd(b).flatten(1).sum(1).to('float32');
    const union = a.logicalOr(b).flatten(1).sum(1).to('float32');
    return inter.div(union.clamp(1));
  });
}

/** A box in pixel coordinates of an HxW image: [x0, y0, x1, y1), x to the right, y down. */
export type Box = readonly [number, number, number, number];

/** A bool mask [N,H,W] that is true inside each sample's box (boxes: one per sample). */
export function boxMask(boxes: readonly Box[], height: number, width: number): Tensor {
  return scope(() => {
    const data = new Uint8Array(boxes.length * height * width);
    boxes.forEach(([x0, y0, x1, y1], n) => {
      for (let y = Math.max(0, Math.floor(y0)); y < Math.min(height, Math.ceil(y1)); y++) {
        for (let x = Math.max(0, Math.floor(x0)); x < Math.min(width, Math.ceil(x1)); x++) data[n * height * width + y * width + x] = 1;
      }
    });
    return tensor(data, { shape: [boxes.length, height, width], dtype: 'bool' });
  });
}
