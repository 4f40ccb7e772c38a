/**
 * Training a zoo classifier on a data set, with recipes that reach the papers' clean accuracy:
 * input normalisation measured on the training split, a stratified validation split for
 * choosing the best epoch, seeded augmentation, Adam with a one-cycle schedule, resumable
 * checkpoints, and the test accuracy of the chosen model.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { manualSeed, noGrad, scope, tensor } from '../tensor/index.js';
import { crossEntropy } from '../nn/functional.js';
import type { Module } from '../nn/index.js';
import { Adam, OneCycleLR, SGD, CosineAnnealingLR, MultiStepLR, type LRScheduler, type Optimizer } from '../optim/index.js';
import { checkResumeConfig, fit, type EpochMetrics, type FitEvent, type LossFunction, type Metric } from '../train/index.js';
import {
  DataLoader, firstN, horizontalFlip, loadDataset, locateDataset, randomCrop, trainValSplit, type BatchTransform, type Dataset, type LoadDatasetOptions,
} from '../data/index.js';
import { BastionError } from '../util/errors.js';
import { checkpointExists, loadCheckpointInto, readCheckpointMeta } from '../io/checkpoint.js';
import { Classifier, type Normalization } from './classifier.js';
import { architecture, createClassifier, loadClassifier, modelConfig, saveModel } from './registry.js';
import type { ImportOptions } from './imported.js';

/** How a classifier is trained. */
export interface ClassifierRecipe {
  epochs: number;
  batchSize: number;
  optimizer: 'adam' | 'sgd';
  /** Peak learning rate. */
  lr: number;
  weightDecay: number;
  schedule: 'onecycle' | 'cosine' | 'constant' | 'multistep';
  /** 'multistep': the epochs after which the learning rate is multiplied by `lrGamma` (e.g. [4]: the fifth epoch runs at a tenth). */
  lrMilestones?: number[];
  /** 'multistep': the factor at each milestone (default 0.1). */
  lrGamma?: number;
  /** Random-crop padding in pixels (0 = none). */
  cropPadding: number;
  /** Random horizontal flips (not for digits). */
  flip: boolean;
  labelSmoothing: number;
  /** Validation samples held out of the training split (0 = none; then the last epoch is kept). */
  valCount: number;
  /** Architecture hyper-parameters (e.g. dropout), merged into the model config. */
  model: Record<string, unknown>;
}

const DIGITS = new Set(['mnist', 'kmnist']);

/**
 * The recipe for `architecture` on data set `data` (a name or a path). Defaults: Adam, one-cycle
 * schedule, batch 128, 5,000 validation images, crop padding 2; flips for non-digit data;
 * Fashion-MNIST gets more epochs and dropout 0.25 (it overfits a 225k-parameter CNN quickly);
 * paper 001's CNN trains 20 epochs as the paper says.
 */
export function defaultRecipe(architectureName: string, data: string): ClassifierRecipe {
  const base = architecture(architectureName).base;
  const name = data.toLowerCase();
  const digits = DIGITS.has(name);
  const recipe: ClassifierRecipe = {
    epochs: digits ? 15 : 30, batchSize: 128, optimizer: 'adam', lr: 2e-3, weightDecay: 0, schedule: 'onecycle',
    cropPadding: 2, flip: !digits, labelSmoothing: 0, valCount: 5000, model: {},
  };
  if ((base === 'simple-cnn' || base === 'lenet') && !digits) recipe.model = { dropout: 0.25 };
  if (base === 'kfold-cnn') recipe.epochs = 20; // paper 001: Adam, batch 128, 20 epochs
  if (base === 'vgg16' || base === 'resnet18' || base === 'resnet9') {
    Object.assign(recipe, { optimizer: 'sgd', lr: 0.05, weightDecay: 5e-4, epochs: digits ? 10 : 30, cropPadding: name.includes('cifar') ? 4 : 2 });
  }
  return recipe;
}

/**
 * The recipe for fine-tuning an existing classifier (an imported ONNX/TorchScript model or a
 * trained Bastion model) on `data`: Adam at 1e-4 (a hundredth of training from scratch, so the
 * learned features move little), a constant schedule, 5 epochs, the data set's augmentation.
 */
export function fineTuneRecipe(data: string): ClassifierRecipe {
  const digits = DIGITS.has(data.toLowerCase());
  return {
    epochs: 5, batchSize: 128, optimizer: 'adam', lr: 1e-4, weightDecay: 0, schedule: 'constant',
    cropPadding: 2, flip: !digits, labelSmoothing: 0, valCount: 5000, model: {},
  };
}

