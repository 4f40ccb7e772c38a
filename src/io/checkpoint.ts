/**
 * Checkpoints: a directory holding a model's weights and what is needed to use them.
 *
 *   model.safetensors     the state dict under PyTorch's names (loadable by torch.nn)
 *   model.json            { format: 'bastion-checkpoint', version: 1, architecture, config,
 *                           normalization?, classNames?, inputShape?, history?, training?,
 *                           provenance }
 *   train-state.safetensors + train-state.json   (optional) optimizer, schedule and RNG state
 *                           for resuming training; written by src/train, whose schema it is
 *
 * A checkpoint is replaced as a whole: the new files are written into a staging directory beside
 * it, which is then renamed into place (the old one is moved aside to `<dir>.previous` first and
 * deleted afterwards). A crash at any point leaves either the old or the new checkpoint complete;
 * readers fall back to `<dir>.previous` when `<dir>` is missing. Loading checks every tensor's
 * name, shape and dtype against the module and says which one is wrong and how.
 */
import { randomBytes } from 'node:crypto';
import { accessSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, readFile, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Module, LoadStateDictResult } from '../nn/index.js';
import { StateDictError } from '../nn/index.js';
import { scope, type Tensor } from '../tensor/index.js';
import { BastionError, DataError, jsonSyntaxProblem } from '../util/errors.js';
import { fsyncDirectory, writeFileAtomic } from './atomic.js';
import { collectProvenance, type Provenance } from './provenance.js';
import { readSafetensors, writeSafetensors } from './safetensors.js';

import { CHECKPOINT_FILES, CHECKPOINT_OWNS } from './checkpoint-files.js';

export { CHECKPOINT_FILES, CHECKPOINT_OWNS };

/** The `format` tag of model.json. */
export const CHECKPOINT_FORMAT = 'bastion-checkpoint';
/** The `format` tag of train-state.json. */
export const TRAIN_STATE_FORMAT = 'bastion-train-state';
/** The version of both file schemas written by this Bastion. */
export const CHECKPOINT_VERSION = 1;

/** Input normalisation a model expects: per-channel mean and standard deviation in [0, 1] pixel units. */
export interface Normalization {
  mean: number[];
  std: number[];
}

/** The contents of model.json. */
export interface CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  /** Architecture name the model registry (src/models) builds from, e.g. 'simple-cnn'. */
  architecture: string;
  /** The architecture's hyper-parameters (channels, classes, ...), enough to rebuild it. */
  config: Record<string, unknown>;
  normalization?: Normalization;
  classNames?: string[];
  /** Input shape without the batch dimension, e.g. [1, 28, 28]. */
  inputShape?: number[];
  /** Per-epoch training metrics. */
  history?: Record<string, unknown>[];
  /** How the model was trained and how it scored: data, recipe, mode, test metrics, sources. */
  training?: Record<string, unknown>;
  provenance: Provenance;
}

