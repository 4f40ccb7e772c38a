/**
 * Finite-difference gradient checks for tests (float64): the analytical gradient from autograd
 * against central differences, and the same for a gradient of a gradient (double backward).
 */
import { grad, noGrad, scope, tensor, type Tensor } from '../../src/tensor/index.js';

/** Largest absolute difference between analytical and numerical gradients, per input. */
export interface GradcheckResult {
  maxAbsError: number[];
  maxAbsGrad: number[];
}

function perturbedValue(fn: (inputs: Tensor[]) => Tensor, inputs: Tensor[], which: number, index: number, delta: number): number {
  return scope(() => {
    const data = inputs[which]!.toArray() as Float64Array;
    const copy = Float64Array.from(data);
    copy[index] = (copy[index] as number) + delta;
    const shifted = inputs.map((t, i) => (i === which ? tensor(copy, { shape: t.shape, dtype: 'float64' }) : t));
    return noGrad(() => fn(shifted).sum().item());
  });
}

/**
 * Checks d(sum(fn(inputs)))/d(inputs) against central differences with step `eps`.
 * Inputs must be float64 tensors with requiresGrad set.
 */
export function gradcheck(fn: (inputs: Tensor[]) => Tensor, inputs: Tensor[], eps = 1e-6): GradcheckResult {
  return scope(() => {
    const analytical = grad(fn(inputs).sum(), inputs).map((g) => g.toArray() as Float64Array);
    const maxAbsError: number[] = [];
    const maxAbsGrad: number[] = [];
    inputs.forEach((input, which) => {
      let worst = 0;
      let largest = 0;
      for (let i = 0; i < input.numel; i++) {
        const numerical = (perturbedValue(fn, inputs, which, i, eps) - perturbedValue(fn, inputs, which, i, -eps)) / (2 * eps);
        const a = analytical[which]![i] as number;
        worst = Math.max(worst, Math.abs(a - numerical));
        largest = Math.max(largest, Math.abs(a));
      }
      maxAbsError.push(worst);
      maxAbsGrad.push(largest);
    });
    return { maxAbsError, maxAbsGrad };
  });
}

/**
 * Double backward: checks the gradient of h(x) = sum(v * d(sum f(x))/dx) (built with
 * createGraph) against central differences of h, for a fixed random-like weight v.
 */
export function gradgradcheck(fn: (x: Tensor) => Tensor, x: Tensor, v: Tensor, eps = 1e-6): { maxAbsError: number; maxAbsGrad: number } {
  const h = (input: Tensor): Tensor => {
    const [g] = grad(fn(input).sum(), input, { createGraph: true });
    return g!.mul(v).sum();
  };
  return scope(() => {
    const analytical = grad(h(x), x)[0]!.toArray() as Float64Array;
    const data = x.toArray() as Float64Array;
    let worst = 0;
    let largest = 0;
    for (let i = 0; i < x.numel; i++) {
      const at = (delta: number): number =>
        scope(() => {
          const copy = Float64Array.from(data);
          copy[i] = (copy[i] as number) + delta;
          const shifted = tensor(copy, { shape: x.shape, dtype: 'float64' }).requiresGrad_();
          return h(shifted).item();
        });
      const numerical = (at(eps) - at(-eps)) / (2 * eps);
      worst = Math.max(worst, Math.abs((analytical[i] as number) - numerical));
      largest = Math.max(largest, Math.abs(analytical[i] as number));
    }
    return { maxAbsError: worst, maxAbsGrad: largest };
  });
}
