/**
 * TorchScript classifiers as Bastion modules.
 *
 * A model trained in PyTorch and saved with `torch.jit.trace(model, x).save(path)` or
 * `torch.jit.script(model).save(path)` loads as a {@link TorchScriptNetwork}: a differentiable
 * {@link Module} whose forward runs the saved graph in libtorch (native/src/jit.cc). Its parameters
 * and buffers are the TorchScript module's own tensors (shared storage), registered under
 * PyTorch's dotted names through a tree of {@link TorchScriptSubmodule}s, so attacks differentiate
 * through it, optimizers update it in place, and state dicts keep PyTorch's names.
 *
 * The network takes inputs in its own convention (whatever it was traced with: shape, dtype,
 * normalisation) and returns its raw output; wrap it to get a pixel-space classifier.
 *
 * Graph executor: every call runs with libtorch's graph optimizer off, which builds one
 * unspecialised plan per method and reuses it for no-grad predictions and with-grad attack steps
 * alike, with gradients computed by ATen's own backward formulas as in eager PyTorch. Measured on
 * a small CNN (2 threads, alternating no-grad forward and forward + input gradient, batches
 * cycling 32/32/32/7): the same steady state either way (~4 ms per pair) and ~40 ms less warm-up
 * per loaded model (first 20 pairs 130-141 ms against 165-178 ms); native/src/jit.cc has details.
 */
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { Module } from '../nn/module.js';
import { fromHandle, type DeviceName, type Tensor } from '../tensor/tensor.js';
import { native, rawNative, type JitModuleHandle } from '../tensor/native.js';
import { readZipDirectory, readZipEntry, ZipFormatError, type ZipEntry } from '../io/zip.js';
import { BastionError } from '../util/errors.js';

/** Options of {@link TorchScriptNetwork.load}. */
export interface TorchScriptLoadOptions {
  /**
   * When forward returns a tuple or list: which element is the output (default: the first tensor).
   */
  outputIndex?: number;
  /** When forward returns a dict: the key of the output (required then). */
  outputKey?: string;
  /** Device to load the parameters onto (default 'cpu'). */
  device?: DeviceName;
}

/** What {@link TorchScriptNetwork.describe} reports, for `bastion import` and logs. */
export interface TorchScriptDescription {
  /** The file the module was loaded from. */
  file: string;
  /** Number of parameter elements (weights), as PyTorch's `sum(p.numel() for p in m.parameters())`. */
  parameterCount: number;
  /** Number of parameter tensors. */
  parameterTensors: number;
  /** Method names of the top-level module (e.g. ['forward']). */
  methods: string[];
  /**
   * The archive's file-format version record (`<archive>/version` or `<archive>/.data/version`),
   * the version of the serialisation format the producing PyTorch wrote; absent when unreadable.
   */
  producerVersion?: number;
  /** ATen operators the saved graphs call (`aten::conv2d`, ...), sorted; absent when unavailable. */
  opsUsed?: string[];
}

/** What a file offered as a TorchScript module appears to be (see {@link inspectTorchFile}). */
export interface TorchFileInfo {
  kind: 'torchscript' | 'flatbuffer' | 'torch-save' | 'legacy-pickle' | 'zip' | 'truncated-zip' | 'empty' | 'unknown';
  /** One phrase describing the file, for error messages. */
  description: string;
  /** The archive's format version record, when there is one. */
  producerVersion?: number;
}

const SAVE_HINT =
  'in Python, save the model with torch.jit.trace(model, example_input).save(path) or torch.jit.script(model).save(path)';

function versionRecord(path: string, entries: ZipEntry[], prefix: string): number | undefined {
  for (const name of [`${prefix}/version`, `${prefix}/.data/version`]) {
    const entry = entries.find((e) => e.name === name);
    if (entry === undefined || entry.size > 64) continue;
    try {
      const text = readZipEntry(path, entry).toString('utf8').trim();
      if (/^\d+$/.test(text)) return Number(text);
    } catch {
      // an unreadable record is reported as absent
    }
  }
  return undefined;
}

/**
 * Looks at a file without loading it: is it a TorchScript archive, a `torch.save` checkpoint, a
 * truncated ZIP, ...? Throws a {@link BastionError} when the path does not name a readable file.
 */
