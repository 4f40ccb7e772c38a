/**
 * `Module`: the base class of every layer and model (the torch.nn.Module of Bastion).
 *
 * A module owns parameters (trainable tensors), buffers (state such as BatchNorm's running
 * statistics) and child modules, each registered under a name. Names, order and memory layout of
 * the state dict equal those of the equivalent torch.nn modules, so checkpoints move between
 * Bastion and PyTorch unchanged (src/io/safetensors.ts).
 *
 * Lifetime: registered tensors are `keep()`-ed, so no scope frees them; `dispose()` frees the whole
 * tree. Loading a state dict copies into the existing tensors, which keeps their identity (and
 * therefore any optimizer holding them) valid.
 */
import { noGrad, type Tensor } from '../tensor/index.js';
import { BastionError } from '../util/errors.js';

/** What {@link Module.loadStateDict} reports: names the module has but the state lacks, and the reverse. */
export interface LoadStateDictResult {
  missing: string[];
  unexpected: string[];
}

/** Options of {@link Module.loadStateDict}. */
export interface LoadStateDictOptions {
  /** Throw when names are missing or unexpected (default true). Shapes and dtypes are always checked. */
  strict?: boolean;
}

interface BufferEntry {
  tensor: Tensor | null;
  persistent: boolean;
}

/** The state-dict error raised by {@link Module.loadStateDict}; the message names the tensor. */
export class StateDictError extends BastionError {
  constructor(message: string, hint?: string) {
    super(message, hint === undefined ? {} : { hint });
    this.name = 'StateDictError';
  }
}

function describeTensor(t: Tensor): string {
  return `[${t.shape.join(',')}] ${t.dtype}`;
}

/**
 * Base class of layers and models. Subclasses register their state in the constructor and
 * implement `forward`:
 *
 * ```ts
 * class Net extends Module {
 *   readonly fc = this.registerModule('fc', new Linear(4, 2));
 *   forward(x: Tensor): Tensor { return this.fc.forward(x); }
 * }
 * ```
 */
export abstract class Module {
  /** Training mode (dropout active, BatchNorm uses batch statistics). Set with train()/eval(). */
  training = true;
  readonly #parameters = new Map<string, Tensor | null>();
  readonly #buffers = new Map<string, BufferEntry>();
  readonly #modules = new Map<string, Module>();

  /** Computes the module's output. */
  abstract forward(input: Tensor): Tensor;

