/** Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay (torch.optim.SGD). */
import { noGrad, zerosLike, type Tensor } from '../tensor/index.js';
import { Optimizer, OptimizerError, type BaseHyperParams, type ParamsInput } from './optimizer.js';

/** Hyper-parameters of {@link SGD} (per group). */
export interface SGDHyperParams extends BaseHyperParams {
  /** Momentum factor (default 0: plain SGD). */
  momentum: number;
  /** Dampening of the momentum (default 0). */
  dampening: number;
  /** L2 penalty added to the gradient (default 0). */
  weightDecay: number;
  /** Nesterov momentum (Sutskever et al. 2013; needs momentum > 0 and dampening 0). */
  nesterov: boolean;
}

/**
 * SGD with PyTorch's exact update (torch.optim.SGD, single-tensor path):
 *   d = g + weightDecay * p
 *   b = d on the first step, else momentum * b + (1 - dampening) * d
 *   d = d + momentum * b (Nesterov) or d = b
 *   p = p - lr * d
 * The momentum buffer and one scratch tensor (when weight decay or Nesterov need it) are
 * allocated once per parameter; every step works in place.
 */
export class SGD extends Optimizer<SGDHyperParams> {
  readonly #buffers: (Tensor | null)[];
  readonly #bufferReady: boolean[];
  readonly #scratch: (Tensor | null)[];

  constructor(params: ParamsInput<SGDHyperParams>, options: Partial<SGDHyperParams> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options });
    for (const [g, group] of this.paramGroups.entries()) {
      if (!(group.lr >= 0)) throw new OptimizerError(`SGD: group ${g}: lr must be >= 0, got ${group.lr}`);
      if (!(group.momentum >= 0)) throw new OptimizerError(`SGD: group ${g}: momentum must be >= 0, got ${group.momentum}`);
      if (!(group.weightDecay >= 0)) throw new OptimizerError(`SGD: group ${g}: weightDecay must be >= 0, got ${group.weightDecay}`);
      if (group.nesterov && (group.momentum <= 0 || group.dampening !== 0)) {
        throw new OptimizerError(`SGD: group ${g}: Nesterov momentum needs momentum > 0 and dampening 0`);
      }
    }
    this.#buffers = this.params.map(() => null);
    this.#bufferReady = this.params.map(() => false);
    this.#scratch = this.params.map(() => null);
    let i = 0;
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (group.momentum !== 0) this.#buffers[i] = zerosLike(p).keep();
        if (group.weightDecay !== 0 || group.nesterov) this.#scratch[i] = zerosLike(p).keep();
        i++;
      }
    }
  }

  #bufferOf(i: number): Tensor {
    return (this.#buffers[i] ??= zerosLike(this.params[i] as Tensor).keep());
  }

  #scratchOf(i: number): Tensor {
    return (this.#scratch[i] ??= zerosLike(this.params[i] as Tensor).keep());
  }

  step(): void {
    noGrad(() => {
      let i = 0;
      for (const group of this.paramGroups) {
        const { lr, momentum, dampening, weightDecay, nesterov } = group;
        for (const p of group.params) {
          const index = i++;
          const grad = p.grad;
          if (grad === null) continue;
          try {
            let d = grad;
            if (weightDecay !== 0) d = this.#scratchOf(index).copy_(grad).add_(p, weightDecay);
            if (momentum !== 0) {
              const buf = this.#bufferOf(index);
              if (this.#bufferReady[index]) buf.mul_(momentum).add_(d, 1 - dampening);
              else {
                buf.copy_(d);
                this.#bufferReady[index] = true;
              }
              if (nesterov) {
                const scratch = this.#scratchOf(index);
                if (d !== scratch) scratch.copy_(d);
                d = scratch.add_(buf, momentum);
              } else d = buf;
            }
            p.add_(d, -lr);
          } finally {
            grad.dispose();
          }
        }
      }
    });
  }

  protected paramScalars(_index: number): Record<string, number | boolean> {
    return {};
  }

  protected paramTensors(index: number): Record<string, Tensor> {
    const buf = this.#buffers[index];
    return buf !== null && buf !== undefined && this.#bufferReady[index] ? { momentum_buffer: buf } : {};
  }

  protected loadParam(index: number, _scalars: Record<string, number | boolean>, tensors: Map<string, Tensor>): void {
    const saved = tensors.get('momentum_buffer');
    for (const key of tensors.keys()) if (key !== 'momentum_buffer') throw new OptimizerError(`SGD state: unexpected tensor 'state.${index}.${key}'`);
    if (saved === undefined) {
      this.#bufferReady[index] = false;
      return;
    }
    noGrad(() => this.#bufferOf(index).copy_(saved));
    this.#bufferReady[index] = true;
  }

  dispose(): void {
    for (const t of [...this.#buffers, ...this.#scratch]) t?.dispose();
  }
}
