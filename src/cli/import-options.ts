/**
 * The options every command that takes a classifier shares for imported models (an ONNX or
 * TorchScript file given as --model / --classifier): the model's input convention (layout, pixel
 * scale, mean/std, size, channels), its class names and which output holds its scores. They also
 * override the options stored in a `bastion import --out DIR` folder. Also: loading a classifier
 * with them (warnings printed, flags refused for zoo checkpoints) and the data-shape check with
 * a hint that names the flags.
 */
import { warn } from './warn.js';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { catalogEntry } from '../data/catalog.js';
import { UsageError } from '../util/errors.js';
import type { OptionSpec, OptionValues } from './command.js';
import { choiceOption, parseNumber, stringOption } from './args.js';
import type { ImportOptions, ResolvedImport } from '../models/imported.js';
import type { Classifier } from '../models/classifier.js';
import type { CheckpointMeta } from '../io/checkpoint.js';

/** How the help describes the scope of the import flags (appended to each option's text). */
const SCOPE = '(imported ONNX/TorchScript models; overrides what a `bastion import` folder stored)';

/** The import flags, spread into a command's `options`. */
export const IMPORT_OPTIONS: Record<string, OptionSpec> = {
  layout: { type: 'string', valueName: 'nchw|nhwc', description: `input layout of the model (default: read from its input shape, else nchw) ${SCOPE}` },
  'pixel-scale': { type: 'string', valueName: '1|255', description: `pixel range the model expects: 1 for [0,1] (default), 255 for [0,255] ${SCOPE}` },
  mean: { type: 'string', valueName: 'LIST', description: `per-channel mean the model's preprocessing subtracts, in pixel-scale units (e.g. 0.485,0.456,0.406; one value for all channels) ${SCOPE}` },
  std: { type: 'string', valueName: 'LIST', description: `per-channel std the model's preprocessing divides by, in pixel-scale units (e.g. 0.229,0.224,0.225) ${SCOPE}` },
  'input-size': { type: 'string', valueName: 'HxW', description: `input height and width (N for N x N), needed when the file leaves them dynamic ${SCOPE}` },
  channels: { type: 'string', valueName: 'N', description: `input channels (when the file leaves them dynamic) ${SCOPE}` },
  'class-names': { type: 'string', valueName: 'FILE|LIST', description: `class names: a file with one name per line, or a comma-separated list ${SCOPE}` },
  output: { type: 'string', valueName: 'NAME|INDEX', description: `the graph output holding the scores (default: the first) ${SCOPE}` },
  'output-kind': { type: 'string', valueName: 'KIND', description: `what the scores are: auto (default: a final Softmax means probabilities), logits, probabilities or log-probabilities ${SCOPE}` },
};

/** A sentence for command descriptions: what --model/--classifier accepts and where the import flags apply. */
export function importHelp(option: string): string {
  return `--${option} is a Bastion model folder, a folder written by \`bastion import\`, or an ONNX (.onnx) or TorchScript ` +
    `(.pt/.pth) file imported on the fly; --layout, --pixel-scale, --mean, --std, --input-size, --channels, --class-names, ` +
    '--output and --output-kind describe such a file (see `bastion import --help`).';
}

/** The description of a classifier option (--model / --classifier) that accepts imported models. */
export const CLASSIFIER_OPTION_HELP = 'classifier: a Bastion model folder, an .onnx file or a TorchScript .pt file';

const OUTPUT_KINDS = ['auto', 'logits', 'probabilities', 'log-probabilities'] as const;

function numberList(values: OptionValues, name: string, what: string): number[] | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return undefined;
  const parts = raw.split(',').map((p) => p.trim());
  if (parts.some((p) => p === '')) throw new UsageError(`--${name} expects ${what} as comma-separated numbers, got '${raw}'`, 'e.g. 0.485,0.456,0.406 (one value applies to every channel)');
  return parts.map((p) => parseNumber(p, `--${name}`));
}

