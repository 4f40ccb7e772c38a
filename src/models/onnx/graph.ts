/**
 * Running an ONNX graph on Bastion tensors: the imported network as a differentiable Module.
 *
 * At load, every node is checked against the op registry (an unsupported op is an error naming
 * the op, node, opset and the supported list, before anything runs) and classified:
 *
 *   constant  all its inputs are constants (Constant nodes, initializers that are not weights):
 *             computed once at load and kept (constant folding);
 *   shape     it reads only constants and the *shapes* of runtime values (Shape, Size and what is
 *             computed from them, e.g. the target of a Reshape): computed on the first run for each
 *             input shape and reused while inputs keep that shape (a few shapes are cached);
 *   tensor    it reads the data of the input or of the weights: runs every time.
 *
 * So the hot path runs only tensor math. Float initializers feeding data positions become the
 * Module's parameters (trainable, named as in the file, dotted names as nested modules, like
 * PyTorch's state dict), BatchNormalization statistics its buffers; autograd gives gradients with
 * respect to the input and to every parameter. Each kernel runs in its own scope and each value is
 * freed right after its last use, as the design asks of every model.
 */
import { BastionError } from '../../util/errors.js';
import { readOnnxModel, type OnnxAttributeValue, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxValueInfo } from '../../io/onnx.js';
import { noGrad, scope, type Tensor } from '../../tensor/index.js';
import { Module } from '../../nn/index.js';
import { constantInputs, findKernel, supportedOps, type OnnxKernel, type OnnxOpContext } from './registry.js';
import { tensorFromOnnx } from './tensors.js';
import './ops/index.js';
import { ownEntry } from '../../util/records.js';

/** What {@link OnnxNetwork.run} returns. */
export interface OnnxRunResult {
  /** The graph's outputs, in the file's order. */
  outputs: Tensor[];
  /** The values named in `taps`, in the graph (differentiable). */
  taps: Map<string, Tensor>;
}

/** How often each class of node occurs, and which ops a model uses (for `bastion import`). */
export interface OnnxGraphSummary {
  nodes: number;
  folded: number;
  shapeNodes: number;
  tensorNodes: number;
  opCounts: Map<string, number>;
  parameterCount: number;
  parameterTensors: number;
}

type ValueClass = 'constant' | 'shape' | 'tensor';
type NodeClass = ValueClass;

interface PlannedNode {
  node: OnnxNode;
  kernel: OnnxKernel;
  opset: number;
  kind: NodeClass;
  /** Values whose last reader is this node (freed after it runs unless tapped or returned). */
  release: string[];
}

/** Ops whose outputs must not be folded even when their inputs are constant. */
const NONDETERMINISTIC = new Set(['RandomNormal', 'RandomUniform', 'RandomNormalLike', 'RandomUniformLike', 'Bernoulli', 'Multinomial', 'Dropout']);
/** Ops whose output depends only on the shape of their input. */
const SHAPE_OF = new Set(['Shape', 'Size']);
/** Input slots holding running statistics (buffers, not trained). */
const STATISTICS_INPUTS: Record<string, readonly number[]> = { BatchNormalization: [3, 4] };
/** How many input shapes keep their shape-node values cached. */
const SHAPE_CACHE_ENTRIES = 4;

const numberCache = new WeakMap<Tensor, number[]>();

/** Holds parameters and buffers under one segment of a dotted name (so the state dict keeps the file's names). */
class ParameterGroup extends Module {
  readonly #children = new Map<string, ParameterGroup>();

  override forward(): Tensor {
    throw new TypeError('a parameter group of an imported ONNX graph is not callable');
  }

