/**
 * The model zoo: every architecture by name, its presets, and saving/loading whole models.
 * A checkpoint's model.json names the architecture and its config; `loadModel(dir)` rebuilds the
 * model from them and loads the weights, checking every tensor.
 */
import { BastionError, DataError, describeError } from '../util/errors.js';
import { ownEntry } from '../util/records.js';
import { existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CHECKPOINT_FILES, loadCheckpointInto, readCheckpointMeta, resolveCheckpointDir, saveCheckpoint, type CheckpointMeta } from '../io/checkpoint.js';
import { collectProvenance } from '../io/provenance.js';
import { ImportedClassifier, importClassifier, importFormatOf, type ImportOptions, type ResolvedImport } from './imported.js';
import { OnnxNetwork } from './onnx/graph.js';
import type { Module } from '../nn/index.js';
import { Classifier, type ClassifierShape, type Normalization } from './classifier.js';
import { Purifier, type PurifierShape } from './purifier.js';
import { SimpleCNN } from './simple-cnn.js';
import { KfoldCNN } from './kfold-cnn.js';
import { LeNet } from './lenet.js';
import { VGG16 } from './vgg16.js';
import { ResNet18 } from './resnet18.js';
import { ResNet9 } from './resnet9.js';
import { CAE } from './cae.js';
import { CSAAE } from './csaae.js';
import { DAE } from './dae.js';

/** Whether a model classifies images or purifies them. */
export type ModelKind = 'classifier' | 'purifier';

/** The image and label shape a model is built for. */
export interface DataShape {
  channels: number;
  height: number;
  width: number;
  /** Needed by classifiers. */
  numClasses?: number;
}

/** One architecture of the zoo. */
export interface Architecture {
  name: string;
  kind: ModelKind;
  /** One line for `bastion models`. */
  summary: string;
  /** Where it comes from. */
  paper: string;
  /** Hyper-parameters merged over the data shape (e.g. a preset's kernel size). */
  preset: Record<string, unknown>;
  /** The architecture a preset builds (its own name for base architectures). */
  base: string;
  build(config: Record<string, unknown>): Classifier | Purifier;
}

type Builder = (config: Record<string, unknown>) => Classifier | Purifier;

function classifierBuilder(make: (c: ClassifierShape & Record<string, unknown>) => Classifier): Builder {
  return (config) => make(config as ClassifierShape & Record<string, unknown>);
}
function purifierBuilder(make: (c: PurifierShape & Record<string, unknown>) => Purifier): Builder {
  return (config) => make(config as PurifierShape & Record<string, unknown>);
}

const BASES: Record<string, { kind: ModelKind; summary: string; paper: string; build: Builder; type: abstract new (...args: never[]) => Module }> = {
  'simple-cnn': { kind: 'classifier', summary: 'conv32 3x3, pool, conv64 3x3, pool, dense 128, dense 10', paper: '000 (CSAAE) sec. VI.B', build: classifierBuilder((c) => new SimpleCNN(c)), type: SimpleCNN },
  'kfold-cnn': { kind: 'classifier', summary: 'conv32 3x3, pool, conv64 3x3, pool, dense 10 (the K-fold ensemble member)', paper: '001 (DAE + K-fold) sec. 3.2', build: classifierBuilder((c) => new KfoldCNN(c)), type: KfoldCNN },
  lenet: { kind: 'classifier', summary: 'conv32 5x5, pool, conv64 5x5, pool, dense 1024, dropout 0.5, dense 10 (Madry et al.)', paper: '004 (AAD) sec. 5.1', build: classifierBuilder((c) => new LeNet(c)), type: LeNet },
  vgg16: { kind: 'classifier', summary: '13 conv 3x3 + 3 dense; small inputs padded to 32, compact head', paper: '000 / 002', build: classifierBuilder((c) => new VGG16(c)), type: VGG16 },
  resnet18: { kind: 'classifier', summary: 'ResNet-18, CIFAR stem for small inputs', paper: '000 (Table 5)', build: classifierBuilder((c) => new ResNet18(c)), type: ResNet18 },
  resnet9: { kind: 'classifier', summary: 'ResNet-9 (DAWNBench) for CIFAR-10', paper: '004 (AAD) CIFAR-10', build: classifierBuilder((c) => new ResNet9(c)), type: ResNet9 },
  cae: { kind: 'purifier', summary: 'U-shaped conv auto-encoder, GELU, latent Gaussian noise', paper: '002 (Mandal); baseline of 000', build: purifierBuilder((c) => new CAE(c)), type: CAE },
  csaae: { kind: 'purifier', summary: 'U-shaped conv self-attention auto-encoder, GELU, 288-d noisy latent', paper: '000 (CSAAE) sec. VI.C', build: purifierBuilder((c) => new CSAAE(c)), type: CSAAE },
  dae: { kind: 'purifier', summary: 'denoising auto-encoder conv16/8 s2, convT 8/16 s2, conv1 sigmoid', paper: '001 (DAE + K-fold) sec. 3.4', build: purifierBuilder((c) => new DAE(c)), type: DAE },
};

