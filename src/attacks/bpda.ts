/**
 * BPDA, Backward Pass Differentiable Approximation (Athalye et al. 2018, "Obfuscated Gradients Give
 * a False Sense of Security", sec. 4.1): attack a model behind a non-differentiable (or gradient-
 * masking) preprocessor g by using g on the forward pass and the identity on the backward pass,
 * i.e. g(x) ~ x where differentiating. Implemented as the straight-through estimator
 *
 *     forward(x) = model(x + (g(x) - x).detach())
 *
 * whose value is model(g(x)) (up to float rounding of x + (g(x) - x)) and whose input gradient is
 * the model's gradient at g(x). The wrapper is itself a `Model`, so every attack runs through it
 * unchanged; combine with EOT (`eotSamples`) when g is randomised.
 */
import { noGrad, scope, type Tensor } from '../tensor/index.js';
import type { Model } from './types.js';

/** A preprocessor (purifier, quantiser, JPEG, ...): images to images of the same shape. */
export type Preprocessor = (x: Tensor) => Tensor;

/** `model` behind `preprocess`, differentiated as if `preprocess` were the identity. */
export class BPDA implements Model {
  constructor(
    readonly preprocess: Preprocessor,
    readonly model: Model,
  ) {}

  forward(x: Tensor): Tensor {
    return scope(() => {
      const offset = noGrad(() => scope(() => {
        const input = x.detach();
        const out = this.preprocess(input);
        if (out.shape.join(',') !== input.shape.join(',')) {
          throw new TypeError(`BPDA: the preprocessor must keep the input shape [${input.shape.join(',')}], got [${out.shape.join(',')}]`);
        }
        return out.sub(input);
      }));
      return this.model.forward(x.add(offset));
    });
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
