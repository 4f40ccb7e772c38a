/** Adam and AdamW (torch.optim.Adam / torch.optim.AdamW), with the AMSGrad variant. */
import { noGrad, zerosLike, type Tensor } from '../tensor/index.js';
import { Optimizer, OptimizerError, type BaseHyperParams, type ParamsInput } from './optimizer.js';

/** Hyper-parameters of {@link Adam} and {@link AdamW} (per group). */
export interface AdamHyperParams extends BaseHyperParams {
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas: [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps: number;
  /** Adam: L2 penalty added to the gradient (default 0). AdamW: decoupled decay factor (default 0.01). */
  weightDecay: number;
  /** Use the maximum of past second moments (Reddi et al. 2018). */
  amsgrad: boolean;
}

interface AdamParamState {
  step: number;
  expAvg: Tensor;
  expAvgSq: Tensor;
  maxExpAvgSq: Tensor | null;
  /** Scratch: first the decayed gradient (Adam with weight decay), then the update's denominator. */
  denom: Tensor;
}

/**
 * Shared implementation: `decoupled` selects AdamW's weight decay (p *= 1 - lr * wd) instead of
 * Adam's L2 term in the gradient. The update is PyTorch's single-tensor path, op for op:
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;  (AMSGrad: vmax = max(vmax, v), used for v)
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * All state (m, v, vmax and the denominator scratch) is allocated once; a step allocates no tensors.
 */
abstract class AdamBase extends Optimizer<AdamHyperParams> {
  readonly #state: AdamParamState[];
  protected abstract readonly decoupled: boolean;

  constructor(params: ParamsInput<AdamHyperParams>, defaults: AdamHyperParams) {
    super(params, defaults);
    const name = this.constructor.name;
    for (const [g, group] of this.paramGroups.entries()) {
      const [b1, b2] = group.betas;
      if (!(group.lr >= 0)) throw new OptimizerError(`${name}: group ${g}: lr must be >= 0, got ${group.lr}`);
      if (!(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1)) throw new OptimizerError(`${name}: group ${g}: betas must be in [0, 1), got [${group.betas.join(', ')}]`);
      if (!(group.eps >= 0)) throw new OptimizerError(`${name}: group ${g}: eps must be >= 0, got ${group.eps}`);
      if (!(group.weightDecay >= 0)) throw new OptimizerError(`${name}: group ${g}: weightDecay must be >= 0, got ${group.weightDecay}`);
    }
    this.#state = this.paramGroups.flatMap((group) =>
      group.params.map((p) => ({
        step: 0,
        expAvg: zerosLike(p).keep(),
        expAvgSq: zerosLike(p).keep(),
        maxExpAvgSq: group.amsgrad ? zerosLike(p).keep() : null,
        denom: zerosLike(p).keep(),
      })),
    );
  }

  step(): void {
    noGrad(() => {
      let i = 0;
      for (const group of this.paramGroups) {
        const { lr, eps, weightDecay, amsgrad } = group;
        const [beta1, beta2] = group.betas;
        for (const p of group.params) {
          const s = this.#state[i++] as AdamParamState;
          const grad = p.grad;
          if (grad === null) continue;
          try {
            s.step += 1;
            let g = grad;
            if (weightDecay !== 0) {
              if (this.decoupled) p.mul_(1 - lr * weightDecay);
              else g = s.denom.copy_(grad).add_(p, weightDecay);
            }
            s.expAvg.mul_(beta1).add_(g, 1 - beta1);
            s.expAvgSq.mul_(beta2).addcmul_(g, g, 1 - beta2);
            const biasCorrection1 = 1 - beta1 ** s.step;
            const biasCorrection2 = 1 - beta2 ** s.step;
            const stepSize = lr / biasCorrection1;
            const biasCorrection2Sqrt = Math.sqrt(biasCorrection2);
            let second = s.expAvgSq;
            if (amsgrad) {
              const max = (s.maxExpAvgSq ??= zerosLike(p).keep());
              max.clamp_(s.expAvgSq, null);
              second = max;
            }
            s.denom.copy_(second).sqrt_().div_(biasCorrection2Sqrt).add_(eps);
            p.addcdiv_(s.expAvg, s.denom, -stepSize);
          } finally {
            grad.dispose();
          }
        }
      }
    });
  }

  /** The number of updates applied to parameter `index` so far. */
  stepCount(index = 0): number {
    const s = this.#state[index];
    if (s === undefined) throw new RangeError(`${this.constructor.name}.stepCount(${index}): there are ${this.#state.length} parameters`);
    return s.step;
  }

  protected paramScalars(index: number): Record<string, number | boolean> {
    return { step: (this.#state[index] as AdamParamState).step };
  }

  protected paramTensors(index: number): Record<string, Tensor> {
    const s = this.#state[index] as AdamParamState;
    if (s.step === 0) return {};
    return { exp_avg: s.expAvg, exp_avg_sq: s.expAvgSq, ...(s.maxExpAvgSq === null ? {} : { max_exp_avg_sq: s.maxExpAvgSq }) };
  }

  protected loadParam(index: number, scalars: Record<string, number | boolean>, tensors: Map<string, Tensor>): void {
    const name = this.constructor.name;
    const s = this.#state[index] as AdamParamState;
    const step = scalars['step'] ?? 0;
    if (typeof step !== 'number' || !Number.isInteger(step) || step < 0) throw new OptimizerError(`${name} state: parameter ${index} has an invalid step count ${String(step)}`);
    for (const key of tensors.keys()) {
      if (key !== 'exp_avg' && key !== 'exp_avg_sq' && key !== 'max_exp_avg_sq') throw new OptimizerError(`${name} state: unexpected tensor 'state.${index}.${key}'`);
    }
    const expAvg = tensors.get('exp_avg');
    const expAvgSq = tensors.get('exp_avg_sq');
    if (step > 0 && (expAvg === undefined || expAvgSq === undefined)) {
      throw new OptimizerError(`${name} state: parameter ${index} has taken ${step} steps but 'state.${index}.exp_avg' or 'state.${index}.exp_avg_sq' is missing`);
    }
    const maxSq = tensors.get('max_exp_avg_sq');
    noGrad(() => {
      s.step = step;
      if (expAvg === undefined) s.expAvg.zero_();
      else s.expAvg.copy_(expAvg);
      if (expAvgSq === undefined) s.expAvgSq.zero_();
      else s.expAvgSq.copy_(expAvgSq);
      if (maxSq !== undefined) (s.maxExpAvgSq ??= zerosLike(s.expAvg).keep()).copy_(maxSq);
      else s.maxExpAvgSq?.zero_();
    });
  }

  dispose(): void {
    for (const s of this.#state) for (const t of [s.expAvg, s.expAvgSq, s.maxExpAvgSq, s.denom]) t?.dispose();
  }
}

/** Adam (Kingma & Ba 2015) with PyTorch's defaults: lr 1e-3, betas [0.9, 0.999], eps 1e-8, L2 weight decay 0. */
export class Adam extends AdamBase {
  protected readonly decoupled = false;

  constructor(params: ParamsInput<AdamHyperParams>, options: Partial<AdamHyperParams> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, amsgrad: false, ...options });
  }
}

/** AdamW: Adam with decoupled weight decay (Loshchilov & Hutter 2019); PyTorch's defaults, weight decay 0.01. */
export class AdamW extends AdamBase {
  protected readonly decoupled = true;

  constructor(params: ParamsInput<AdamHyperParams>, options: Partial<AdamHyperParams> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 1e-2, amsgrad: false, ...options });
  }
}