  /** Registers `value` under the dotted `path`; false when the path collides with another name. */
  add(path: readonly string[], value: Tensor, kind: 'parameter' | 'buffer'): boolean {
    const [head, ...rest] = path;
    if (head === undefined || head === '') return false;
    try {
      if (rest.length === 0) {
        if (this.#children.has(head)) return false;
        if (kind === 'parameter') this.registerParameter(head, value);
        else this.registerBuffer(head, value);
        return true;
      }
      let child = this.#children.get(head);
      if (!child) {
        child = this.registerModule(head, new ParameterGroup());
        this.#children.set(head, child);
      }
      return child.add(rest, value, kind);
    } catch {
      return false;
    }
  }
}

/** An ONNX graph as a differentiable Bastion module. */
export class OnnxNetwork extends Module {
  /** The parsed file. */
  readonly model: OnnxModel;
  /** The graph inputs the caller feeds (initializers excluded). */
  readonly inputs: readonly OnnxValueInfo[];
  /** The graph outputs. */
  readonly outputs: readonly OnnxValueInfo[];
  readonly #plan: PlannedNode[];
  /** Constants, parameters and buffers by value name (kept for the module's lifetime). */
  readonly #fixed = new Map<string, Tensor>();
  readonly #parameterNames = new Set<string>();
  readonly #valueClass = new Map<string, ValueClass>();
  readonly #shapeCache = new Map<string, Map<string, Tensor>>();
  readonly #graphOutputs: Set<string>;
  readonly #parameters = new ParameterGroup();
  #disposed = false;

  /** Builds the network from a parsed model (see the module comment for what is checked). */
  constructor(model: OnnxModel) {
    super();
    this.model = model;
    const graph = model.graph;
    this.inputs = graph.inputs;
    this.outputs = graph.outputs;
    this.#graphOutputs = new Set(graph.outputs.map((o) => o.name));
    checkSupported(model);
    if (graph.inputs.length === 0) throw new BastionError(`${model.file}: the graph has no inputs (everything is constant)`, { hint: 'export the model with its image input' });
    this.registerModule('weights', this.#parameters);
    this.#registerInitializers(graph);
    for (const input of graph.inputs) this.#valueClass.set(input.name, 'tensor');
    this.#plan = graph.nodes.map((node) => this.#planNode(node));
    this.#assignReleases();
    this.#foldConstants();
    // Exported graphs are inference graphs: evaluation mode until someone trains the network.
    this.eval();
  }

  /** Reads an ONNX file and builds its network. */
  static fromFile(path: string): OnnxNetwork {
    return new OnnxNetwork(readOnnxModel(path));
  }

  /** Float initializers in data positions are parameters, statistics are buffers, the rest constants. */
  #registerInitializers(graph: OnnxGraph): void {
    const role = new Map<string, 'parameter' | 'buffer' | 'constant'>();
    for (const node of graph.nodes) {
      const fixedSlots = constantInputs(node.domain, node.opType);
      const statistics = node.domain === '' ? ownEntry(STATISTICS_INPUTS, node.opType) ?? [] : [];
      node.inputs.forEach((name, slot) => {
        const init = graph.initializers.get(name);
        if (!init) return;
        const float = init.elementType === 'float32' || init.elementType === 'float64' || init.elementType === 'float16' || init.elementType === 'bfloat16';
        const elements = init.dims.reduce((a, b) => a * b, 1);
        let r: 'parameter' | 'buffer' | 'constant';
        if (!float || fixedSlots.includes(slot) || elements <= 1) r = 'constant';
        else if (statistics.includes(slot)) r = 'buffer';
        else r = 'parameter';
        // A weight read in a data position anywhere stays a weight.
        const previous = role.get(name);
        if (previous === 'parameter' || (previous === 'buffer' && r === 'constant')) return;
        role.set(name, r);
      });
    }
    const flatNames = new Set<string>();
    for (const [name, data] of graph.initializers) {
      const r = role.get(name) ?? 'constant';
      const value = noGrad(() => tensorFromOnnx(data, { keep: true }));
      this.#fixed.set(name, value);
      this.#valueClass.set(name, r === 'constant' ? 'constant' : 'tensor');
      if (r === 'constant') continue;
      if (r === 'parameter') this.#parameterNames.add(name);
      if (!this.#parameters.add(name.split('.'), value, r)) {
        // The dotted name collides with another (e.g. 'a' and 'a.b'): register it flat.
        let flat = name.replace(/\./g, '_');
        while (flatNames.has(flat)) flat += '_';
        flatNames.add(flat);
        if (!this.#parameters.add([flat], value, r)) throw new BastionError(`${this.model.file}: cannot register initializer '${name}'`);
      }
    }
  }

  #planNode(node: OnnxNode): PlannedNode {
    const opset = this.model.opsets.get(node.domain) ?? 0;
    const kernel = findKernel(node.domain, node.opType, opset)!;
    const classes = node.inputs.filter((n) => n !== '').map((n) => this.#valueClass.get(n) ?? 'tensor');
    let kind: NodeClass;
    if (node.domain === '' && SHAPE_OF.has(node.opType)) kind = 'shape';
    else if (NONDETERMINISTIC.has(node.opType)) kind = 'tensor';
    else if (hasSubgraph(node)) kind = 'tensor';
    else if (classes.every((c) => c === 'constant')) kind = 'constant';
    else if (classes.every((c) => c !== 'tensor')) kind = 'shape';
    else kind = 'tensor';
    for (const out of node.outputs) if (out !== '') this.#valueClass.set(out, kind);
    return { node, kernel, opset, kind, release: [] };
  }

  /** Marks each runtime value for release after its last reader. */
  #assignReleases(): void {
    const last = new Map<string, number>();
    this.#plan.forEach((p, i) => {
      for (const name of p.node.inputs) if (name !== '') last.set(name, i);
      for (const name of subgraphReadsOf(p.node)) last.set(name, i);
    });
    for (const [name, index] of last) {
      if (this.#graphOutputs.has(name) || this.#fixed.has(name)) continue;
      if (this.#valueClass.get(name) !== 'tensor') continue;
      if (this.inputs.some((input) => input.name === name)) continue;
      this.#plan[index]!.release.push(name);
    }
  }

  /** Computes every constant node once (constant folding). */
  #foldConstants(): void {
    noGrad(() => {
      for (const p of this.#plan) {
        if (p.kind !== 'constant') continue;
        const outputs = this.#runNode(p, this.#fixed, false);
        outputs.forEach((value, k) => {
          const name = p.node.outputs[k];
          if (name) this.#fixed.set(name, value.keep());
          else value.dispose();
        });
      }
    });
  }