const PRESETS: Record<string, { base: string; summary: string; preset: Record<string, unknown> }> = {
  'simple-cnn-fig1': { base: 'simple-cnn', summary: 'Fig. 1 variant: conv32 5x5, pool, conv64 5x5, pool, dense 1000, dense 10', preset: { kernel: 5, hidden: 1000 } },
  'vgg16-bn': { base: 'vgg16', summary: 'VGG-16 with BatchNorm after each convolution', preset: { batchNorm: true } },
};

/** Every architecture and preset, in listing order. */
export const architectures: readonly Architecture[] = [
  ...Object.entries(BASES).map(([name, b]) => ({ name, kind: b.kind, summary: b.summary, paper: b.paper, preset: {}, base: name, build: b.build })),
  ...Object.entries(PRESETS).map(([name, p]) => {
    const b = BASES[p.base]!;
    return { name, kind: b.kind, summary: p.summary, paper: b.paper, preset: p.preset, base: p.base, build: b.build };
  }),
];

/** Looks up an architecture or preset by name; the error lists the valid names. */
export function architecture(name: string): Architecture {
  const found = architectures.find((a) => a.name === name);
  if (!found) {
    throw new BastionError(`unknown model '${name}'`, { hint: `choose one of ${architectures.map((a) => a.name).join(', ')} (see \`bastion models\`)`, exitCode: 2 });
  }
  return found;
}

/** The registry name of a model instance's architecture. */
export function architectureOf(model: Module): string {
  for (const [name, b] of Object.entries(BASES)) if (model instanceof b.type) return name;
  throw new BastionError(`${model.constructor.name} is not an architecture of the model zoo`);
}

/** The full config for `name` on data of `shape` (preset, then shape, then overrides). */
export function modelConfig(name: string, shape: DataShape, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const arch = architecture(name);
  if (arch.kind === 'classifier' && shape.numClasses === undefined) throw new BastionError(`${name} is a classifier: the data shape needs numClasses`);
  const base = arch.kind === 'classifier'
    ? { channels: shape.channels, height: shape.height, width: shape.width, numClasses: shape.numClasses }
    : { channels: shape.channels, height: shape.height, width: shape.width };
  return { ...arch.preset, ...base, ...overrides };
}

/** Builds a freshly initialised model. */
export function createModel(name: string, config: Record<string, unknown>): Classifier | Purifier {
  return architecture(name).build(config);
}

/** Builds a classifier (error if `name` is a purifier). */
export function createClassifier(name: string, config: Record<string, unknown>): Classifier {
  const model = createModel(name, config);
  if (!(model instanceof Classifier)) throw new BastionError(`'${name}' is a purifier, not a classifier`);
  return model;
}

/** Builds a purifier (error if `name` is a classifier). */
export function createPurifier(name: string, config: Record<string, unknown>): Purifier {
  const model = createModel(name, config);
  if (!(model instanceof Purifier)) throw new BastionError(`'${name}' is a classifier, not a purifier`);
  return model;
}

/** The config a model was built from (each zoo model keeps it as `config`). */
export function configOf(model: Classifier | Purifier): Record<string, unknown> {
  return { ...(model as unknown as { config: Record<string, unknown> }).config };
}

/** What is saved with a model besides its weights. */
export interface SaveModelInfo {
  classNames?: string[];
  history?: Record<string, unknown>[];
  /** How it was trained and how it scored (data, recipe, mode, test metrics). */
  training?: Record<string, unknown>;
  seed?: number;
  command?: string;
}

/** Saves a zoo model (or an imported one) as a checkpoint directory (atomically replacing any previous one). */
export async function saveModel(dir: string, model: Classifier | Purifier, info: SaveModelInfo = {}): Promise<CheckpointMeta> {
  if (model instanceof ImportedClassifier) return saveImportedModel(dir, model, info);
  const normalization: Normalization | null = model instanceof Classifier ? model.normalization : null;
  return saveCheckpoint(dir, model, {
    architecture: architectureOf(model),
    config: configOf(model),
    ...(normalization ? { normalization: { mean: [...normalization.mean], std: [...normalization.std] } } : {}),
    inputShape: [model.channels, model.height, model.width],
    ...(info.classNames ? { classNames: info.classNames } : {}),
    ...(info.history ? { history: info.history } : {}),
    ...(info.training ? { training: info.training } : {}),
    ...(info.seed === undefined ? {} : { seed: info.seed }),
    ...(info.command === undefined ? {} : { command: info.command }),
  });
}