/** Options of {@link trainClassifier}. */
export interface TrainClassifierOptions {
  /** The zoo architecture to build (a label only, when `from` is given). */
  architecture: string;
  /**
   * Fine-tune this classifier instead of building `architecture` afresh: a Bastion model folder,
   * a `bastion import` folder, or an ONNX / TorchScript file imported with `importOptions`.
   * Every parameter trains; an imported ONNX graph's BatchNorm statistics stay frozen.
   */
  from?: { path: string; importOptions?: ImportOptions };
  /** Data set name (mnist, fashion-mnist, cifar10, afhq, ...) or image-folder path. */
  data: string;
  /** Where the trained model goes (a checkpoint directory). */
  out: string;
  /** Recipe fields to change. */
  recipe?: Partial<ClassifierRecipe>;
  seed?: number;
  /** Passed to the data-set loader (data dir, image size and channels for folders, ...). */
  dataOptions?: Omit<LoadDatasetOptions, 'split'>;
  /** Continue an interrupted run from `<out>.work/last`. */
  resume?: boolean;
  /** Keep `<out>.work/` (resumable state) after success. */
  keepWork?: boolean;
  /** Limit the training split to its first N samples (quick runs and demos). */
  limit?: number;
  onEvent?: (event: FitEvent) => void;
  progress?: boolean;
  command?: string;
  /**
   * Training loss (default: cross-entropy of the model on the batch). Defenses pass theirs here,
   * e.g. adversarial training (src/defenses); it should return `{ loss, output }` to keep the
   * accuracy metric.
   */
  loss?: LossFunction;
  /** Extra per-batch metrics of the loss's output (default: accuracy). */
  metrics?: Record<string, Metric>;
  /** Recorded in model.json `training` (e.g. { defense: 'madry', eps: 0.3, aad: {...} }). */
  trainingInfo?: Record<string, unknown>;
  /** Discard an interrupted run's `<out>.work/` and start over (without it, a fresh run refuses to). */
  restart?: boolean;
  /** Replace a model of another architecture already saved in `out` (without it, refused). */
  force?: boolean;
  /** Stops training between batches, saving the batches done to `<out>.work/last` first (see fit). */
  signal?: AbortSignal;
}

/** What {@link trainClassifier} reports. */
export interface TrainClassifierResult {
  out: string;
  architecture: string;
  data: string;
  /** Accuracy on the test split (the val split of image folders without one); null when there is none. */
  testAccuracy: number | null;
  testSplit: string | null;
  bestValAccuracy: number | null;
  bestEpoch: number | null;
  epochs: number;
  parameters: number;
  trainSamples: number;
  wallSeconds: number;
  history: EpochMetrics[];
  recipe: ClassifierRecipe;
}