function positiveInteger(raw: string, option: string, expected: string): number {
  const value = Number(raw);
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isInteger(value) || value < 1) throw new UsageError(`--${option} expects ${expected}, got '${raw}'`);
  return value;
}

/** Parses `--input-size HxW` (or `N` for a square input). */
export function parseInputSize(raw: string): { height: number; width: number } {
  const parts = raw.toLowerCase().split('x');
  if (parts.length > 2) throw new UsageError(`--input-size expects HxW or N (e.g. 224x224 or 224), got '${raw}'`);
  const expected = 'HxW or N with positive integers (e.g. 224x224 or 224)';
  const part = (text: string): number => {
    if (!/^\s*\d+\s*$/.test(text) || !(Number(text) >= 1)) throw new UsageError(`--input-size expects ${expected}, got '${raw}'`);
    return Number(text);
  };
  const height = part(parts[0] as string);
  const width = parts.length === 2 ? part(parts[1] as string) : height;
  return { height, width };
}

/** Reads --class-names: an existing file (one name per line, blank lines skipped) or a comma-separated list. */
export function parseClassNames(raw: string): string[] {
  let names: string[];
  if (existsSync(raw) && statSync(raw).isFile()) {
    names = readFileSync(raw, 'utf8').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
    if (names.length < 2) throw new UsageError(`--class-names: ${raw} holds ${names.length} name(s); give one class name per line, at least 2`);
  } else {
    names = raw.split(',').map((n) => n.trim());
    if (names.length < 2) {
      throw new UsageError(`--class-names: '${raw}' is neither a file nor a comma-separated list of names`, 'give a file with one name per line, or e.g. --class-names cat,dog');
    }
    if (names.some((n) => n === '')) throw new UsageError(`--class-names: '${raw}' has an empty name`, 'e.g. --class-names cat,dog,horse');
  }
  return names;
}

/** The {@link ImportOptions} the import flags ask for (only those given); UsageErrors say what each expects. */
export function importOptionsFrom(values: OptionValues): ImportOptions {
  const out: ImportOptions = {};
  if (values['layout'] !== undefined) out.layout = choiceOption(values, 'layout', ['nchw', 'nhwc'] as const, 'nchw');
  const scale = stringOption(values, 'pixel-scale');
  if (scale !== undefined) {
    if (scale.trim() !== '1' && scale.trim() !== '255') throw new UsageError(`--pixel-scale must be 1 (pixels in [0,1]) or 255 (pixels in [0,255]), got '${scale}'`);
    out.pixelScale = Number(scale);
  }
  const mean = numberList(values, 'mean', 'the per-channel mean');
  if (mean !== undefined) out.mean = mean;
  const std = numberList(values, 'std', 'the per-channel standard deviation');
  if (std !== undefined) {
    if (std.some((s) => !(s > 0))) throw new UsageError(`--std values must be positive, got '${stringOption(values, 'std')}'`);
    out.std = std;
  }
  const size = stringOption(values, 'input-size');
  if (size !== undefined) Object.assign(out, parseInputSize(size));
  const channels = stringOption(values, 'channels');
  if (channels !== undefined) out.channels = positiveInteger(channels, 'channels', 'a positive integer (1 for grayscale, 3 for RGB)');
  if (out.channels !== undefined) {
    for (const [name, list] of [['mean', out.mean], ['std', out.std]] as const) {
      if (list !== undefined && list.length !== 1 && list.length !== out.channels) {
        throw new UsageError(`--${name} has ${list.length} values but --channels is ${out.channels}`, `give ${out.channels} comma-separated values, or one for every channel`);
      }
    }
  }
  const names = stringOption(values, 'class-names');
  if (names !== undefined) out.classNames = parseClassNames(names);
  const output = stringOption(values, 'output');
  if (output !== undefined) {
    if (output.trim() === '') throw new UsageError('--output expects an output name or index, got an empty value');
    out.output = /^\d+$/.test(output.trim()) ? Number(output.trim()) : output;
  }
  if (values['output-kind'] !== undefined) out.outputKind = choiceOption(values, 'output-kind', OUTPUT_KINDS, 'auto');
  return out;
}