/** The architecture name of imported models in model.json (their config is a {@link ResolvedImport}). */
export const IMPORTED_ARCHITECTURE = 'imported';

/** The name an imported model file has inside its Bastion folder. */
function importedFileName(resolved: ResolvedImport): string {
  return resolved.format === 'onnx' ? 'model.onnx' : 'model.pt';
}

/** The sidecar config of an imported model: every decided option, the file relative to the folder. */
function importedConfig(model: ImportedClassifier, file: string): Record<string, unknown> {
  const { warnings: _warnings, file: _file, ...rest } = model.imported;
  return { ...rest, file };
}

/**
 * Writes an imported classifier as a Bastion model folder (`bastion import MODEL --out DIR`): the
 * model file (and any external data it reads), model.json holding every import option, and its
 * current weights as model.safetensors (loaded over the file's own, so fine-tuned weights stay).
 * Later commands then take DIR like any model folder, with no import flags.
 */
export async function saveImportedModel(dir: string, model: ImportedClassifier, info: SaveModelInfo = {}): Promise<CheckpointMeta> {
  const fileName = importedFileName(model.imported);
  const files: Record<string, string> = { [fileName]: model.imported.file };
  const foreign = model.foreign;
  if (foreign instanceof OnnxNetwork) {
    for (const external of foreign.model.externalFiles) files[external] = join(dirname(model.imported.file), external);
  }
  const classNames = info.classNames ?? model.imported.classNames ?? undefined;
  return saveCheckpoint(dir, model, {
    architecture: IMPORTED_ARCHITECTURE,
    config: importedConfig(model, fileName),
    inputShape: [model.channels, model.height, model.width],
    ...(classNames ? { classNames } : {}),
    ...(info.training ? { training: info.training } : {}),
    ...(info.command === undefined ? {} : { command: info.command }),
  }, { files });
}

/** The options stored in an imported model's model.json, with `overrides` (e.g. command-line flags) on top. */
function importOptionsFromMeta(meta: CheckpointMeta, overrides: ImportOptions): ImportOptions {
  const c = meta.config;
  const pick = <T>(key: string): T | undefined => (c[key] === null || c[key] === undefined ? undefined : (c[key] as T));
  const stored: ImportOptions = {};
  const set = <K extends keyof ImportOptions>(key: K, value: ImportOptions[K] | undefined): void => {
    if (value !== undefined) stored[key] = value;
  };
  set('layout', pick('layout'));
  set('pixelScale', pick('pixelScale'));
  set('mean', pick('mean'));
  set('std', pick('std'));
  set('height', pick('height'));
  set('width', pick('width'));
  set('channels', pick('channels'));
  set('classNames', pick('classNames') ?? meta.classNames);
  set('output', pick('output'));
  set('outputKind', pick('outputKind'));
  return { ...stored, ...overrides };
}

/** Model.json-style metadata for a model file imported without a Bastion folder. */
function importedMeta(model: ImportedClassifier): CheckpointMeta {
  return {
    format: 'bastion-checkpoint',
    version: 1,
    architecture: IMPORTED_ARCHITECTURE,
    config: importedConfig(model, model.imported.file),
    ...(model.normalization ? { normalization: { mean: [...model.normalization.mean], std: [...model.normalization.std] } } : {}),
    ...(model.imported.classNames ? { classNames: model.imported.classNames } : {}),
    inputShape: [model.channels, model.height, model.width],
    provenance: collectProvenance(),
  };
}

/** True when `path` names a model file to import (ONNX or TorchScript) rather than a Bastion model folder. */
export function isImportableFile(path: string): boolean {
  return existsSync(path) && statSync(path).isFile() && importFormatOf(path) !== null;
}

/** Range of one numeric field of a zoo model's config: [min, max], integer or not. */
const CONFIG_LIMITS: Readonly<Record<string, { min: number; max: number; integer: boolean }>> = {
  channels: { min: 1, max: 64, integer: true },
  height: { min: 1, max: 8192, integer: true },
  width: { min: 1, max: 8192, integer: true },
  numClasses: { min: 1, max: 100_000, integer: true },
  kernel: { min: 1, max: 15, integer: true },
  hidden: { min: 1, max: 65_536, integer: true },
  base: { min: 1, max: 1024, integer: true },
  heads: { min: 1, max: 64, integer: true },
  poolSize: { min: 1, max: 64, integer: true },
  widthFactor: { min: 1 / 64, max: 16, integer: false },
  dropout: { min: 0, max: 0.999, integer: false },
  latentNoise: { min: 0, max: 1000, integer: false },
};

/**
 * Checks the numeric fields of a zoo model's config (as read from `file`, a model.json) against
 * sane ranges before anything is allocated: `hidden: 1e12` is an error naming the field, not an
 * out-of-memory crash. Throws a {@link DataError}; fields it does not know are left to the model.
 */