  /** The kernel of one node on the values in `values`; returns its outputs (freshly created). */
  #runNode(p: PlannedNode, values: Map<string, Tensor>, training: boolean): Tensor[] {
    const context = new NodeContext(p, values, training, this.model.file);
    let result: Tensor | Tensor[];
    try {
      result = scope(() => p.kernel(context));
    } catch (error) {
      if (error instanceof BastionError) throw error;
      const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
      const shapes = p.node.inputs.map((n) => (n === '' ? '-' : describe(values.get(n)))).join(', ');
      throw new BastionError(`${this.model.file}: node '${p.node.name}' (${p.node.opType}, opset ${p.opset}) failed on inputs ${shapes}: ${reason}`, {
        hint: 'check the input size and layout the model expects (--input-size, --layout)',
        cause: error,
      });
    }
    // A kernel that hands back one of its inputs would let the release of that input free the
    // output too (or a weight be freed as an intermediate): give such outputs their own handle.
    const isInput = (t: Tensor): boolean => p.node.inputs.some((n) => values.get(n) === t);
    const list = (Array.isArray(result) ? result : [result]).map((t) => (isInput(t) ? t.reshape(t.shape) : t));
    const wanted = p.node.outputs.filter((n) => n !== '').length;
    if (list.length < wanted && p.node.outputs.slice(list.length).some((n) => n !== '')) {
      for (const t of list) t.dispose();
      throw new BastionError(`${this.model.file}: node '${p.node.name}' (${p.node.opType}) asks for ${p.node.outputs.length} outputs, Bastion computes ${list.length}`, {
        hint: 'this optional output is not supported; export the model without it',
      });
    }
    return list;
  }

  /**
   * Runs the graph on `inputs` (one per graph input, in the file's order) and returns every
   * graph output and the tapped values. Call inside a scope: the results belong to it.
   */
  run(inputs: readonly Tensor[], options: { taps?: ReadonlySet<string> } = {}): OnnxRunResult {
    if (this.#disposed) throw new BastionError(`${this.model.file}: the network was disposed`);
    if (inputs.length !== this.inputs.length) {
      throw new BastionError(`${this.model.file}: the graph takes ${this.inputs.length} input(s) (${this.inputs.map((i) => i.name).join(', ')}), got ${inputs.length}`);
    }
    const values = new Map(this.#fixed);
    inputs.forEach((t, i) => {
      const info = this.inputs[i]!;
      if (info.shape && info.shape.length !== t.ndim) {
        throw new BastionError(`${this.model.file}: input '${info.name}' has rank ${info.shape.length} ([${info.shape.map((d) => d ?? '?').join(',')}]), got [${t.shape.join(',')}]`, {
          hint: 'check --layout and --input-size',
        });
      }
      values.set(info.name, t);
    });
    const taps = options.taps ?? new Set<string>();
    const shapeKey = inputs.map((t) => `${t.dtype}[${t.shape.join(',')}]`).join('|');
    const cached = this.#shapeCache.get(shapeKey);
    const fresh = cached ? null : new Map<string, Tensor>();
    if (cached) for (const [name, value] of cached) values.set(name, value);
    const produced = new Set<string>();
    try {
      for (const p of this.#plan) {
        if (p.kind === 'tensor' || (p.kind === 'shape' && !cached)) {
          const outputs = this.#runNode(p, values, this.training);
          outputs.forEach((value, k) => {
            const name = p.node.outputs[k];
            if (!name) {
              value.dispose();
              return;
            }
            if (p.kind === 'shape') fresh!.set(name, value.keep());
            else produced.add(name);
            values.set(name, value);
          });
        }
        for (const name of p.release) {
          if (!produced.has(name) || taps.has(name)) continue;
          values.get(name)?.dispose();
          values.delete(name);
          produced.delete(name);
        }
      }
    } catch (error) {
      for (const name of produced) values.get(name)?.dispose();
      for (const value of fresh?.values() ?? []) value.dispose();
      throw error;
    }
    if (fresh) this.#remember(shapeKey, fresh);
    const tapped = new Map<string, Tensor>();
    for (const name of taps) {
      const value = values.get(name);
      if (!value) throw new BastionError(`${this.model.file}: no value named '${name}' in the graph`, { hint: 'see `bastion import MODEL` for the layer names' });
      tapped.set(name, value);
    }
    // Outputs that are constants, cached shape values or inputs are handed out as copies the caller owns.
    const outputs = this.outputs.map((o) => (produced.has(o.name) ? values.get(o.name)! : values.get(o.name)!.clone()));
    return { outputs, taps: tapped };
  }

  #remember(key: string, entry: Map<string, Tensor>): void {
    this.#shapeCache.set(key, entry);
    while (this.#shapeCache.size > SHAPE_CACHE_ENTRIES) {
      const [oldest, values] = this.#shapeCache.entries().next().value as [string, Map<string, Tensor>];
      for (const v of values.values()) v.dispose();
      this.#shapeCache.delete(oldest);
    }
  }

  /** The first graph output on a single input (the usual classifier call). */
  forward(input: Tensor): Tensor {
    const { outputs } = this.run([input]);
    for (const extra of outputs.slice(1)) extra.dispose();
    return outputs[0]!;
  }

  /** Names of the values a tap can read (every runtime value: node outputs that depend on the input). */
  runtimeValues(): string[] {
    return this.#plan.filter((p) => p.kind === 'tensor').flatMap((p) => p.node.outputs.filter((n) => n !== ''));
  }

  /** The node that produces `name`, if any. */
  producerOf(name: string): OnnxNode | undefined {
    return this.#plan.find((p) => p.node.outputs.includes(name))?.node;
  }

  /** Counts for `bastion import`: nodes per class, ops used, parameters. */
  summary(): OnnxGraphSummary {
    const opCounts = new Map<string, number>();
    for (const p of this.#plan) {
      const label = p.node.domain ? `${p.node.domain}::${p.node.opType}` : p.node.opType;
      opCounts.set(label, (opCounts.get(label) ?? 0) + 1);
    }
    let parameterCount = 0;
    for (const name of this.#parameterNames) parameterCount += this.#fixed.get(name)!.numel;
    return {
      nodes: this.#plan.length,
      folded: this.#plan.filter((p) => p.kind === 'constant').length,
      shapeNodes: this.#plan.filter((p) => p.kind === 'shape').length,
      tensorNodes: this.#plan.filter((p) => p.kind === 'tensor').length,
      opCounts,
      parameterCount,
      parameterTensors: this.#parameterNames.size,
    };
  }

  /** Frees the weights, folded constants and cached shape values. */
  override dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const entry of this.#shapeCache.values()) for (const v of entry.values()) v.dispose();
    this.#shapeCache.clear();
    for (const v of this.#fixed.values()) v.dispose();
    this.#fixed.clear();
    super.dispose();
  }
}

/**
 * Throws one error listing every node whose op (at the model's opset) Bastion does not support,
 * with the node names and the list of supported ops.
 */
export function checkSupported(model: OnnxModel): void {
  const missing = new Map<string, string[]>();
  const visit = (graph: OnnxGraph): void => {
    for (const node of graph.nodes) {
      const opset = model.opsets.get(node.domain);
      const label = node.domain ? `${node.domain}::${node.opType}` : node.opType;
      if (opset === undefined) {
        const list = missing.get(`${label} (domain '${node.domain}' is not imported)`) ?? [];
        list.push(node.name);
        missing.set(`${label} (domain '${node.domain}' is not imported)`, list);
        continue;
      }
      if (!findKernel(node.domain, node.opType, opset)) {
        const entry = `${label} at opset ${opset}`;
        missing.set(entry, [...(missing.get(entry) ?? []), node.name]);
      }
      for (const a of node.attributes.values()) {
        if (a.type === 'graph') visit(a.value);
        if (a.type === 'graphs') a.value.forEach(visit);
      }
    }
  };
  visit(model.graph);
  if (missing.size === 0) return;
  const parts = [...missing].map(([op, nodes]) => `${op} (node${nodes.length > 1 ? 's' : ''} ${nodes.slice(0, 3).map((n) => `'${n}'`).join(', ')}${nodes.length > 3 ? `, +${nodes.length - 3} more` : ''})`);
  throw new BastionError(`${model.file}: unsupported ONNX op${missing.size > 1 ? 's' : ''}: ${parts.join('; ')}`, {
    hint: `Bastion supports ${supportedOps().join(', ')}; export the model with other ops (e.g. another opset) or as TorchScript`,
  });
}

function hasSubgraph(node: OnnxNode): boolean {
  for (const a of node.attributes.values()) if (a.type === 'graph' || a.type === 'graphs') return true;
  return false;
}

function subgraphReadsOf(node: OnnxNode): string[] {
  if (!hasSubgraph(node)) return [];
  const reads: string[] = [];
  for (const a of node.attributes.values()) {
    const graphs = a.type === 'graph' ? [a.value] : a.type === 'graphs' ? a.value : [];
    for (const g of graphs) for (const n of g.nodes) reads.push(...n.inputs.filter((i) => i !== ''));
  }
  return reads;
}

function describe(t: Tensor | undefined): string {
  if (!t) return 'missing';
  return `${t.dtype}[${t.shape.join(',')}]`;
}

/** The {@link OnnxOpContext} of one node run. */
class NodeContext implements OnnxOpContext {
  readonly node: OnnxNode;
  readonly opset: number;
  readonly training: boolean;
  readonly #values: Map<string, Tensor>;
  readonly #file: string;

  constructor(p: PlannedNode, values: Map<string, Tensor>, training: boolean, file: string) {
    this.node = p.node;
    this.opset = p.opset;
    this.training = training;
    this.#values = values;
    this.#file = file;
  }

  get inputCount(): number {
    return this.node.inputs.length;
  }

  input(i: number): Tensor {
    const t = this.optionalInput(i);
    if (!t) throw this.fail(`needs input ${i}, which is absent`);
    return t;
  }

  optionalInput(i: number): Tensor | null {
    const name = this.node.inputs[i];
    if (name === undefined || name === '') return null;
    const t = this.#values.get(name);
    if (!t) throw this.fail(`input ${i} ('${name}') has no value (was it freed or never computed?)`);
    return t;
  }

  inputInts(i: number): number[] | null {
    const t = this.optionalInput(i);
    if (!t) return null;
    const cached = numberCache.get(t);
    if (cached) return cached;
    if (t.numel > 1 << 20) throw this.fail(`input ${i} holds ${t.numel} values where a short list of integers was expected`);
    const values = t.toNumbers();
    if (t.kept) numberCache.set(t, values);
    return values;
  }

  inputFloats(i: number): number[] | null {
    return this.inputInts(i);
  }

  has(name: string): boolean {
    return this.node.attributes.has(name);
  }

  attr(name: string): OnnxAttributeValue | undefined {
    return this.node.attributes.get(name);
  }

  #get<T extends OnnxAttributeValue['type']>(name: string, types: readonly T[]): Extract<OnnxAttributeValue, { type: T }> | undefined {
    const a = this.node.attributes.get(name);
    if (!a) return undefined;
    if (!(types as readonly string[]).includes(a.type)) throw this.fail(`attribute '${name}' is ${a.type}, expected ${types.join(' or ')}`);
    return a as Extract<OnnxAttributeValue, { type: T }>;
  }

  #missing(name: string): never {
    throw this.fail(`needs attribute '${name}'`);
  }

  attrInt(name: string, fallback?: number): number {
    const a = this.#get(name, ['int']);
    return a ? a.value : fallback ?? this.#missing(name);
  }

  attrInts(name: string, fallback?: readonly number[]): number[] {
    const a = this.#get(name, ['ints', 'int']);
    if (!a) return fallback ? [...fallback] : this.#missing(name);
    return a.type === 'int' ? [a.value] : [...a.value];
  }

  attrFloat(name: string, fallback?: number): number {
    const a = this.#get(name, ['float', 'int']);
    return a ? a.value : fallback ?? this.#missing(name);
  }

  attrFloats(name: string, fallback?: readonly number[]): number[] {
    const a = this.#get(name, ['floats', 'float']);
    if (!a) return fallback ? [...fallback] : this.#missing(name);
    return a.type === 'float' ? [a.value] : [...a.value];
  }

  attrString(name: string, fallback?: string): string {
    const a = this.#get(name, ['string']);
    return a ? a.value : fallback ?? this.#missing(name);
  }

  attrStrings(name: string, fallback?: readonly string[]): string[] {
    const a = this.#get(name, ['strings']);
    return a ? [...a.value] : fallback ? [...fallback] : this.#missing(name);
  }

  attrTensor(name: string): Tensor {
    const a = this.#get(name, ['tensor']);
    if (!a) this.#missing(name);
    return tensorFromOnnx(a.value);
  }

  attrGraph(name: string): OnnxGraph {
    const a = this.#get(name, ['graph']);
    if (!a) this.#missing(name);
    return a.value;
  }

  fail(problem: string, hint?: string): BastionError {
    return new BastionError(`${this.#file}: node '${this.node.name}' (${this.node.opType}, opset ${this.opset}) ${problem}`, hint === undefined ? {} : { hint });
  }
}