/** What the caller describes when saving: model.json minus the fields Bastion fills in. */
export interface CheckpointDescription {
  architecture: string;
  config: Record<string, unknown>;
  normalization?: Normalization;
  classNames?: string[];
  inputShape?: number[];
  history?: Record<string, unknown>[];
  training?: Record<string, unknown>;
  /** Added to the collected provenance. */
  seed?: number;
  command?: string;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions {
  trainState?: TrainStateFiles;
  /** Files copied into the checkpoint with it (name inside the folder -> source path), e.g. an imported model's ONNX file. */
  files?: Record<string, string>;
}

/** Training state saved beside the model: a JSON document (schema owned by src/train) and tensors. */
export interface TrainStateFiles {
  meta: Record<string, unknown>;
  tensors: Map<string, Tensor>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function isNumberArray(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((v) => typeof v === 'number' && Number.isFinite(v));
}

/** Validates model.json contents; errors name the file and field. */
export function validateCheckpointMeta(value: unknown, file: string): CheckpointMeta {
  if (!isPlainObject(value)) throw new DataError(file, 'must hold a JSON object');
  if (value['format'] !== CHECKPOINT_FORMAT) throw new DataError(file, `format is ${JSON.stringify(value['format'])}, expected '${CHECKPOINT_FORMAT}'; this is not a Bastion checkpoint`);
  const version = value['version'];
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) throw new DataError(file, `version must be a positive integer, got ${JSON.stringify(version)}`);
  if (version > CHECKPOINT_VERSION) throw new DataError(file, `was written by a newer Bastion (checkpoint version ${version}; this one reads up to ${CHECKPOINT_VERSION})`, 'upgrade Bastion');
  if (typeof value['architecture'] !== 'string' || value['architecture'] === '') throw new DataError(file, 'architecture must be a non-empty string');
  if (!isPlainObject(value['config'])) throw new DataError(file, 'config must be an object of hyper-parameters');
  const normalization = value['normalization'];
  if (normalization !== undefined) {
    if (!isPlainObject(normalization) || !isNumberArray(normalization['mean']) || !isNumberArray(normalization['std']) || normalization['mean'].length !== normalization['std'].length) {
      throw new DataError(file, 'normalization must be { mean: number[], std: number[] } with one value per channel in each');
    }
    if (normalization['std'].some((s) => s <= 0)) throw new DataError(file, 'normalization.std values must be positive');
  }
  const classNames = value['classNames'];
  if (classNames !== undefined && (!Array.isArray(classNames) || !classNames.every((c) => typeof c === 'string'))) throw new DataError(file, 'classNames must be an array of strings');
  const inputShape = value['inputShape'];
  if (inputShape !== undefined && (!Array.isArray(inputShape) || !inputShape.every((s) => Number.isInteger(s) && s > 0))) throw new DataError(file, 'inputShape must be an array of positive integers');
  const history = value['history'];
  if (history !== undefined && (!Array.isArray(history) || !history.every(isPlainObject))) throw new DataError(file, 'history must be an array of objects (one per epoch)');
  if (value['training'] !== undefined && !isPlainObject(value['training'])) throw new DataError(file, 'training must be an object (how the model was trained)');
  const provenance = value['provenance'];
  if (!isPlainObject(provenance) || typeof provenance['createdAt'] !== 'string') throw new DataError(file, 'provenance must be an object with createdAt');
  return value as unknown as CheckpointMeta;
}

async function readJson(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new DataError(file, `cannot read: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new DataError(file, jsonSyntaxProblem(error, text));
  }
}

const previousOf = (dir: string): string => `${dir}.previous`;

/**
 * The directory holding the complete checkpoint `dir`: `dir` itself, or `<dir>.previous` when a
 * replacement was interrupted between its two renames. Throws when neither holds a checkpoint.
 */
export function resolveCheckpointDir(dir: string): string {
  if (existsSync(join(dir, CHECKPOINT_FILES.meta))) return dir;
  if (!existsSync(dir) && existsSync(join(previousOf(dir), CHECKPOINT_FILES.meta))) return previousOf(dir);
  throw new DataError(dir, `no checkpoint here (${CHECKPOINT_FILES.meta} is missing)`, 'give the directory a checkpoint was saved to (it holds model.json and model.safetensors)');
}

/** True when `dir` (or its interrupted-replacement fallback) holds a checkpoint. */
export function checkpointExists(dir: string): boolean {
  try {
    resolveCheckpointDir(dir);
    return true;
  } catch {
    return false;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes staging directories beside `dir` left by writers that died (their pid is gone). */
async function removeStaleStaging(dir: string): Promise<void> {
  const prefix = `${basename(dir)}.staging-`;
  let names: string[];
  try {
    names = await readdir(dirname(dir));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(name.slice(prefix.length).split('-')[0]);
    if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid)) await rm(join(dirname(dir), name), { recursive: true, force: true });
  }
}

/** True when `path` may be written: owner write bit set and access(2) agrees (a `chmod -w` folder is refused even for root). */
function writablePath(path: string, mode: number): boolean {
  if ((mode & 0o200) === 0) return false;
  try {
    accessSync(path, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Replaces the directory `dir` with the files `write` puts into a fresh staging directory, so
 * that `dir` is always either complete-old or complete-new (see the file comment). Refuses,
 * before anything is written, to replace a directory holding anything but the names `owns`
 * allows (default: checkpoint files), or one that is read-only or holds read-only files: the swap
 * would go through the writable parent and leave `<dir>.previous` behind.
 */
export async function replaceDirectory(dir: string, write: (staging: string) => Promise<void>, owns: readonly (string | RegExp)[] = Object.values(CHECKPOINT_FILES)): Promise<void> {
  const target = resolve(dir);
  const parent = dirname(target);
  await mkdir(parent, { recursive: true });
  if (existsSync(target)) {
    const names = await readdir(target);
    const foreign = names.filter((name) => !owns.some((o) => (typeof o === 'string' ? o === name : o.test(name))));
    if (foreign.length > 0) {
      throw new BastionError(`refusing to replace ${dir}: it holds files that are not part of a checkpoint (${foreign.slice(0, 5).join(', ')})`, {
        hint: 'save checkpoints into their own directory',
      });
    }
    for (const path of [target, ...names.map((name) => join(target, name))]) {
      if (!writablePath(path, statSync(path).mode)) {
        throw new BastionError(`refusing to replace ${dir}: ${path} is read-only`, { hint: `make it writable (chmod -R u+w ${dir}) or save elsewhere` });
      }
    }
  }
  if (!writablePath(parent, statSync(parent).mode)) throw new BastionError(`cannot replace ${dir}: its folder ${parent} is read-only`, { hint: `make it writable (chmod u+w ${parent}) or save elsewhere` });
  await removeStaleStaging(target);
  const staging = `${target}.staging-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(staging);
  try {
    await write(staging);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  const previous = previousOf(target);
  if (existsSync(target)) {
    await rm(previous, { recursive: true, force: true });
    await rename(target, previous);
  }
  await rename(staging, target);
  await fsyncDirectory(parent);
  await rm(previous, { recursive: true, force: true });
}

/**
 * Saves `module`'s state dict and description as the checkpoint directory `dir` (replacing any
 * previous checkpoint there atomically), with training state when given. Returns model.json's contents.
 */
export async function saveCheckpoint(dir: string, module: Module, description: CheckpointDescription, options: SaveCheckpointOptions = {}): Promise<CheckpointMeta> {
  const { seed, command, ...rest } = description;
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    ...rest,
    provenance: collectProvenance({ ...(seed === undefined ? {} : { seed }), ...(command === undefined ? {} : { command }) }),
  };
  validateCheckpointMeta(meta, join(dir, CHECKPOINT_FILES.meta));
  const trainState = options.trainState;
  await replaceDirectory(dir, async (staging) => {
    for (const [name, source] of Object.entries(options.files ?? {})) {
      await mkdir(dirname(join(staging, name)), { recursive: true });
      await copyFile(source, join(staging, name));
    }
    await writeSafetensors(join(staging, CHECKPOINT_FILES.weights), module.stateDict(), { format: 'pt', architecture: meta.architecture });
    await writeFileAtomic(join(staging, CHECKPOINT_FILES.meta), `${JSON.stringify(meta, null, 2)}\n`);
    if (trainState !== undefined) {
      await writeSafetensors(join(staging, CHECKPOINT_FILES.trainTensors), trainState.tensors);
      const trainMeta = { format: TRAIN_STATE_FORMAT, version: CHECKPOINT_VERSION, ...trainState.meta };
      await writeFileAtomic(join(staging, CHECKPOINT_FILES.trainMeta), `${JSON.stringify(trainMeta, null, 2)}\n`);
    }
  }, [...CHECKPOINT_OWNS, ...Object.keys(options.files ?? {})]);
  return meta;
}

/** Reads model.json only (validated). */
export async function readCheckpointMeta(dir: string): Promise<CheckpointMeta> {
  const where = resolveCheckpointDir(dir);
  const file = join(where, CHECKPOINT_FILES.meta);
  return validateCheckpointMeta(await readJson(file), file);
}

/** Reads a checkpoint: its description and its state dict (new tensors, owned by the caller). */
export async function readCheckpoint(dir: string): Promise<{ meta: CheckpointMeta; state: Map<string, Tensor>; dir: string }> {
  const where = resolveCheckpointDir(dir);
  const meta = await readCheckpointMeta(where);
  const { tensors } = await readSafetensors(join(where, CHECKPOINT_FILES.weights));
  return { meta, state: tensors, dir: where };
}

/**
 * Throws a {@link DataError} naming `file` and the first tensor of `state` holding NaN or infinite
 * values: weights like that load silently and give plausible-looking but meaningless numbers.
 * `allowInfinite(name)` exempts a tensor from the infinity check (NaN is never accepted), e.g. the
 * -inf attention masks an imported graph keeps as buffers.
 */
export function checkFiniteWeights(state: ReadonlyMap<string, Tensor>, file: string, allowInfinite: (name: string) => boolean = () => false): void {
  for (const [name, t] of state) {
    if (!t.isFloatingPoint) continue;
    const infOk = allowInfinite(name);
    const fine = scope(() => (infOk ? !t.isnan().any() : t.isfinite().all()));
    if (fine) continue;
    const [nan, inf] = scope(() => [t.isnan().sum().item(), infOk ? 0 : t.isinf().sum().item()]) as [number, number];
    const what = [nan > 0 ? `${nan} NaN` : '', inf > 0 ? `${inf} infinite` : ''].filter(Boolean).join(' and ');
    throw new DataError(file, `tensor '${name}' holds ${what} value${nan + inf === 1 ? '' : 's'} (of ${t.numel}); these weights give meaningless outputs`,
      'the training run that wrote them diverged or the file is damaged: retrain the model (e.g. with a lower learning rate) or restore a good copy');
  }
}

/**
 * Loads a checkpoint's weights into an existing module. Every tensor's name, shape and dtype is
 * checked first (the error names the file and tensor, expected vs found), and every value must be
 * finite ({@link checkFiniteWeights}; with `infiniteBuffers`, buffers may hold infinities); nothing
 * is changed unless everything fits. With `expectArchitecture`, model.json's architecture must match too.
 */
export async function loadCheckpointInto(
  dir: string,
  module: Module,
  options: { strict?: boolean; expectArchitecture?: string; infiniteBuffers?: boolean } = {},
): Promise<CheckpointMeta & LoadStateDictResult> {
  const { meta, state, dir: where } = await readCheckpoint(dir);
  const file = join(where, CHECKPOINT_FILES.weights);
  try {
    if (options.expectArchitecture !== undefined && meta.architecture !== options.expectArchitecture) {
      throw new DataError(join(where, CHECKPOINT_FILES.meta), `holds a '${meta.architecture}' model, expected '${options.expectArchitecture}'`);
    }
    const parameters = options.infiniteBuffers ? new Set(module.namedParameters().map(([name]) => name)) : null;
    checkFiniteWeights(state, file, (name) => parameters !== null && !parameters.has(name));
    const result = module.loadStateDict(state, { strict: options.strict ?? true });
    return { ...meta, ...result };
  } catch (error) {
    if (error instanceof StateDictError) throw new DataError(file, error.message, error.hint);
    throw error;
  } finally {
    for (const t of state.values()) t.dispose();
  }
}

/** Reads only train-state.json of a checkpoint (not validated beyond being JSON), or null when it has none. */
export async function readTrainStateMeta(dir: string): Promise<Record<string, unknown> | null> {
  const metaFile = join(resolveCheckpointDir(dir), CHECKPOINT_FILES.trainMeta);
  if (!existsSync(metaFile)) return null;
  const meta = await readJson(metaFile);
  return isPlainObject(meta) ? meta : null;
}

/** Reads the training state saved with a checkpoint, or null when it has none. Tensors are owned by the caller. */
export async function readTrainState(dir: string): Promise<TrainStateFiles | null> {
  const where = resolveCheckpointDir(dir);
  const metaFile = join(where, CHECKPOINT_FILES.trainMeta);
  if (!existsSync(metaFile)) return null;
  const meta = await readJson(metaFile);
  if (!isPlainObject(meta) || meta['format'] !== TRAIN_STATE_FORMAT) throw new DataError(metaFile, `format must be '${TRAIN_STATE_FORMAT}'`);
  const version = meta['version'];
  if (typeof version !== 'number' || version > CHECKPOINT_VERSION) throw new DataError(metaFile, `unsupported train-state version ${JSON.stringify(version)} (this Bastion reads up to ${CHECKPOINT_VERSION})`);
  const { tensors } = await readSafetensors(join(where, CHECKPOINT_FILES.trainTensors));
  return { meta, tensors };
}