export function checkModelConfig(config: Readonly<Record<string, unknown>>, file: string): void {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) throw new DataError(file, "field 'config' must be an object");
  for (const [key, value] of Object.entries(config)) {
    const limit = ownEntry(CONFIG_LIMITS, key);
    if (limit === undefined || value === undefined || value === null) continue;
    const ok = typeof value === 'number' && Number.isFinite(value) && (!limit.integer || Number.isInteger(value)) && value >= limit.min && value <= limit.max;
    if (!ok) {
      throw new DataError(file, `field 'config.${key}' must be ${limit.integer ? 'an integer' : 'a number'} from ${limit.min} to ${limit.max}, got ${JSON.stringify(value)}`);
    }
  }
}

/** A model loaded from a checkpoint, with its description. */
export type LoadedModel =
  | { kind: 'classifier'; model: Classifier; meta: CheckpointMeta; dir: string }
  | { kind: 'purifier'; model: Purifier; meta: CheckpointMeta; dir: string };

/**
 * Rebuilds a model from a checkpoint directory and loads its weights (in evaluation mode). A folder
 * written by `bastion import` holds an imported classifier; `importOptions` override its stored options.
 */
export async function loadModel(dir: string, importOptions: ImportOptions = {}): Promise<LoadedModel> {
  if (isImportableFile(dir)) {
    const model = await importClassifier(dir, importOptions);
    return { kind: 'classifier', model, meta: importedMeta(model), dir };
  }
  const meta = await readCheckpointMeta(dir);
  if (meta.architecture === IMPORTED_ARCHITECTURE) return loadImportedFolder(dir, meta, importOptions);
  const metaFile = join(resolveCheckpointDir(dir), CHECKPOINT_FILES.meta);
  const base = typeof meta.architecture === 'string' ? ownEntry(BASES, meta.architecture) : undefined;
  if (!base) {
    throw new DataError(metaFile, `field 'architecture' names ${JSON.stringify(meta.architecture)}, which this Bastion does not know`, `known architectures: ${Object.keys(BASES).join(', ')}`);
  }
  const config = { ...meta.config };
  if (meta.normalization && config['normalization'] === undefined) config['normalization'] = meta.normalization;
  checkModelConfig(config, metaFile);
  let model: Classifier | Purifier;
  try {
    model = base.build(config);
  } catch (error) {
    throw new DataError(metaFile, `cannot build a ${meta.architecture} from field 'config': ${describeError(error)}`, 'fix or remove the field, or train the model again');
  }
  try {
    await loadCheckpointInto(dir, model, { strict: true, expectArchitecture: meta.architecture });
  } catch (error) {
    model.dispose();
    throw error;
  }
  model.eval();
  return model instanceof Classifier
    ? { kind: 'classifier', model, meta, dir }
    : { kind: 'purifier', model: model as Purifier, meta, dir };
}

async function loadImportedFolder(dir: string, meta: CheckpointMeta, overrides: ImportOptions): Promise<LoadedModel> {
  const source = resolveCheckpointDir(dir);
  const file = join(source, String(meta.config['file'] ?? ''));
  if (!existsSync(file)) throw new BastionError(`${dir}: the imported model file ${file} is missing`, { hint: 'run `bastion import MODEL --out DIR` again' });
  const model = await importClassifier(file, importOptionsFromMeta(meta, overrides));
  try {
    if (existsSync(join(source, CHECKPOINT_FILES.weights))) await loadCheckpointInto(dir, model, { strict: true, expectArchitecture: IMPORTED_ARCHITECTURE, infiniteBuffers: true });
  } catch (error) {
    model.dispose();
    throw error;
  }
  model.eval();
  return { kind: 'classifier', model, meta, dir };
}

/**
 * Loads a classifier: a Bastion model folder (trained or imported) or an ONNX / TorchScript file
 * (imported with `importOptions`; see {@link ImportOptions}). Error if it holds a purifier.
 */
export async function loadClassifier(dir: string, importOptions: ImportOptions = {}): Promise<{ model: Classifier; meta: CheckpointMeta; dir: string }> {
  const loaded = await loadModel(dir, importOptions);
  if (loaded.kind !== 'classifier') {
    loaded.model.dispose();
    throw new BastionError(`${dir} holds a purifier (${loaded.meta.architecture}); a classifier is needed here`);
  }
  return loaded;
}

/** Loads a purifier checkpoint (error if it holds a classifier). */
export async function loadPurifier(dir: string): Promise<{ model: Purifier; meta: CheckpointMeta; dir: string }> {
  const loaded = await loadModel(dir);
  if (loaded.kind !== 'purifier') {
    loaded.model.dispose();
    throw new BastionError(`${dir} holds a classifier (${loaded.meta.architecture}); a purifier is needed here`);
  }
  return loaded;
}
