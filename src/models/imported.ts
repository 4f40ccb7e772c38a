/**
 * Classifiers brought from other frameworks: an ONNX file or a TorchScript file as a white-box,
 * differentiable Bastion {@link Classifier} — [0,1] NCHW pixels in, logits out — so that every
 * attack, defense and evaluation runs on it unchanged.
 *
 * The model's own input convention (layout, pixel scale, per-channel mean/std, fixed size) is
 * described by {@link ImportOptions}; Bastion converts its [0,1] pixels to it inside the graph, so
 * attacks keep working in pixel space with pixel-space epsilons. The pixel scale and mean/std fold
 * into the classifier's normalisation: the model sees (x * scale - mean) / std, i.e.
 * (x - mean/scale) / (std/scale). A model whose scores are probabilities is attacked through their
 * logarithm (as AutoAttack advises: gradients of a saturated softmax vanish), with a warning.
 */
import { existsSync, openSync, readSync, closeSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { enableGrad, grad, noGrad, scope, rand, type Tensor } from '../tensor/index.js';
import { BastionError } from '../util/errors.js';
import { Classifier, type Tap } from './classifier.js';
import { OnnxNetwork } from './onnx/graph.js';
import type { TorchScriptNetwork } from './torchscript.js';

/** The file formats Bastion imports. */
export type ImportFormat = 'onnx' | 'torchscript';

/** What the imported model's scores are. */
export type OutputKind = 'logits' | 'probabilities' | 'log-probabilities';

/** How an imported model expects its input and where its scores are; every field is optional. */
export interface ImportOptions {
  /** Tensor layout the model takes: NCHW (PyTorch) or NHWC (TensorFlow/Keras). Default: from the graph's input shape, else NCHW. */
  layout?: 'nchw' | 'nhwc';
  /** The model's pixel range: 1 for [0,1] (default), 255 for [0,255]. */
  pixelScale?: number;
  /** Per-channel mean subtracted by the model's preprocessing, in units of the pixel scale. */
  mean?: number[];
  /** Per-channel standard deviation, in units of the pixel scale. */
  std?: number[];
  /** Input size for models with dynamic sizes (required then). */
  height?: number;
  width?: number;
  /** Input channels for models with a dynamic channel dim. */
  channels?: number;
  /** Class names, one per score. */
  classNames?: string[];
  /** The graph output holding the scores: an output name (ONNX) or index (both formats). Default: the first. */
  output?: string | number;
  /** What the scores are; 'auto' (default) reads it from the graph (a final Softmax: probabilities). */
  outputKind?: OutputKind | 'auto';
}

/** The options of an imported classifier with every field decided (what a sidecar stores). */
export interface ResolvedImport {
  format: ImportFormat;
  file: string;
  layout: 'nchw' | 'nhwc';
  pixelScale: number;
  mean: number[] | null;
  std: number[] | null;
  channels: number;
  height: number;
  width: number;
  numClasses: number;
  classNames: string[] | null;
  output: string | number;
  outputKind: OutputKind;
  /** The activation Grad-CAM and AAD read by default (ONNX: the last 4-D activation before global pooling). */
  camLayer: string | null;
  /** Things the user should know (e.g. probabilities instead of logits). */
  warnings: string[];
}

/** The format of a model file, from its extension and first bytes (a zip archive is TorchScript). */
export function importFormatOf(path: string): ImportFormat | null {
  const extension = extname(path).toLowerCase();
  if (extension === '.onnx') return 'onnx';
  if (extension === '.pt' || extension === '.pth' || extension === '.torchscript' || extension === '.ptl') return 'torchscript';
  if (!existsSync(path) || !statSync(path).isFile()) return null;
  const head = Buffer.alloc(4);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, head, 0, 4, 0);
  } finally {
    closeSync(fd);
  }
  if (head[0] === 0x50 && head[1] === 0x4b) return 'torchscript';
  // An ONNX ModelProto starts with field 1 (ir_version, varint): byte 0x08.
  if (head[0] === 0x08) return 'onnx';
  return null;
}

/** A network of either format: the raw model on its own input convention. */
type ForeignNetwork = OnnxNetwork | TorchScriptNetwork;

/**
 * An imported ONNX or TorchScript model as a Bastion classifier. Tap points (for Grad-CAM and
 * AAD) are the graph's 4-D activations, named as in the file; TorchScript models have none.
 */
export class ImportedClassifier extends Classifier {
  /** The decided options (what `bastion import` writes to the sidecar). */
  readonly imported: ResolvedImport;
  readonly tapPoints: readonly string[];
  readonly camLayer: string;
  readonly #network: ForeignNetwork;
  readonly #outputIndex: number;

