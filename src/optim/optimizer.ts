/**
 * The optimizer base class: parameter groups with their hyper-parameters, per-parameter state
 * preallocated once (no tensor allocation per step), `zeroGrad()`, and a state dict for resuming
 * training (JSON-able metadata plus named tensors, saved by src/io as safetensors).
 */
import type { Tensor } from '../tensor/index.js';
import { BastionError } from '../util/errors.js';

/** Hyper-parameters every optimizer has. */
export interface BaseHyperParams {
  /** Learning rate. */
  lr: number;
  /** The learning rate an LR schedule starts from (set by the first schedule attached, as PyTorch's initial_lr). */
  initialLr?: number;
}

/** A parameter group: parameters plus the hyper-parameters that apply to them. */
export type ParamGroup<H extends BaseHyperParams> = H & { readonly params: readonly Tensor[] };

/** What optimizer constructors accept: parameters, or groups with per-group hyper-parameter overrides. */
export type ParamsInput<H extends BaseHyperParams> = Iterable<Tensor> | readonly ({ params: Iterable<Tensor> } & Partial<H>)[];

/** An optimizer's resumable state: JSON metadata and tensors named `state.<index>.<buffer>` (PyTorch's names). */
export interface OptimizerState {
  meta: OptimizerStateMeta;
  tensors: Map<string, Tensor>;
}

/** The JSON part of {@link OptimizerState}. */
export interface OptimizerStateMeta {
  /** Optimizer class, e.g. 'Adam'. */
  type: string;
  /** Hyper-parameters per group, with the indices (into the flat parameter list) of its parameters. */
  paramGroups: (Record<string, unknown> & { params: number[] })[];
  /** Per-parameter scalar state (e.g. step counts), by parameter index. */
  state: Record<string, Record<string, number | boolean>>;
}

/** Errors of optimizer setup and state loading. */
export class OptimizerError extends BastionError {
  constructor(message: string, hint?: string) {
    super(message, hint === undefined ? {} : { hint });
    this.name = 'OptimizerError';
  }
}

function isGroupList<H extends BaseHyperParams>(input: ParamsInput<H>): input is readonly ({ params: Iterable<Tensor> } & Partial<H>)[] {
  if (!Array.isArray(input)) return false;
  const first = (input as unknown[])[0];
  return first !== undefined && typeof first === 'object' && first !== null && 'params' in first;
}

function shapeText(t: Tensor): string {
  return `[${t.shape.join(',')}] ${t.dtype}`;
}

/**
 * Base class of SGD, Adam and AdamW. Subclasses implement `updateParam` (one in-place update,
 * run under noGrad) and the save/load of their per-parameter state.
 */
export abstract class Optimizer<H extends BaseHyperParams = BaseHyperParams> {
  /** The parameter groups; schedules change `lr` here. */
  readonly paramGroups: ParamGroup<H>[];
  /** Every parameter, in group order; its position is the parameter's index in state dicts. */
  readonly params: readonly Tensor[];
  /** The hyper-parameters groups inherit unless they override them. */
  readonly defaults: Readonly<H>;

  constructor(params: ParamsInput<H>, defaults: H) {
    this.defaults = Object.freeze({ ...defaults });
    const specs = isGroupList(params) ? params : [{ params } as { params: Iterable<Tensor> } & Partial<H>];
    const seen = new Set<Tensor>();
    this.paramGroups = specs.map((spec, g) => {
      const list = [...spec.params];
      if (list.length === 0) throw new OptimizerError(`${this.constructor.name}: parameter group ${g} is empty`);
      for (const p of list) {
        if (seen.has(p)) throw new OptimizerError(`${this.constructor.name}: a parameter appears twice (group ${g}); each parameter may be in one group only`);
        if (!p.isFloatingPoint || !p.isLeaf) {
          throw new OptimizerError(`${this.constructor.name}: can only optimise floating-point leaf tensors, got ${shapeText(p)}${p.isLeaf ? '' : ' (not a leaf)'}`);
        }
        seen.add(p);
      }
      const { params: _ignored, ...overrides } = spec;
      return { ...defaults, ...overrides, params: list } as unknown as ParamGroup<H>;
    });
    this.params = this.paramGroups.flatMap((g) => g.params);
  }

  /** Applies one update to every parameter that has a gradient (parameters without one are skipped, as PyTorch). */
  abstract step(): void;