export function inspectTorchFile(path: string): TorchFileInfo {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw new BastionError(`${path} is a directory, not a TorchScript file`, { hint: SAVE_HINT });
    size = stat.size;
  } catch (error) {
    if (error instanceof BastionError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new BastionError(`${path}: no such file`, { hint: `check the path; ${SAVE_HINT}`, cause: error });
    throw new BastionError(`${path}: cannot read the file (${(error as Error).message})`, { cause: error });
  }
  if (size === 0) return { kind: 'empty', description: 'an empty file' };
  const head = Buffer.alloc(Math.min(size, 16));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, head.length, 0);
  } finally {
    closeSync(fd);
  }
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) {
    let entries: ZipEntry[];
    try {
      entries = readZipDirectory(path);
    } catch (error) {
      if (error instanceof ZipFormatError) return { kind: 'truncated-zip', description: `a damaged ZIP archive: ${error.reason}` };
      throw error;
    }
    const prefix = entries[0]?.name.split('/')[0] ?? '';
    const has = (name: string): boolean => entries.some((e) => e.name === `${prefix}/${name}`);
    const producerVersion = versionRecord(path, entries, prefix);
    const withVersion = <T extends TorchFileInfo>(info: T): T => (producerVersion === undefined ? info : { ...info, producerVersion });
    if (entries.some((e) => e.name.startsWith(`${prefix}/code/`)) || has('constants.pkl')) {
      return withVersion({ kind: 'torchscript', description: 'a TorchScript archive' });
    }
    if (has('data.pkl')) {
      return withVersion({
        kind: 'torch-save',
        description: 'a torch.save() checkpoint (a pickled state dict or nn.Module: data.pkl without TorchScript code/)',
      });
    }
    return withVersion({ kind: 'zip', description: `a ZIP archive of ${entries.length} entries without TorchScript code/ or data.pkl` });
  }
  if (head[0] === 0x80 && head.length >= 2 && head[1]! >= 2 && head[1]! <= 5) {
    return { kind: 'legacy-pickle', description: 'a Python pickle (a torch.save() file in the legacy, pre-ZIP format)' };
  }
  if (head.length >= 8 && head.toString('latin1', 4, 8) === 'PTMF') {
    return { kind: 'flatbuffer', description: 'a TorchScript flatbuffer (mobile) file' };
  }
  const hex = [...head.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const onnx = path.toLowerCase().endsWith('.onnx') ? ' (by its name, an ONNX model)' : '';
  return { kind: 'unknown', description: `neither a ZIP archive nor a pickle (it starts with bytes ${hex})${onnx}` };
}

function firstLine(message: string): string {
  const line = message.split('\n').map((l) => l.trim()).find((l) => l !== '') ?? message;
  return line.replace(/^\[enforce fail at [^\]]*\]\s*\.?\s*/, '');
}

/** The most telling line of a TorchScript interpreter error (its last `...Error: reason` line). */
function interpreterReason(message: string): string {
  const lines = message.split('\n').map((l) => l.trim());
  const errors = lines.filter((l) => /^[A-Za-z.]*Error: /.test(l));
  return errors.at(-1) ?? firstLine(message);
}

const NEWER_PYTORCH = /maximum supported version|Your PyTorch installation may be too old|unknown opcode|Unknown builtin op|Unknown type name|Unknown type constructor|schema not found|Couldn't find an operator|op not found/i;

function loadError(path: string, info: TorchFileInfo, error: unknown): BastionError {
  const message = error instanceof Error ? error.message : String(error);
  const linked = native.version();
  if (NEWER_PYTORCH.test(message)) {
    const max = /maximum supported version for reading is (\d+)/.exec(message)?.[1];
    const produced = info.producerVersion === undefined ? 'an unknown file format version' : `file format version ${info.producerVersion}`;
    const reads = max === undefined ? '' : `, which reads file format versions up to ${max}`;
    return new BastionError(
      `${path} was saved by a newer PyTorch (${produced}) than Bastion's linked libtorch ${linked} can read${reads}: ${firstLine(message)}`,
      {
        hint:
          'export the model to ONNX in Python (torch.onnx.export(model, example_input, "model.onnx")) and load that instead, ' +
          'or rebuild Bastion against a newer libtorch: LIBTORCH=/path/to/newer/libtorch npm run build:native',
        cause: error,
      },
    );
  }
  return new BastionError(`${path}: libtorch ${linked} could not load this TorchScript module: ${firstLine(message)}`, {
    hint: `${SAVE_HINT}, and check the file was copied completely`,
    cause: error,
  });
}

/** A unique key of the tree-building method, so it stays out of the public API. */
const attach = Symbol('TorchScriptNetwork.attach');