  #checkName(name: string, kind: string): void {
    if (typeof name !== 'string' || name === '' || name.includes('.')) {
      throw new TypeError(`${this.constructor.name}: ${kind} name must be a non-empty string without '.', got ${JSON.stringify(name)}`);
    }
    if (this.#parameters.has(name) || this.#buffers.has(name) || this.#modules.has(name)) {
      throw new TypeError(`${this.constructor.name}: '${name}' is already registered; each parameter, buffer and child needs its own name`);
    }
  }

  /**
   * Registers a trainable tensor under `name`: keeps it (no scope frees it) and sets requiresGrad.
   * `null` records an absent optional parameter (e.g. a layer without bias), as PyTorch does.
   */
  protected registerParameter(name: string, value: Tensor): Tensor;
  protected registerParameter(name: string, value: null): null;
  protected registerParameter(name: string, value: Tensor | null): Tensor | null {
    this.#checkName(name, 'parameter');
    if (value !== null) {
      if (!value.isLeaf) {
        throw new TypeError(
          `${this.constructor.name}.registerParameter('${name}'): the tensor is the result of a differentiable op; ` +
            'create it under noGrad() or pass t.detach()',
        );
      }
      if (!value.isFloatingPoint) throw new TypeError(`${this.constructor.name}.registerParameter('${name}'): parameters must be floating point, got ${value.dtype}`);
      value.keep().requiresGrad_(true);
    }
    this.#parameters.set(name, value);
    return value;
  }

  /**
   * Registers a state tensor that is not trained (e.g. running statistics) and keeps it.
   * Non-persistent buffers are left out of the state dict.
   */
  protected registerBuffer(name: string, value: Tensor, options?: { persistent?: boolean }): Tensor;
  protected registerBuffer(name: string, value: null, options?: { persistent?: boolean }): null;
  protected registerBuffer(name: string, value: Tensor | null, options: { persistent?: boolean } = {}): Tensor | null {
    this.#checkName(name, 'buffer');
    value?.keep();
    this.#buffers.set(name, { tensor: value, persistent: options.persistent ?? true });
    return value;
  }

  /** Registers a child module under `name` and returns it. */
  protected registerModule<M extends Module>(name: string, module: M): M {
    this.#checkName(name, 'module');
    if (!(module instanceof Module)) throw new TypeError(`${this.constructor.name}.registerModule('${name}'): expected a Module`);
    this.#modules.set(name, module);
    return module;
  }

  /** Sets training mode on this module and every descendant. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.#modules.values()) child.train(mode);
    return this;
  }

  /** Evaluation mode (same as `train(false)`). */
  eval(): this {
    return this.train(false);
  }

  /** Direct children, in registration order. */
  children(): Module[] {
    return [...this.#modules.values()];
  }

  /** Direct children with their names. */
  namedChildren(): [string, Module][] {
    return [...this.#modules.entries()];
  }

  /** This module and every descendant (pre-order), with dotted names; this module is named ''. */
  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix, this]];
    for (const [name, child] of this.#modules) out.push(...child.namedModules(prefix === '' ? name : `${prefix}.${name}`));
    return out;
  }

  /** This module and every descendant (pre-order). */
  modules(): Module[] {
    return this.namedModules().map(([, m]) => m);
  }

  /** Parameters with dotted names, in PyTorch's order (own parameters first, then each child's, depth first). */
  namedParameters(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, t] of module.#parameters) if (t !== null) out.push([prefix === '' ? name : `${prefix}.${name}`, t]);
    }
    return out;
  }

  /** All parameters (see {@link namedParameters} for the order). */
  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Buffers (persistent or not) with dotted names. */
  namedBuffers(): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [prefix, module] of this.namedModules()) {
      for (const [name, b] of module.#buffers) if (b.tensor !== null) out.push([prefix === '' ? name : `${prefix}.${name}`, b.tensor]);
    }
    return out;
  }

  /** All buffers. */
  buffers(): Tensor[] {
    return this.namedBuffers().map(([, t]) => t);
  }

  /**
   * The module's state: parameters and persistent buffers under PyTorch's names and order (per
   * module: parameters, then buffers; modules pre-order). The tensors are the module's own (not
   * copies): read them, do not dispose them.
   */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [prefix, module] of this.namedModules()) {
      const full = (name: string): string => (prefix === '' ? name : `${prefix}.${name}`);
      for (const [name, t] of module.#parameters) if (t !== null) out.set(full(name), t);
      for (const [name, b] of module.#buffers) if (b.tensor !== null && b.persistent) out.set(full(name), b.tensor);
    }
    return out;
  }

  /**
   * Copies `state` into the module's tensors (under noGrad, so identity is preserved and
   * optimizers keep working). Every shape and dtype is checked before anything is copied, so a
   * failed load leaves the module unchanged; errors name the tensor and say expected vs found.
   * With `strict` (default), missing or unexpected names are errors too; otherwise they are
   * returned.
   */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, options: LoadStateDictOptions = {}): LoadStateDictResult {
    const given = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missing = [...own.keys()].filter((k) => !given.has(k));
    const unexpected = [...given.keys()].filter((k) => !own.has(k));
    const what = this.constructor.name;
    if ((options.strict ?? true) && (missing.length > 0 || unexpected.length > 0)) {
      const parts: string[] = [];
      if (missing.length > 0) parts.push(`missing ${missing.length}: ${missing.join(', ')}`);
      if (unexpected.length > 0) parts.push(`unexpected ${unexpected.length}: ${unexpected.join(', ')}`);
      throw new StateDictError(
        `state dict does not match ${what}: ${parts.join('; ')}`,
        'check that it was saved from the same architecture and configuration, or load with { strict: false } to take the matching tensors only',
      );
    }
    const pairs: [Tensor, Tensor][] = [];
    for (const [name, target] of own) {
      const source = given.get(name);
      if (source === undefined) continue;
      if (source.isDisposed) throw new StateDictError(`state dict entry '${name}' was already disposed`);
      const shapeOk = source.shape.length === target.shape.length && source.shape.every((s, i) => s === target.shape[i]);
      if (!shapeOk || source.dtype !== target.dtype) {
        throw new StateDictError(
          `state dict entry '${name}' is ${describeTensor(source)} but ${what} expects ${describeTensor(target)}`,
          'the checkpoint was made for a different architecture or configuration (channels, classes, input size)',
        );
      }
      pairs.push([target, source]);
    }
    noGrad(() => {
      for (const [target, source] of pairs) if (target !== source) target.copy_(source);
    });
    return { missing, unexpected };
  }

  /** Stops gradient recording for every parameter (requiresGrad false), e.g. a fixed classifier. */
  freeze(): this {
    for (const p of this.parameters()) p.requiresGrad_(false);
    return this;
  }

  /** Records gradients for every parameter again. */
  unfreeze(): this {
    for (const p of this.parameters()) p.requiresGrad_(true);
    return this;
  }

  /** Drops every parameter's gradient (sets .grad to null, as PyTorch's set_to_none). */
  zeroGrad(): void {
    for (const p of this.parameters()) p.setGrad(null);
  }

  /** Total number of parameter elements. */
  numParameters(options: { trainableOnly?: boolean } = {}): number {
    let n = 0;
    for (const p of this.parameters()) if (!options.trainableOnly || p.requiresGrad) n += p.numel;
    return n;
  }

  /** Calls `fn` on every descendant and then on this module (children first, as PyTorch). */
  apply(fn: (module: Module) => void): this {
    for (const child of this.#modules.values()) child.apply(fn);
    fn(this);
    return this;
  }

  /** Frees every parameter and buffer of this module and its descendants. The module is unusable afterwards. */
  dispose(): void {
    for (const child of this.#modules.values()) child.dispose();
    for (const t of this.#parameters.values()) t?.dispose();
    for (const b of this.#buffers.values()) b.tensor?.dispose();
  }

  /** One line of settings shown by toString(), e.g. `3, 32, kernelSize=[3,3]` (override in layers). */
  protected extraRepr(): string {
    return '';
  }

  /** A readable tree of the module, in the style of PyTorch's repr. */
  toString(): string {
    const head = `${this.constructor.name}(${this.extraRepr()}`;
    if (this.#modules.size === 0) return `${head})`;
    const lines = [...this.#modules].map(([name, child]) => `  (${name}): ${child.toString().split('\n').join('\n  ')}`);
    return `${head}\n${lines.join('\n')}\n)`;
  }
}

/** Modules applied one after the other; children are named "0", "1", ... as torch.nn.Sequential. */
export class Sequential extends Module {
  readonly #layers: Module[] = [];

  constructor(...modules: Module[]) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end (named by its position). */
  append(module: Module): this {
    this.registerModule(String(this.#layers.length), module);
    this.#layers.push(module);
    return this;
  }

  /** Number of modules. */
  get length(): number {
    return this.#layers.length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): Module {
    const m = this.#layers.at(index);
    if (m === undefined) throw new RangeError(`Sequential.at(${index}): it holds ${this.#layers.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.#layers[Symbol.iterator]();
  }

  /** Feeds the input through every module in order. */
  forward(input: Tensor): Tensor {
    let x = input;
    for (const layer of this.#layers) x = layer.forward(x);
    return x;
  }
}

/** A list of modules registered as children ("0", "1", ...) without a forward of its own (torch.nn.ModuleList). */
export class ModuleList extends Module {
  readonly #items: Module[] = [];

  constructor(modules: Iterable<Module> = []) {
    super();
    for (const m of modules) this.append(m);
  }

  /** Adds a module at the end. */
  append(module: Module): this {
    this.registerModule(String(this.#items.length), module);
    this.#items.push(module);
    return this;
  }

  get length(): number {
    return this.#items.length;
  }

  /** The module at `index` (negative counts from the end). */
  at(index: number): Module {
    const m = this.#items.at(index);
    if (m === undefined) throw new RangeError(`ModuleList.at(${index}): it holds ${this.#items.length} modules`);
    return m;
  }

  [Symbol.iterator](): Iterator<Module> {
    return this.#items[Symbol.iterator]();
  }

  /** Not callable: a ModuleList is a container. Iterate it in the parent's forward instead. */
  forward(_input: Tensor): Tensor {
    throw new TypeError('ModuleList has no forward(); iterate over it in the forward() of the module that owns it');
  }
}