  /** Drops every parameter's gradient (sets .grad to null; the next backward allocates fresh ones). */
  zeroGrad(): void {
    for (const p of this.params) p.setGrad(null);
  }

  /** The learning rate of the first group (convenience for single-group optimizers). */
  get lr(): number {
    return (this.paramGroups[0] as ParamGroup<H>).lr;
  }

  /** Sets the learning rate of every group. */
  set lr(value: number) {
    for (const g of this.paramGroups) g.lr = value;
  }

  /** Per-parameter scalar state to save (e.g. `{ step: 3 }`). */
  protected abstract paramScalars(index: number): Record<string, number | boolean>;
  /** Per-parameter tensors to save, under PyTorch's names (e.g. `exp_avg`); only initialised ones. */
  protected abstract paramTensors(index: number): Record<string, Tensor>;
  /** Restores one parameter's state from what {@link paramScalars} and {@link paramTensors} saved. */
  protected abstract loadParam(index: number, scalars: Record<string, number | boolean>, tensors: Map<string, Tensor>): void;
  /** Frees per-parameter state tensors. */
  abstract dispose(): void;

  /** The resumable state: hyper-parameters, step counts and buffers. Tensors are the optimizer's own (do not dispose). */
  stateDict(): OptimizerState {
    const tensors = new Map<string, Tensor>();
    const state: Record<string, Record<string, number | boolean>> = {};
    this.params.forEach((_p, i) => {
      state[String(i)] = this.paramScalars(i);
      for (const [name, t] of Object.entries(this.paramTensors(i))) tensors.set(`state.${i}.${name}`, t);
    });
    let offset = 0;
    const paramGroups = this.paramGroups.map((group) => {
      const { params, ...hyper } = group;
      const indices = params.map((_p, k) => offset + k);
      offset += params.length;
      return { ...structuredClone(hyper), params: indices } as Record<string, unknown> & { params: number[] };
    });
    return { meta: { type: this.constructor.name, paramGroups, state }, tensors };
  }

  /**
   * Restores a state from {@link stateDict} (e.g. read back from a checkpoint): hyper-parameters,
   * step counts and buffers (copied into the preallocated ones). The optimizer must have been
   * built over the same parameters in the same groups; errors say which part differs.
   */
  loadStateDict(state: OptimizerState): void {
    const { meta, tensors } = state;
    const name = this.constructor.name;
    if (meta.type !== name) throw new OptimizerError(`cannot load ${meta.type} optimizer state into ${name}`, `build a ${meta.type} optimizer to resume this run`);
    if (meta.paramGroups.length !== this.paramGroups.length) {
      throw new OptimizerError(`${name} state has ${meta.paramGroups.length} parameter groups but this optimizer has ${this.paramGroups.length}`);
    }
    meta.paramGroups.forEach((saved, g) => {
      const group = this.paramGroups[g] as ParamGroup<H>;
      if (saved.params.length !== group.params.length) {
        throw new OptimizerError(`${name} state: parameter group ${g} has ${saved.params.length} parameters but this optimizer's has ${group.params.length}`,
          'the model architecture differs from the one the state was saved with');
      }
    });
    const prefix = /^state\.(\d+)\.(.+)$/;
    const byParam = new Map<number, Map<string, Tensor>>();
    for (const [key, t] of tensors) {
      const match = prefix.exec(key);
      const index = match === null ? NaN : Number(match[1]);
      if (match === null || !(index < this.params.length)) throw new OptimizerError(`${name} state: unexpected tensor '${key}' (this optimizer has ${this.params.length} parameters)`);
      const p = this.params[index] as Tensor;
      if (t.shape.join(',') !== p.shape.join(',') || t.dtype !== p.dtype) {
        throw new OptimizerError(`${name} state: '${key}' is ${shapeText(t)} but parameter ${index} is ${shapeText(p)}`,
          'the model architecture differs from the one the state was saved with');
      }
      let entry = byParam.get(index);
      if (entry === undefined) byParam.set(index, (entry = new Map()));
      entry.set(match[2] as string, t);
    }
    meta.paramGroups.forEach((saved, g) => {
      const { params: _indices, ...hyper } = saved;
      Object.assign(this.paramGroups[g] as object, structuredClone(hyper));
    });
    this.params.forEach((_p, i) => this.loadParam(i, meta.state[String(i)] ?? {}, byParam.get(i) ?? new Map()));
  }
}
