/** Gradient clipping (torch.nn.utils.clip_grad_norm_ / clip_grad_value_), in place. */
import { noGrad, scope, stack, type Tensor } from '../tensor/index.js';

/**
 * Scales the gradients of `params` so that their joint `normType`-norm is at most `maxNorm`
 * (PyTorch's formula: coefficient min(1, maxNorm / (norm + 1e-6))). Returns the norm before
 * clipping. Parameters without a gradient are ignored. With `errorIfNonfinite`, a NaN or infinite
 * norm throws instead of spreading NaNs into the weights.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number, normType = 2, options: { errorIfNonfinite?: boolean } = {}): number {
  if (!(maxNorm >= 0)) throw new RangeError(`clipGradNorm: maxNorm must be >= 0, got ${maxNorm}`);
  if (!(normType > 0)) throw new RangeError(`clipGradNorm: normType must be positive (or Infinity), got ${normType}`);
  return noGrad(() =>
    scope(() => {
      const grads = [...params].map((p) => p.grad).filter((g): g is Tensor => g !== null);
      if (grads.length === 0) return 0;
      const total =
        normType === Infinity
          ? stack(grads.map((g) => g.abs().max())).max()
          : stack(grads.map((g) => g.norm(normType))).norm(normType);
      const value = total.item();
      if (!Number.isFinite(value) && options.errorIfNonfinite) {
        throw new RangeError(`clipGradNorm: the total ${normType}-norm of the gradients is ${value}; the loss has diverged (lower the learning rate)`);
      }
      const coefficient = total.add(1e-6).reciprocal().mul(maxNorm).clamp(null, 1.0);
      for (const g of grads) g.mul_(coefficient);
      return value;
    }),
  );
}

/** Clamps every gradient element of `params` into [-clipValue, clipValue]. */
export function clipGradValue(params: Iterable<Tensor>, clipValue: number): void {
  if (!(clipValue >= 0)) throw new RangeError(`clipGradValue: clipValue must be >= 0, got ${clipValue}`);
  noGrad(() =>
    scope(() => {
      for (const p of params) p.grad?.clamp_(-clipValue, clipValue);
    }),
  );
}