type TensorKind = 'parameter' | 'buffer';

interface TensorTree {
  [attach](path: readonly string[], kind: TensorKind, tensor: Tensor): void;
}

/**
 * A node of the module tree mirroring a TorchScript module's dotted names (`features.0.weight`
 * lives in child `features`, then child `0`). It only holds tensors; the forward pass belongs to
 * the {@link TorchScriptNetwork} at the root.
 */
export class TorchScriptSubmodule extends Module implements TensorTree {
  readonly #children = new Map<string, TorchScriptSubmodule>();

  /** Not callable: the TorchScript graph runs as a whole from the root network. */
  forward(_input: Tensor): Tensor {
    throw new BastionError('a TorchScriptSubmodule cannot run on its own', { hint: 'call forward() on the TorchScriptNetwork that holds it' });
  }

  /** @internal */
  [attach](path: readonly string[], kind: TensorKind, tensor: Tensor): void {
    attachTo(this, this.#children, path, kind, tensor, (name, t) => {
      if (kind === 'parameter') this.registerParameter(name, t);
      else this.registerBuffer(name, t);
    }, (name, child) => this.registerModule(name, child));
  }
}

function attachTo(
  node: Module,
  children: Map<string, TorchScriptSubmodule>,
  path: readonly string[],
  kind: TensorKind,
  tensor: Tensor,
  registerTensor: (name: string, tensor: Tensor) => void,
  registerChild: (name: string, child: TorchScriptSubmodule) => void,
): void {
  const [head, ...rest] = path;
  if (head === undefined || head === '') throw new BastionError(`TorchScript ${kind} has an empty name segment`);
  if (rest.length === 0) {
    registerTensor(head, tensor);
    return;
  }
  let child = children.get(head);
  if (child === undefined) {
    child = new TorchScriptSubmodule();
    child.training = node.training;
    children.set(head, child);
    registerChild(head, child);
  }
  child[attach](rest, kind, tensor);
}

/**
 * A TorchScript module (from `torch.jit.trace` or `torch.jit.script`) as a differentiable Bastion
 * {@link Module}: `forward(x)` runs the saved graph with autograd, so gradients flow to the input
 * and to the parameters; `parameters()` are the module's own tensors under PyTorch's names.
 *
 * ```ts
 * const net = TorchScriptNetwork.load('resnet.pt');
 * const logits = noGrad(() => net.forward(x));
 * net.dispose();
 * ```
 *
 * It is always in eval mode after loading; `train()` / `eval()` switch the TorchScript module too.
 */
export class TorchScriptNetwork extends Module implements TensorTree {
  /** The file the module was loaded from. */
  readonly file: string;
  /** Element of a tuple/list output that forward returns (null: the first tensor). */
  readonly outputIndex: number | null;
  /** Key of a dict output that forward returns (null: the output is not a dict). */
  readonly outputKey: string | null;
  /** The archive's file-format version record, when readable. */
  readonly producerVersion: number | undefined;
  #handle: JitModuleHandle | null;
  readonly #children = new Map<string, TorchScriptSubmodule>();

  private constructor(file: string, handle: JitModuleHandle, options: TorchScriptLoadOptions, producerVersion: number | undefined) {
    super();
    this.file = file;
    this.#handle = handle;
    this.outputIndex = options.outputIndex ?? null;
    this.outputKey = options.outputKey ?? null;
    this.producerVersion = producerVersion;
    this.training = false;
    for (const [name, h] of native.jitNamedParameters(handle)) this[attach](name.split('.'), 'parameter', fromHandle(h));
    for (const [name, h] of native.jitNamedBuffers(handle)) this[attach](name.split('.'), 'buffer', fromHandle(h));
  }

