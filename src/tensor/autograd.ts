/**
 * Autograd beyond `Tensor.backward()`: `grad()` (torch.autograd.grad, with higher-order
 * gradients), and regions with recording switched off or on.
 */
import { native } from './native.js';
import { isThenable } from './scope.js';
import { fromHandle, type Tensor } from './tensor.js';

/** Options of {@link grad}. */
export interface GradOptions {
  /** Vector-Jacobian weights, one per output (required for non-scalar outputs). */
  gradOutputs?: readonly Tensor[];
  /** Keep the graph for further backward passes (default: same as createGraph). */
  retainGraph?: boolean;
  /** Record the gradient computation so that it can be differentiated again (double backward). */
  createGraph?: boolean;
  /** Return null for inputs the outputs do not depend on instead of throwing. */
  allowUnused?: boolean;
}

/**
 * Gradients of `outputs` with respect to `inputs` (torch.autograd.grad). Unlike backward(), it
 * leaves every `.grad` field untouched, which is what attacks need when they differentiate with
 * respect to the input only; with `createGraph` the result can be differentiated again (AAD, A3).
 */
export function grad(outputs: Tensor | readonly Tensor[], inputs: Tensor | readonly Tensor[], options: GradOptions = {}): Tensor[] {
  const outs = Array.isArray(outputs) ? (outputs as readonly Tensor[]) : [outputs as Tensor];
  const ins = Array.isArray(inputs) ? (inputs as readonly Tensor[]) : [inputs as Tensor];
  if (options.gradOutputs && options.gradOutputs.length !== outs.length) {
    throw new TypeError(`grad: got ${options.gradOutputs.length} gradOutputs for ${outs.length} outputs`);
  }
  const result = native.autogradGrad(
    outs.map((t) => t.handle),
    ins.map((t) => t.handle),
    options.gradOutputs ? options.gradOutputs.map((t) => t.handle) : null,
    options.retainGraph ?? null,
    options.createGraph ?? false,
    options.allowUnused ?? false,
  );
  return result.map((g, i) => {
    if (g === null) throw new Error(`grad: input ${i} is not used by the outputs; pass allowUnused to get null instead`);
    return fromHandle(g);
  });
}

/** Like {@link grad} with allowUnused: null for inputs the outputs do not depend on. */
export function gradOrNull(outputs: Tensor | readonly Tensor[], inputs: readonly Tensor[], options: Omit<GradOptions, 'allowUnused'> = {}): (Tensor | null)[] {
  const outs = Array.isArray(outputs) ? (outputs as readonly Tensor[]) : [outputs as Tensor];
  return native
    .autogradGrad(
      outs.map((t) => t.handle),
      inputs.map((t) => t.handle),
      options.gradOutputs ? options.gradOutputs.map((t) => t.handle) : null,
      options.retainGraph ?? null,
      options.createGraph ?? false,
      true,
    )
    .map((g) => (g === null ? null : fromHandle(g)));
}

function withGradMode<T>(enabled: boolean, fn: () => T): T {
  const previous = native.setGradEnabled(enabled);
  try {
    const result = fn();
    if (isThenable(result)) {
      throw new TypeError('noGrad()/enableGrad() callbacks must be synchronous (grad mode is per call, not per promise)');
    }
    return result;
  } finally {
    native.setGradEnabled(previous);
  }
}

/** Runs `fn` without recording operations for autograd (inference, weight updates). */
export function noGrad<T>(fn: () => T): T {
  return withGradMode(false, fn);
}

/** Runs `fn` with recording switched on, even inside a noGrad() region. */
export function enableGrad<T>(fn: () => T): T {
  return withGradMode(true, fn);
}

/** Whether operations are currently recorded for autograd. */
export function isGradEnabled(): boolean {
  return native.isGradEnabled();
}