/** The import flags given on the command line (as --names), for messages. */
export function givenImportFlags(values: OptionValues): string[] {
  return Object.keys(IMPORT_OPTIONS).filter((k) => values[k] !== undefined).map((k) => `--${k}`);
}

/** The resolved import options of an imported classifier, or null for a zoo model (duck-typed on `imported`). */
export function importedOf(model: Classifier): ResolvedImport | null {
  const imported = (model as unknown as { imported?: ResolvedImport }).imported;
  return imported && Array.isArray(imported.warnings) ? imported : null;
}

/** The class names of a loaded classifier: an imported model's (which --class-names overrides), else the checkpoint's. */
export function classNamesOf(model: Classifier, meta: CheckpointMeta): string[] | null {
  return importedOf(model)?.classNames ?? meta.classNames ?? null;
}

/**
 * The Grad-CAM tap point a command uses: `requested` (--layer) if the model has it, else its
 * camLayer; the error lists the tap points (the last 12 of a long list).
 */
export function chooseLayer(model: Classifier, modelPath: string, requested: string | undefined): string {
  const imported = importedOf(model);
  if (model.tapPoints.length === 0) {
    throw new UsageError(`${modelPath} exposes no 4-D activation for Grad-CAM${imported?.format === 'torchscript' ? ' (TorchScript models show Bastion no inner activations)' : ''}`,
      imported?.format === 'torchscript' ? 'export the model to ONNX (torch.onnx.export) and use that file' : 'Grad-CAM needs a convolutional feature map');
  }
  const layer = requested ?? model.camLayer;
  if (!model.tapPoints.includes(layer)) {
    const list = model.tapPoints.length > 12 ? `${model.tapPoints.slice(-12).join(', ')} (the last 12 of ${model.tapPoints.length}${imported ? '; `bastion import` lists all' : ''})` : model.tapPoints.join(', ');
    throw new UsageError(`--layer: ${modelPath} has no tap point '${layer}'`, `choose one of ${list}`);
  }
  return layer;
}

/** Prints each warning of an imported model as `warning: ...` on the CLI's error stream. */
export function printImportWarnings(model: Classifier): void {
  for (const w of importedOf(model)?.warnings ?? []) warn(w);
}

/**
 * Refuses what cannot be a classifier before anything loads: a file that is no ONNX/TorchScript
 * model, or import flags for a trained zoo checkpoint (where they would silently do nothing).
 * `option` is the flag naming the model (model, classifier), for messages.
 */
export async function checkClassifierArgument(values: OptionValues, option: string, path: string): Promise<void> {
  const { isImportableFile, IMPORTED_ARCHITECTURE } = await import('../models/registry.js');
  if (existsSync(path) && statSync(path).isFile() && !isImportableFile(path)) {
    throw new UsageError(`--${option}: ${path} is neither an ONNX (.onnx) nor a TorchScript (.pt/.pth) file`,
      'give a Bastion model folder, a `bastion import` folder, an .onnx file or a TorchScript .pt file');
  }
  const flags = givenImportFlags(values);
  if (flags.length === 0 || isImportableFile(path)) return;
  const { readCheckpointMeta } = await import('../io/checkpoint.js');
  const meta = await readCheckpointMeta(path);
  if (meta.architecture !== IMPORTED_ARCHITECTURE) {
    throw new UsageError(`${flags.join(', ')} ${flags.length === 1 ? 'describes' : 'describe'} imported models, but ${path} is a Bastion ${meta.architecture} checkpoint`,
      'drop them; they apply to an ONNX/TorchScript file or a `bastion import` folder');
  }
}