/** Per-channel mean and standard deviation of a data set's pixels in [0,1]. */
export function pixelStatistics(dataset: Dataset): Normalization {
  const view = dataset.memory();
  if (view === null) throw new BastionError(`${dataset.name}: pixel statistics need an in-memory data set`);
  return noGrad(() => scope(() => {
    let images = view.images;
    if (view.rows !== null) images = images.indexSelect(0, tensor(view.rows));
    const x = images.to('float32').div_(255);
    const mean = x.mean([0, 2, 3]).toNumbers();
    const std = x.std([0, 2, 3], { correction: 0 }).toNumbers();
    return { mean: mean.map(round6), std: std.map((s) => round6(Math.max(s, 1e-3))) };
  }));
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

/** Accuracy of a model (x -> logits) on a data set, in evaluation mode without gradients. */
export async function evaluateAccuracy(model: Module, dataset: Dataset, batchSize = 500): Promise<number> {
  const wasTraining = model.training;
  model.eval();
  let correct = 0;
  const loader = new DataLoader(dataset, { batchSize });
  try {
    for await (const batch of loader.batches(0)) {
      correct += noGrad(() => scope(() => model.forward(batch.x).argmax(1).eq(batch.y).sum().item()));
    }
  } finally {
    model.train(wasTraining);
  }
  return correct / dataset.length;
}

function makeOptimizer(model: Classifier, recipe: ClassifierRecipe): Optimizer {
  return recipe.optimizer === 'adam'
    ? new Adam(model.parameters(), { lr: recipe.lr, weightDecay: recipe.weightDecay })
    : new SGD(model.parameters(), { lr: recipe.lr, momentum: 0.9, nesterov: true, weightDecay: recipe.weightDecay });
}

function makeScheduler(optimizer: Optimizer, recipe: ClassifierRecipe, stepsPerEpoch: number): LRScheduler | undefined {
  if (recipe.schedule === 'onecycle') return new OneCycleLR(optimizer, { maxLr: recipe.lr, totalSteps: recipe.epochs * stepsPerEpoch });
  if (recipe.schedule === 'cosine') return new CosineAnnealingLR(optimizer, { tMax: recipe.epochs });
  if (recipe.schedule === 'multistep') return new MultiStepLR(optimizer, { milestones: checkMilestones(recipe), gamma: recipe.lrGamma ?? 0.1 });
  return undefined;
}

/** A 'multistep' recipe's milestones, checked against its epochs (the error says what fits). */
function checkMilestones(recipe: Pick<ClassifierRecipe, 'epochs' | 'lrMilestones'>): number[] {
  const milestones = recipe.lrMilestones ?? [];
  if (milestones.length === 0 || milestones.some((m) => !Number.isInteger(m) || m < 1 || m >= recipe.epochs)) {
    throw new BastionError(`recipe: schedule 'multistep' needs lrMilestones, epochs between 1 and ${recipe.epochs - 1}, got ${JSON.stringify(recipe.lrMilestones)}`, {
      hint: 'e.g. "lrMilestones": [4] for a 5-epoch run whose last epoch runs at a tenth of the rate', exitCode: 2,
    });
  }
  return milestones;
}

/**
 * The recipe fields for a run of `epochs` epochs instead of the recipe's own: a 'multistep'
 * schedule keeps its decays at the same fractions of the run (paper 004's [4] of 5 becomes [66]
 * of 83), or becomes constant for a single epoch. What `bastion train --epochs` applies.
 */
export function recipeForEpochs(recipe: Partial<ClassifierRecipe>, epochs: number): Partial<ClassifierRecipe> {
  const { lrMilestones: milestones, epochs: before } = recipe;
  if (recipe.schedule !== 'multistep' || milestones === undefined || before === undefined || before === epochs) return { ...recipe, epochs };
  if (epochs === 1) {
    const { lrMilestones: _dropped, ...rest } = recipe;
    return { ...rest, epochs, schedule: 'constant' };
  }
  const scaled = [...new Set(milestones.map((m) => Math.min(epochs - 1, Math.max(1, Math.round((m * epochs) / before)))))];
  return { ...recipe, epochs, lrMilestones: scaled };
}

/** Trains a zoo classifier end to end and saves it to `options.out` (see the module comment). */
export async function trainClassifier(options: TrainClassifierOptions): Promise<TrainClassifierResult> {
  const defaults = options.from ? fineTuneRecipe(options.data) : defaultRecipe(options.architecture, options.data);
  const recipe = { ...defaults, ...options.recipe };
  if (recipe.schedule === 'multistep') checkMilestones(recipe);
  const seed = options.seed ?? 0;
  const dataOptions = options.dataOptions ?? {};
  // Everything that defines the run: a resume must match it (checked before any data is loaded).
  const runConfig: Record<string, unknown> = {
    architecture: options.architecture, from: options.from ?? null, data: options.data, dataOptions,
    limit: options.limit ?? null, recipe, training: options.trainingInfo ?? null,
  };
  await checkOutputs(options, runConfig);
  const base = await loadDataset(options.data, { ...dataOptions, split: 'train' });
  const test = await loadEvaluationSplit(options.data, dataOptions);
  try {
    const fullTrain = options.limit !== undefined && options.limit < base.length ? firstN(base, options.limit) : base;
    // The default hold-out shrinks to a fifth of small data sets; a count the caller chose is kept or refused.
    const chosen = options.recipe?.valCount;
    if (chosen !== undefined && chosen > 0 && fullTrain.length - chosen < recipe.batchSize) {
      throw new BastionError(`valCount ${chosen} leaves ${Math.max(0, fullTrain.length - chosen)} of the ${fullTrain.length} training images, fewer than one batch of ${recipe.batchSize}`, {
        hint: `give --val-count at most ${Math.max(0, fullTrain.length - recipe.batchSize)} (or a smaller --batch-size)`, exitCode: 2,
      });
    }
    const valCount = chosen !== undefined ? chosen : Math.min(recipe.valCount, Math.floor(fullTrain.length / 5));
    const split = valCount > 0 ? trainValSplit(fullTrain, { valCount, seed }) : null;
    return await fitClassifierOn(
      { train: split ? split.train : fullTrain, val: split?.val ?? null, test: test?.dataset ?? null, testSplit: test?.split ?? null },
      { ...options, recipe, seed, runConfig },
    );
  } finally {
    base.dispose();
    test?.dataset.dispose();
  }
}

/**
 * What a run may do with `out` and `<out>.work/`, decided before any data is loaded: a resume must
 * have the interrupted run's config; a fresh run refuses to discard an interrupted one (unless
 * `restart`) and to replace a model of another architecture (unless `force`).
 */
async function checkOutputs(options: TrainClassifierOptions, runConfig: Record<string, unknown>): Promise<void> {
  const work = `${options.out}.work`;
  if (options.resume ?? false) {
    await checkResumeConfig(work, runConfig);
  } else if (existsSync(work)) {
    if (!(options.restart ?? false)) {
      throw new BastionError(`${work} holds an interrupted training run`, { hint: 'continue it with --resume, or discard it and start over with --restart' });
    }
    await rm(work, { recursive: true, force: true });
  }
  if (options.from === undefined && !(options.force ?? false) && checkpointExists(options.out)) {
    const saved = (await readCheckpointMeta(options.out)).architecture;
    const now = architecture(options.architecture).base;
    if (saved !== now) {
      throw new BastionError(`${options.out} already holds a '${saved}' model; this run trains '${now}'`, { hint: 'choose another --out, or replace it with --force' });
    }
  }
}

/** The data sets {@link fitClassifierOn} trains, validates and tests on. */
export interface ClassifierDataSets {
  train: Dataset;
  /** Chooses the best epoch; null: keep the last epoch. */
  val: Dataset | null;
  /** Reported accuracy; null: none. */
  test: Dataset | null;
  /** Which split `test` is (for the record). */
  testSplit: string | null;
}

/**
 * Trains a zoo classifier on given data sets with a complete recipe and saves it to `out`: the
 * core of {@link trainClassifier}, also used per fold by the K-fold ensemble of paper 001.
 */
export async function fitClassifierOn(
  sets: ClassifierDataSets,
  options: Omit<TrainClassifierOptions, 'recipe' | 'seed' | 'limit' | 'dataOptions'> & { recipe: ClassifierRecipe; seed: number; runConfig?: Record<string, unknown> },
): Promise<TrainClassifierResult> {
  const started = performance.now();
  const { recipe, seed } = options;
  if (recipe.batchSize > sets.train.length) {
    // The last incomplete batch is dropped, so not a single step would run.
    throw new BastionError(`batch size ${recipe.batchSize} is larger than the ${sets.train.length} training images`, { hint: `give --batch-size at most ${sets.train.length}`, exitCode: 2 });
  }
  const [channels, height, width] = sets.train.imageShape;
  const classNames = [...sets.train.classNames];
  manualSeed(seed); // the initial weights depend on the seed only, not on what ran before
  const start = options.from ? await startingClassifier(options.from, sets.train) : null;
  const normalization = start?.normalization ?? pixelStatistics(sets.train);
  const config = start?.config ?? modelConfig(options.architecture, { channels, height, width, numClasses: classNames.length }, { ...recipe.model, normalization });
  const model = start?.model ?? createClassifier(options.architecture, config);
  model.train();
  let optimizer: Optimizer | null = null;
  try {
    const transforms: BatchTransform[] = [];
    if (recipe.cropPadding > 0) transforms.push(randomCrop([height, width], { padding: recipe.cropPadding }));
    if (recipe.flip) transforms.push(horizontalFlip(0.5));
    const trainLoader = new DataLoader(sets.train, { batchSize: recipe.batchSize, shuffle: true, seed, dropLast: true, transforms });
    const valLoader = sets.val ? new DataLoader(sets.val, { batchSize: 500 }) : undefined;
    optimizer = makeOptimizer(model, recipe);
    const scheduler = makeScheduler(optimizer, recipe, trainLoader.batchCount);
    const work = `${options.out}.work`;
    const result = await fit({
      model, optimizer, ...(scheduler ? { scheduler } : {}), train: trainLoader,
      ...(valLoader ? { validation: valLoader, saveBest: { metric: 'val_accuracy', mode: 'max' as const } } : {}),
      ...(options.loss ? { loss: options.loss } : recipe.labelSmoothing > 0 ? { loss: labelSmoothedLoss(recipe.labelSmoothing) } : {}),
      ...(options.metrics ? { metrics: options.metrics } : {}),
      epochs: recipe.epochs, checkpointDir: work, resume: options.resume ?? false, seed,
      modelInfo: { architecture: start?.architecture ?? architecture(options.architecture).base, config, normalization: { mean: [...normalization.mean], std: [...normalization.std] }, classNames, inputShape: [channels, height, width] },
      label: `${options.architecture} on ${options.data}`,
      ...(options.runConfig ? { runConfig: options.runConfig } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
      progress: options.progress ?? true,
    });
    if (valLoader && existsSync(`${work}/best`)) await loadCheckpointInto(`${work}/best`, model);
    const testAccuracy = sets.test ? await evaluateAccuracy(model, sets.test) : null;
    const wallSeconds = (performance.now() - started) / 1000;
    await saveModel(options.out, model, {
      classNames,
      history: result.history,
      training: {
        data: options.data, recipe, seed, trainSamples: sets.train.length, valSamples: sets.val?.length ?? 0,
        testAccuracy, testSplit: sets.testSplit, bestEpoch: result.best?.epoch ?? null,
        bestValAccuracy: result.best?.value ?? null, wallSeconds,
        ...(options.from ? { fineTunedFrom: options.from.path } : {}),
        ...options.trainingInfo,
      },
      seed,
      ...(options.command ? { command: options.command } : {}),
    });
    if (!(options.keepWork ?? false)) await rm(work, { recursive: true, force: true });
    return {
      out: options.out, architecture: options.architecture, data: options.data, testAccuracy, testSplit: sets.testSplit,
      bestValAccuracy: result.best?.value ?? null, bestEpoch: result.best?.epoch ?? null, epochs: result.history.length,
      parameters: model.numParameters(), trainSamples: sets.train.length, wallSeconds, history: result.history, recipe,
    };
  } finally {
    optimizer?.dispose();
    model.dispose();
  }
}

/**
 * The classifier a fine-tuning run starts from, checked against the data: same image shape and
 * number of classes. Its normalisation is its own (imported models: their preprocessing).
 */
async function startingClassifier(from: NonNullable<TrainClassifierOptions['from']>, train: Dataset): Promise<{ model: Classifier; config: Record<string, unknown>; architecture: string; normalization: Normalization }> {
  const { model, meta } = await loadClassifier(from.path, from.importOptions ?? {});
  const [c, h, w] = train.imageShape;
  const problem = c !== model.channels || h !== model.height || w !== model.width
    ? `takes ${model.channels}x${model.height}x${model.width} images, the data has ${c}x${h}x${w}`
    : model.numClasses !== train.classNames.length ? `scores ${model.numClasses} classes, the data has ${train.classNames.length}` : null;
  if (problem !== null) {
    model.dispose();
    throw new BastionError(`${from.path} ${problem}`, { hint: 'fine-tune on data of the model\'s own input size and classes (see --input-size / --layout for imported files)' });
  }
  const normalization = model.normalization ?? { mean: new Array<number>(c).fill(0), std: new Array<number>(c).fill(1) };
  return { model, config: meta.config, architecture: meta.architecture, normalization: { mean: [...normalization.mean], std: [...normalization.std] } };
}

/** Cross-entropy with label smoothing, returning the output for the accuracy metric. */
function labelSmoothedLoss(smoothing: number): LossFunction {
  return (model, batch) => {
    const output = model.forward(batch.x);
    return { loss: crossEntropy(output, batch.y, { labelSmoothing: smoothing }), output };
  };
}

/**
 * The split used to report accuracy: `test`, or for image folders without one their `val`
 * split; null when the data set has neither (then only validation accuracy is reported).
 */
async function loadEvaluationSplit(data: string, dataOptions: Omit<LoadDatasetOptions, 'split'>): Promise<{ dataset: Dataset; split: string } | null> {
  const kind = locateDataset(data, dataOptions).kind;
  if (kind === 'idx' || kind === 'cifar10') return { dataset: await loadDataset(data, { ...dataOptions, split: 'test' }), split: 'test' };
  for (const split of ['test', 'val']) {
    try {
      return { dataset: await loadDataset(data, { ...dataOptions, split }), split };
    } catch (error) {
      if (!(error instanceof BastionError)) throw error;
    }
  }
  return null;
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