  /**
   * Loads a TorchScript file. Throws a {@link BastionError} that says what the file seems to be
   * when it is not TorchScript (a `torch.save` state dict, a truncated or foreign file), and names
   * both versions when the file was written by a PyTorch newer than the linked libtorch.
   */
  static load(path: string, options: TorchScriptLoadOptions = {}): TorchScriptNetwork {
    if (typeof path !== 'string' || path === '') throw new BastionError('TorchScriptNetwork.load: the path must be a non-empty string', { exitCode: 2 });
    const { outputIndex, outputKey } = options;
    if (outputIndex !== undefined && (!Number.isInteger(outputIndex) || outputIndex < 0)) {
      throw new BastionError(`TorchScriptNetwork.load: outputIndex must be a non-negative integer, got ${outputIndex}`, { exitCode: 2 });
    }
    if (outputKey !== undefined && (typeof outputKey !== 'string' || outputKey === '')) {
      throw new BastionError(`TorchScriptNetwork.load: outputKey must be a non-empty string, got ${JSON.stringify(outputKey)}`, { exitCode: 2 });
    }
    if (outputIndex !== undefined && outputKey !== undefined) {
      throw new BastionError('TorchScriptNetwork.load: give outputIndex (tuple/list outputs) or outputKey (dict outputs), not both', { exitCode: 2 });
    }
    const info = inspectTorchFile(path);
    if (info.kind !== 'torchscript' && info.kind !== 'flatbuffer') {
      const hint = info.kind === 'torch-save' || info.kind === 'legacy-pickle'
        ? `a checkpoint holds weights, not the network's code: ${SAVE_HINT}`
        : info.kind === 'truncated-zip' || info.kind === 'empty'
          ? `the file is incomplete; copy or save it again (${SAVE_HINT})`
          : SAVE_HINT;
      throw new BastionError(`${path} is ${info.description}, not a TorchScript module`, { hint });
    }
    let handle: JitModuleHandle;
    try {
      handle = rawNative.jitLoad(path, options.device ?? 'cpu');
    } catch (error) {
      throw loadError(path, info, error);
    }
    try {
      return new TorchScriptNetwork(path, handle, options, info.producerVersion);
    } catch (error) {
      rawNative.jitDispose(handle);
      throw error;
    }
  }

  #live(what: string): JitModuleHandle {
    if (this.#handle === null) {
      throw new BastionError(`TorchScriptNetwork(${basename(this.file)}).${what}: used after dispose()`, { hint: 'load the file again' });
    }
    return this.#handle;
  }

  /** @internal */
  [attach](path: readonly string[], kind: TensorKind, tensor: Tensor): void {
    attachTo(this, this.#children, path, kind, tensor, (name, t) => {
      if (kind === 'parameter') this.registerParameter(name, t);
      else this.registerBuffer(name, t);
    }, (name, child) => this.registerModule(name, child));
  }

  /**
   * Runs the saved forward on `x` (already in the model's own input convention) and returns its
   * raw output tensor (or the chosen element of a tuple, list or dict output). Differentiable.
   */
  forward(x: Tensor): Tensor {
    const handle = this.#live('forward');
    try {
      return fromHandle(rawNative.jitForward(handle, x.handle, this.outputIndex, this.outputKey));
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      if (/^forward (returned|'s output)/.test(message)) {
        throw new BastionError(`${basename(this.file)}: ${firstLine(message)}`, {
          hint: 'choose the output with TorchScriptNetwork.load(path, { outputIndex }) for a tuple or list, { outputKey } for a dict',
          cause: error,
        });
      }
      throw new BastionError(
        `${basename(this.file)}: forward failed on a [${x.shape.join(',')}] ${x.dtype} ${x.device} input: ${interpreterReason(message)}`,
        { hint: 'give the input the shape, dtype, device and normalisation the model was traced or scripted for', cause: error },
      );
    }
  }

  /** Sets training mode here, on the mirrored tree and on the TorchScript module itself. */
  override train(mode = true): this {
    super.train(mode);
    if (this.#handle !== null) native.jitTrain(this.#handle, mode);
    return this;
  }

  /** Method names of the top-level TorchScript module. */
  methods(): string[] {
    return native.jitMethods(this.#live('methods'));
  }

  /** A summary for printing: file, parameter count, methods, format version and ATen ops used. */
  describe(): TorchScriptDescription {
    const handle = this.#live('describe');
    const ops = Object.keys(native.jitOpCounts(handle)).filter((k) => k.startsWith('aten::')).sort();
    const out: TorchScriptDescription = {
      file: this.file,
      parameterCount: this.numParameters(),
      parameterTensors: this.parameters().length,
      methods: native.jitMethods(handle),
      opsUsed: ops,
    };
    if (this.producerVersion !== undefined) out.producerVersion = this.producerVersion;
    return out;
  }

  /** Frees the parameter handles and the TorchScript module. The network is unusable afterwards. */
  override dispose(): void {
    super.dispose();
    if (this.#handle !== null) {
      native.jitDispose(this.#handle);
      this.#handle = null;
    }
  }

  protected override extraRepr(): string {
    return JSON.stringify(basename(this.file));
  }
}