/**
 * Loads the classifier a command names (`option` is the flag, for messages) with the import flags
 * of `values`: a Bastion model folder, a `bastion import` folder or an ONNX/TorchScript file, after
 * {@link checkClassifierArgument}. Prints the warnings of an imported model on stderr.
 */
export async function loadCommandClassifier(values: OptionValues, option: string, path: string): Promise<{ model: Classifier; meta: CheckpointMeta; dir: string }> {
  const importOptions = importOptionsFrom(values);
  await checkClassifierArgument(values, option, path);
  const { loadClassifier } = await import('../models/registry.js');
  const loaded = await loadClassifier(path, importOptions);
  printImportWarnings(loaded.model);
  return loaded;
}

/**
 * Checks that a data set's images ([C, H, W]) fit the classifier; the error names the model and,
 * for an imported model, the flags that change what it is taken to expect.
 */
export function checkDataShape(model: Classifier, modelPath: string, dataName: string, imageShape: readonly number[]): void {
  const [c, h, w] = imageShape;
  if (c === model.channels && h === model.height && w === model.width) return;
  const imported = importedOf(model);
  const expected = `${model.channels}x${model.height}x${model.width}`;
  const message = `${dataName} has ${c}x${h}x${w} images but the model at ${modelPath} expects ${expected}` +
    (imported ? ` (imported ${imported.format}, ${imported.layout.toUpperCase()} input)` : '');
  if (!imported) throw new UsageError(message, 'evaluate it on data of the size it was trained on');
  const hints: string[] = [];
  if (h !== model.height || w !== model.width) hints.push(`--input-size ${h}x${w} if the model takes other sizes`);
  if (c !== model.channels) hints.push(`--channels ${c} if its channel count is dynamic`);
  hints.push(`--layout ${imported.layout === 'nchw' ? 'nhwc' : 'nchw'} if the layout was guessed wrong`);
  throw new UsageError(message, `try ${hints.join(', or ')}; \`bastion import MODEL\` shows what was decided`);
}

/**
 * The data set a model was made for, from model.json: `training.data` (what `bastion train` used)
 * or, for an imported model, `training.evaluatedOn` (what `bastion import --data` measured it on);
 * null when unrecorded.
 */
export function modelDataOf(meta: CheckpointMeta): { data: string; how: 'trained' | 'evaluated' } | null {
  const training = meta.training ?? {};
  if (typeof training['data'] === 'string') return { data: training['data'], how: 'trained' };
  if (typeof training['evaluatedOn'] === 'string') return { data: training['evaluatedOn'], how: 'evaluated' };
  return null;
}

/** Whether two data set names (catalog names, aliases or folders) name the same data set. */
function sameData(a: string, b: string): boolean {
  const canonical = (name: string): string => catalogEntry(name)?.name ?? resolve(name);
  return canonical(a) === canonical(b);
}

/**
 * The warning for evaluating a model on another data set than the one model.json records (a
 * Fashion-MNIST model on `--data mnist` runs, and its numbers mean little), or null when they agree
 * or nothing is recorded.
 */
export function dataMismatchWarning(meta: CheckpointMeta, modelPath: string, dataName: string): string | null {
  const recorded = modelDataOf(meta);
  if (recorded === null || sameData(recorded.data, dataName)) return null;
  const what = recorded.how === 'trained' ? `was trained on '${recorded.data}'` : `was measured on '${recorded.data}' when imported`;
  return `the model at ${modelPath} ${what} (model.json), but --data is '${dataName}': its accuracy and robustness there say little about it ` +
    `(evaluate it on '${recorded.data}', or pass the data set it was made for)`;
}

/** Prints {@link dataMismatchWarning} as `warning: ...` on the CLI's error stream when there is one. */
export function warnDataMismatch(meta: CheckpointMeta, modelPath: string, dataName: string): void {
  const warning = dataMismatchWarning(meta, modelPath, dataName);
  if (warning !== null) warn(warning);
}