  constructor(network: ForeignNetwork, resolved: ResolvedImport, tapPoints: readonly string[]) {
    const scale = resolved.pixelScale;
    const mean = resolved.mean ?? new Array<number>(resolved.channels).fill(0);
    const std = resolved.std ?? new Array<number>(resolved.channels).fill(1);
    const identity = scale === 1 && resolved.mean === null && resolved.std === null;
    super({
      channels: resolved.channels,
      height: resolved.height,
      width: resolved.width,
      numClasses: resolved.numClasses,
      normalization: identity ? null : { mean: mean.map((m) => m / scale), std: std.map((s) => s / scale) },
    });
    this.imported = resolved;
    this.#network = this.registerModule('network', network);
    this.tapPoints = tapPoints;
    this.camLayer = resolved.camLayer ?? '';
    this.#outputIndex = outputIndexOf(network, resolved.output);
  }

  /** The wrapped network (OnnxNetwork or TorchScriptNetwork). */
  get foreign(): ForeignNetwork {
    return this.#network;
  }

  protected network(x: Tensor, tap: Tap | null): Tensor {
    const input = this.imported.layout === 'nhwc' ? x.permute(0, 2, 3, 1) : x;
    let scores: Tensor;
    if (this.#network instanceof OnnxNetwork) {
      const taps = tap ? new Set(this.tapPoints) : undefined;
      const { outputs, taps: values } = this.#network.run([input], taps ? { taps } : {});
      scores = outputs[this.#outputIndex]!;
      if (tap) for (const name of this.tapPoints) tap(name, values.get(name)!);
    } else {
      scores = this.#network.forward(input);
    }
    if (scores.ndim !== 2) scores = scores.reshape(scores.shape[0] ?? 1, -1);
    if (this.imported.outputKind === 'probabilities') return scope(() => scores.clamp(1e-30, null).log());
    return scores;
  }

  override forwardWithActivation(x: Tensor, layer: string = this.camLayer): { logits: Tensor; activation: Tensor } {
    if (this.tapPoints.length === 0) {
      throw new BastionError(`${this.imported.file}: ${this.imported.format === 'torchscript' ? 'TorchScript models expose no inner activations to Bastion' : 'the graph has no 4-D activation'}, so Grad-CAM and AAD cannot read a layer`, {
        hint: this.imported.format === 'torchscript' ? 'export the model to ONNX (torch.onnx.export) and import that file' : 'Grad-CAM needs a convolutional feature map',
      });
    }
    if (!this.tapPoints.includes(layer)) {
      throw new BastionError(`${this.imported.file}: no 4-D activation named '${layer}'`, { hint: `choose --layer from ${this.tapPoints.slice(-12).join(', ')}${this.tapPoints.length > 12 ? ' (the last 12 of ' + this.tapPoints.length + '; `bastion import` lists all)' : ''}` });
    }
    return super.forwardWithActivation(x, layer);
  }
}

/** Which graph output holds the scores (ONNX); TorchScript networks return the chosen output themselves. */
function outputIndexOf(network: ForeignNetwork, output: string | number): number {
  if (!(network instanceof OnnxNetwork)) return 0;
  const index = typeof output === 'number' ? output : network.outputs.findIndex((o) => o.name === output);
  if (index < 0 || index >= network.outputs.length) {
    throw new BastionError(`${network.model.file}: no graph output ${typeof output === 'number' ? `#${output}` : `named '${output}'`}`, { hint: `choose --output from ${network.outputs.map((o, i) => `${i} (${o.name})`).join(', ')}` });
  }
  return index;
}

function positive(value: number | null | undefined): number | null {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : null;
}

/** Loads an ONNX or TorchScript file as a classifier, deciding every option not given (see {@link ImportOptions}). */
export async function importClassifier(file: string, options: ImportOptions = {}): Promise<ImportedClassifier> {
  if (!existsSync(file)) throw new BastionError(`${file} does not exist`, { hint: 'give a Bastion model folder, a .onnx file or a TorchScript .pt file' });
  const format = importFormatOf(file);
  if (format === null) {
    throw new BastionError(`${file} is neither an ONNX nor a TorchScript file (by its extension and first bytes)`, {
      hint: 'export the model with torch.onnx.export (.onnx) or torch.jit.trace/script + save (.pt)',
    });
  }
  // An output given as a digit string is an index. TorchScript support is loaded only when a
  // TorchScript file is imported; it picks its output at load.
  const output = typeof options.output === 'string' && /^\d+$/.test(options.output) ? Number(options.output) : options.output;
  const network: ForeignNetwork = format === 'onnx'
    ? OnnxNetwork.fromFile(file)
    : (await import('./torchscript.js')).TorchScriptNetwork.load(file, typeof output === 'number' ? { outputIndex: output } : output === undefined ? {} : { outputKey: output });
  try {
    network.eval();
    return decide(network, format, file, output === undefined ? options : { ...options, output });
  } catch (error) {
    network.dispose();
    throw error;
  }
}

function checkChannels(values: number[] | undefined, channels: number, what: string, file: string): number[] | null {
  if (values === undefined) return null;
  if (values.length === 1 && channels > 1) return new Array<number>(channels).fill(values[0]!);
  if (values.length !== channels) throw new BastionError(`${file}: --${what} has ${values.length} values, the model takes ${channels} channels`, { hint: `give ${channels} comma-separated values (or one for all)` });
  if (what === 'std' && values.some((v) => !(v > 0))) throw new BastionError(`${file}: --std values must be positive`);
  return [...values];
}

/** Decides every option not given (`options.output` comes normalised: an index is a number). */
function decide(network: ForeignNetwork, format: ImportFormat, file: string, options: ImportOptions): ImportedClassifier {
  const warnings: string[] = [];
  // Layout and sizes: from the options, else the graph's declared input shape.
  let declared: (number | string | null)[] | null = null;
  if (network instanceof OnnxNetwork) {
    if (network.inputs.length !== 1) {
      throw new BastionError(`${file}: the graph takes ${network.inputs.length} inputs (${network.inputs.map((i) => i.name).join(', ')}); a classifier takes one image batch`);
    }
    declared = network.inputs[0]!.shape;
    if (declared && declared.length !== 4) {
      throw new BastionError(`${file}: the graph's input '${network.inputs[0]!.name}' has rank ${declared.length} ([${declared.map((d) => d ?? '?').join(',')}]); Bastion imports image classifiers with a 4-D input (NCHW or NHWC)`);
    }
  }
  const dim = (i: number): number | null => positive(declared?.[i] as number | null | undefined);
  let layout = options.layout;
  if (layout === undefined) {
    const looksNhwc = declared !== null && [1, 3].includes(dim(3) ?? -1) && ![1, 3].includes(dim(1) ?? -1);
    layout = looksNhwc ? 'nhwc' : 'nchw';
  }
  const [cAt, hAt, wAt] = layout === 'nchw' ? [1, 2, 3] : [3, 1, 2];
  const channels = positive(options.channels) ?? dim(cAt) ?? 3;
  const height = positive(options.height) ?? dim(hAt);
  const width = positive(options.width) ?? dim(wAt);
  if (height === null || width === null) {
    throw new BastionError(`${file}: the model's input size is not fixed in the file`, { hint: 'give it with --input-size HxW (e.g. --input-size 224x224)' });
  }
  for (const [what, given, fromFile] of [['channels', options.channels, dim(cAt)], ['height', options.height, dim(hAt)], ['width', options.width, dim(wAt)]] as const) {
    if (given !== undefined && fromFile !== null && given !== fromFile) {
      throw new BastionError(`${file}: the graph's input has ${what} ${fromFile}, but ${given} was given`, { hint: 'check --input-size / --layout' });
    }
  }
  const pixelScale = options.pixelScale ?? 1;
  if (!(pixelScale > 0)) throw new BastionError(`${file}: the pixel scale must be positive, got ${pixelScale}`);
  const mean = checkChannels(options.mean, channels, 'mean', file);
  const std = checkChannels(options.std, channels, 'std', file);

  // Output: which one, and what it holds.
  const output = options.output ?? 0;
  const outputIndex = outputIndexOf(network, output);
  let outputKind: OutputKind;
  if (options.outputKind === undefined || options.outputKind === 'auto') {
    outputKind = 'logits';
    if (network instanceof OnnxNetwork) {
      const op = network.producerOf(network.outputs[outputIndex]!.name)?.opType;
      if (op === 'Softmax') outputKind = 'probabilities';
      if (op === 'LogSoftmax') outputKind = 'log-probabilities';
    }
  } else {
    outputKind = options.outputKind;
  }

  // A probe batch: the number of classes, the 4-D activations and, for TorchScript, whether the scores look like probabilities.
  const probe = probeNetwork(network, layout, channels, height, width, outputIndex);
  checkDifferentiable(network, format, file, layout, channels, height, width, outputIndex);
  if (options.outputKind === undefined || options.outputKind === 'auto') {
    if (outputKind === 'logits' && probe.looksLikeProbabilities) outputKind = 'probabilities';
  }
  if (outputKind === 'probabilities') {
    warnings.push(`${file}: the model outputs probabilities, not logits; Bastion attacks their logarithm (gradients of a saturated softmax vanish, so attacks on probabilities understate the model's weakness). Export the model without its final softmax if you can.`);
  }
  const classNames = options.classNames ?? null;
  if (classNames !== null && classNames.length !== probe.numClasses) {
    throw new BastionError(`${file}: ${classNames.length} class names given, the model scores ${probe.numClasses} classes`);
  }
  const resolved: ResolvedImport = {
    format, file, layout, pixelScale, mean, std, channels, height, width,
    numClasses: probe.numClasses, classNames, output, outputKind,
    camLayer: probe.camLayer, warnings,
  };
  return new ImportedClassifier(network, resolved, probe.tapPoints);
}

/**
 * One input gradient at load: a model that runs but cannot be differentiated (e.g. a TorchScript
 * file traced under no_grad, whose attention recorded libtorch's inference fast path) would
 * otherwise fail only in the middle of an attack.
 */
function checkDifferentiable(network: ForeignNetwork, format: ImportFormat, file: string, layout: 'nchw' | 'nhwc', c: number, h: number, w: number, outputIndex: number): void {
  enableGrad(() => scope(() => {
    const pixels = rand([1, c, h, w]).requiresGrad_(true);
    const input = layout === 'nhwc' ? pixels.permute(0, 2, 3, 1) : pixels;
    try {
      const scores = network instanceof OnnxNetwork ? network.run([input]).outputs[outputIndex]! : network.forward(input);
      grad(scores.float().sum(), pixels);
    } catch (error) {
      const reason = error instanceof Error ? error.message.split('\n')[0]!.replace(/^.*?\): /, '') : String(error);
      throw new BastionError(`${file}: the model runs, but its input gradient cannot be computed (${reason}), so gradient attacks cannot run on it`, {
        hint: format === 'torchscript'
          ? 'trace the model with autograd enabled (not under torch.no_grad(): attention layers then record an inference-only fast path), or export it to ONNX'
          : 'an op on the way from the input to the scores has no gradient in Bastion; please report it with the model',
        cause: error,
      });
    }
  }));
}

interface Probe {
  numClasses: number;
  tapPoints: string[];
  camLayer: string | null;
  looksLikeProbabilities: boolean;
}

/**
 * Runs two images through the network (no gradients) to learn the number of classes and the shape
 * of every activation. The default Grad-CAM layer is the last 4-D activation with more than one
 * spatial position computed before the first activation of rank 2 or less (global pooling /
 * flattening), the layer Grad-CAM's paper reads.
 */
function probeNetwork(network: ForeignNetwork, layout: 'nchw' | 'nhwc', c: number, h: number, w: number, outputIndex: number): Probe {
  return noGrad(() => scope(() => {
    const pixels = rand([2, c, h, w]);
    const input = layout === 'nhwc' ? pixels.permute(0, 2, 3, 1).contiguous() : pixels;
    let scores: Tensor;
    const tapPoints: string[] = [];
    let camLayer: string | null = null;
    if (network instanceof OnnxNetwork) {
      const names = network.runtimeValues();
      const { outputs, taps } = network.run([input], { taps: new Set(names) });
      let reducedSeen = false;
      for (const name of names) {
        const t = taps.get(name);
        if (!t || !t.isFloatingPoint) continue;
        if (t.ndim === 4 && t.shape[0] === 2) {
          tapPoints.push(name);
          if (!reducedSeen && (t.shape[2]! > 1 || t.shape[3]! > 1)) camLayer = name;
        } else if (t.ndim <= 2 && t.shape[0] === 2) {
          reducedSeen = true;
        }
      }
      scores = outputs[outputIndex]!;
    } else {
      scores = network.forward(input);
    }
    if (scores.ndim < 1 || scores.shape[0] !== 2) {
      throw new BastionError(`the model's output has shape [${scores.shape.join(',')}] for a batch of 2 images; a classifier gives [N, classes]`, { hint: 'choose the scores output with --output' });
    }
    const numClasses = scores.numel / 2;
    if (!Number.isInteger(numClasses) || numClasses < 2) throw new BastionError(`the model's output [${scores.shape.join(',')}] does not hold scores for 2 or more classes`);
    const flat = scores.reshape(2, -1).float();
    const inUnit = flat.min().item() >= 0 && flat.max().item() <= 1;
    const rowSums = flat.sum(1).toNumbers();
    const looksLikeProbabilities = inUnit && rowSums.every((s) => Math.abs(s - 1) < 1e-3);
    return { numClasses, tapPoints, camLayer, looksLikeProbabilities };
  }));
}
