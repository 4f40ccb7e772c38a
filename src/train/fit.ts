/**
 * The training loop: epochs of optimizer steps over a {@link BatchSource}, validation, metrics
 * history, per-epoch checkpoints that survive a crash, best-model saving, early stopping, and
 * bit-for-bit resumption.
 *
 * Memory: every batch step runs inside `scope()`, so nothing waits for the garbage collector
 * (DESIGN.md); the number of live tensors stays flat across epochs.
 *
 * Checkpoints (with `checkpointDir`): after every epoch, and within an epoch whenever
 * `checkpointEverySeconds` (default 600) have passed since the last save, `<checkpointDir>/last` is
 * replaced atomically by the model, its description and the training state (optimizer, schedule,
 * libtorch RNG, counters, history, and for a mid-epoch save the batches done and the epoch's
 * running metric sums); with `saveBest`, `<checkpointDir>/best` holds the best model so far.
 * A crash loses at most `checkpointEverySeconds` of work. `resume: true` continues after the last
 * saved batch (asking the BatchSource to start the epoch there) and reproduces the uninterrupted
 * run exactly, given the same seed and a BatchSource whose `batches(epoch)` is deterministic.
 */
import { join } from 'node:path';
import { checkpointExists, readTrainState, readTrainStateMeta, saveCheckpoint, loadCheckpointInto, type CheckpointDescription } from '../io/checkpoint.js';
import { crossEntropy } from '../nn/functional.js';
import type { Module } from '../nn/index.js';
import { clipGradNorm, type LRScheduler, type Optimizer, type OptimizerStateMeta, type SchedulerState } from '../optim/index.js';
import { getRngState, manualSeed, noGrad, scope, setRngState, Tensor, type Batch, type BatchSource } from '../tensor/index.js';
import { BastionError } from '../util/errors.js';
import { Progress } from '../util/progress.js';

/** A per-batch metric: the batch mean of something computed from the model output, e.g. accuracy. */
export type Metric = (output: Tensor, batch: Batch) => number;

/** Top-1 accuracy of logits [N, classes] against class indices. */
export const accuracy: Metric = (output, batch) => scope(() => output.argmax(1).eq(batch.y).float().mean().item());

/** What a loss function returns: the scalar loss, optionally with the model output for metrics. */
export type LossResult = Tensor | { loss: Tensor; output?: Tensor };

/** Computes the training loss of one batch (the model is in training mode; gradients are recorded). */
export type LossFunction = (model: Module, batch: Batch) => LossResult;

/** The default loss: cross-entropy of `model.forward(batch.x)` against `batch.y`. */
export const crossEntropyLoss: LossFunction = (model, batch) => {
  const output = model.forward(batch.x);
  return { loss: crossEntropy(output, batch.y), output };
};

/** One epoch's metrics: `epoch` (0-based), `loss` and training metrics, `val_*` validation metrics, `lr`, `seconds`. */
export type EpochMetrics = { epoch: number } & Record<string, number>;

/** Which direction of a metric is better. */
export type MetricMode = 'min' | 'max';

/** The best value of a monitored metric and the epoch it was reached in. */
export interface BestRecord {
  metric: string;
  mode: MetricMode;
  value: number;
  epoch: number;
}

/** Events for front ends (the web dashboard, logs); the terminal gets a Progress bar as well. */
export type FitEvent =
  | { type: 'start'; epochs: number; startEpoch: number; resumed: boolean }
  /** `startBatch` > 0 when a resumed run continues an epoch from a mid-epoch checkpoint; `batches` per epoch. */
  | { type: 'epoch-start'; epoch: number; epochs: number; lr: number; startBatch: number; batches: number }
  | { type: 'batch'; epoch: number; batch: number; batches: number; loss: number; lr: number }
  | { type: 'skipped-batch'; epoch: number; batch: number; loss: number; skipped: number }
  | { type: 'metrics'; epoch: number; metrics: EpochMetrics }
  /** `batchesDone` is set for a mid-epoch save of `last` (batches of `epoch` finished). */
  | { type: 'checkpoint'; epoch: number; kind: 'last' | 'best'; dir: string; batchesDone?: number }
  | { type: 'early-stop'; epoch: number; metric: string; best: number; bestEpoch: number; patience: number }
  | { type: 'epoch-end'; epoch: number; metrics: EpochMetrics }
  | { type: 'end'; result: FitResult };

/** Options of {@link fit}. */
export interface FitOptions {
  /** The module to train; fit puts it in training mode for each epoch and in evaluation mode for validation. */
  model: Module;
  optimizer: Optimizer;
  scheduler?: LRScheduler;
  /** When to step the schedule (default: the schedule's own `interval`, 'batch' for OneCycleLR, else 'epoch'). */
  schedulerStep?: 'batch' | 'epoch';
  train: BatchSource;
  /**
   * Validation after each epoch, in evaluation mode: a BatchSource (loss and metrics computed
   * without gradients), or a function returning metrics (it may need gradients, e.g. for
   * adversarial validation). Keys are stored with a `val_` prefix.
   */
  validation?: BatchSource | ((epoch: number) => Promise<Record<string, number>>);
  /** Default: {@link crossEntropyLoss}. */
  loss?: LossFunction;
  /** Metrics of the model output per batch (default { accuracy }). Computed when the loss returns the output. */
  metrics?: Record<string, Metric>;
  epochs: number;
  /** Scales gradients to this total L2 norm before each step (see clipGradNorm). */
  clipGradNorm?: number;
  /**
   * Batches whose loss is not finite that the run may skip (no update; the schedule still
   * advances) before it stops as diverged; default 0. Skips are counted in the epoch metrics
   * (`skipped_batches`) and announced by 'skipped-batch' events. A guard for rare non-finite
   * batches in long runs, never a substitute for a stable learning rate.
   */
  maxNonFiniteBatches?: number;
  /** Where `last/` and `best/` checkpoints go; without it nothing is saved and resume is impossible. */
  checkpointDir?: string;
  /**
   * Also save `last/` within an epoch once this many seconds have passed since the previous save
   * (default 600; 0 saves after every batch; Infinity only at epoch ends). Bounds the work a crash
   * or a killed session loses when epochs are long (adversarial training, big data sets).
   */
  checkpointEverySeconds?: number;
  /** Written to model.json (default architecture: the model's class name, config {}). */
  modelInfo?: Omit<CheckpointDescription, 'history' | 'seed'>;
  /** Continue from `<checkpointDir>/last` when it exists (otherwise start fresh). */
  resume?: boolean;
  /** Stop after `patience` epochs without improvement of `metric` by more than `minDelta`. */
  earlyStopping?: { metric: string; mode: MetricMode; patience: number; minDelta?: number };
  /** Keep the best model (by `metric`) in `<checkpointDir>/best`. */
  saveBest?: { metric: string; mode: MetricMode };
  /** Seeds libtorch's generator at the start of a fresh run (dropout, random ops); recorded for resume. */
  seed: number;
  onEvent?: (event: FitEvent) => void;
  /** Prefix of progress lines, e.g. the model name. */
  label?: string;
  /** Show a progress bar / lines on stderr (default true). */
  progress?: boolean;
  /**
   * Stops training between batches: with `checkpointDir`, the batches done so far are saved to
   * `last` first (a mid-epoch checkpoint that `resume` continues), then the abort reason is thrown.
   */
  signal?: AbortSignal;
  /**
   * Everything that defines the run (data, model, recipe, limits, ...), saved in the training state;
   * `resume` refuses a run whose config differs and names the fields (see {@link configDifferences}).
   */
  runConfig?: Record<string, unknown>;
}

/** What {@link fit} returns. */
export interface FitResult {
  /** Metrics of every completed epoch (including those of a resumed-from run). */
  history: EpochMetrics[];
  /** The best monitored value (saveBest's metric, else earlyStopping's), or null when nothing is monitored. */
  best: BestRecord | null;
  /** Epochs trained by this call. */
  epochsRun: number;
  stoppedEarly: boolean;
  wallSeconds: number;
}

/** The JSON training state saved in train-state.json (format and version are added by src/io). */
interface FitTrainState {
  epochsCompleted: number;
  step: number;
  seed: number;
  loaderSeed?: number;
  best: BestRecord | null;
  earlyStopping: { metric: string; best: number | null; bestEpoch: number; badEpochs: number } | null;
  stoppedEarly: boolean;
  optimizer: OptimizerStateMeta;
  scheduler: SchedulerState | null;
  history: EpochMetrics[];
  /** Progress inside epoch `epochsCompleted` at a mid-epoch save; absent at epoch boundaries. */
  partial?: PartialEpoch;
  /** {@link FitOptions.runConfig} of the run (absent in states written before it existed). */
  runConfig?: Record<string, unknown>;
}

/** The state of an unfinished epoch, enough to finish it exactly as the uninterrupted run would. */
interface PartialEpoch {
  batchesDone: number;
  /** Samples in those batches (for the progress line). */
  samplesDone: number;
  /** The learning rate the epoch started with (recorded in its metrics). */
  lr: number;
  /** Seconds of training spent on the epoch before the save. */
  seconds: number;
  /** Non-finite batches skipped in the epoch so far. */
  skippedBatches: number;
  running: RunningMeansState;
}

/** The loop's own part of {@link FitTrainState} (optimizer and schedule state come from their objects). */
type LoopState = Omit<FitTrainState, 'optimizer' | 'scheduler'>;

/** Default of {@link FitOptions.checkpointEverySeconds}. */
const DEFAULT_CHECKPOINT_EVERY_SECONDS = 600;
const RNG_KEY = 'rng.torch';
const OPTIMIZER_PREFIX = 'optimizer.';
/** Longest stretch (ms) of batches run without yielding to the event loop. */
const YIELD_EVERY_MS = 50;

function improved(value: number, best: number | null, mode: MetricMode, minDelta = 0): boolean {
  if (!Number.isFinite(value)) return false;
  if (best === null) return true;
  return mode === 'min' ? value < best - minDelta : value > best + minDelta;
}

function checkOptions(options: FitOptions): void {
  if (!Number.isInteger(options.epochs) || options.epochs < 1) throw new RangeError(`fit: epochs must be a positive integer, got ${options.epochs}`);
  if (!Number.isInteger(options.seed) || options.seed < 0) throw new RangeError(`fit: seed must be a non-negative integer, got ${options.seed}`);
  if (options.resume && options.checkpointDir === undefined) throw new TypeError('fit: resume needs checkpointDir (where the last checkpoint is)');
  if (options.saveBest && options.checkpointDir === undefined) throw new TypeError('fit: saveBest needs checkpointDir');
  const every = options.checkpointEverySeconds;
  if (every !== undefined && !(every >= 0)) throw new RangeError(`fit: checkpointEverySeconds must be >= 0 (Infinity: only at epoch ends), got ${every}`);
  const es = options.earlyStopping;
  if (es !== undefined && (!Number.isInteger(es.patience) || es.patience < 1)) throw new RangeError(`fit: earlyStopping.patience must be a positive integer, got ${es.patience}`);
  for (const [what, m] of [['earlyStopping', es], ['saveBest', options.saveBest]] as const) {
    if (m !== undefined && m.mode !== 'min' && m.mode !== 'max') throw new TypeError(`fit: ${what}.mode must be 'min' or 'max', got '${String(m.mode)}'`);
  }
}

function checkMetricKnown(entry: EpochMetrics, metric: string, what: string): void {
  if (entry[metric] === undefined) {
    throw new BastionError(`fit: ${what} metric '${metric}' is not among the epoch metrics (${Object.keys(entry).join(', ')})`, {
      hint: 'validation metrics carry a val_ prefix, e.g. val_loss or val_accuracy',
    });
  }
}

function normaliseLoss(result: LossResult): { loss: Tensor; output: Tensor | undefined } {
  return result instanceof Tensor ? { loss: result, output: undefined } : { loss: result.loss, output: result.output };
}

/** What {@link RunningMeans} saves in a mid-epoch checkpoint. */
interface RunningMeansState {
  sums: Record<string, number>;
  count: number;
}

/** Sums of per-batch values weighted by batch size. */
class RunningMeans {
  readonly #sums = new Map<string, number>();
  #count = 0;

  constructor(saved?: RunningMeansState) {
    if (saved === undefined) return;
    for (const [k, v] of Object.entries(saved.sums)) this.#sums.set(k, v);
    this.#count = saved.count;
  }

  state(): RunningMeansState {
    return { sums: Object.fromEntries(this.#sums), count: this.#count };
  }

  add(values: Record<string, number>, n: number): void {
    for (const [k, v] of Object.entries(values)) this.#sums.set(k, (this.#sums.get(k) ?? 0) + v * n);
    this.#count += n;
  }

  mean(key: string): number {
    return (this.#sums.get(key) ?? NaN) / this.#count;
  }

  means(prefix = ''): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of this.#sums) out[prefix + k] = v / this.#count;
    return out;
  }
}

function batchSize(batch: Batch): number {
  return batch.y.ndim > 0 ? batch.y.size(0) : batch.x.size(0);
}

/**
 * Trains `model` for `epochs` epochs (see the file comment for checkpoints and resumption) and
 * returns the metrics history. Events go to `onEvent`; progress goes to stderr unless disabled.
 */
export async function fit(options: FitOptions): Promise<FitResult> {
  checkOptions(options);
  const started = performance.now();
  const { model, optimizer, scheduler, train, epochs, seed } = options;
  const lossFn = options.loss ?? crossEntropyLoss;
  const metricFns = options.metrics ?? { accuracy };
  const schedulerStep = options.schedulerStep ?? scheduler?.interval ?? 'epoch';
  const emit = (event: FitEvent): void => options.onEvent?.(event);
  const lastDir = options.checkpointDir === undefined ? undefined : join(options.checkpointDir, 'last');
  const bestDir = options.checkpointDir === undefined ? undefined : join(options.checkpointDir, 'best');
  const label = options.label === undefined ? '' : `${options.label} `;
  const monitor = options.saveBest ?? options.earlyStopping;

  let state: LoopState = {
    epochsCompleted: 0,
    step: 0,
    seed,
    ...(typeof (train as { seed?: unknown }).seed === 'number' ? { loaderSeed: (train as unknown as { seed: number }).seed } : {}),
    best: null,
    earlyStopping: options.earlyStopping ? { metric: options.earlyStopping.metric, best: null, bestEpoch: -1, badEpochs: 0 } : null,
    stoppedEarly: false,
    history: [],
  };
  let resumed = false;
  if (options.resume && lastDir !== undefined && checkpointExists(lastDir)) {
    state = await restore(lastDir, options);
    resumed = true;
  } else {
    manualSeed(seed);
  }

  const result = (epochsRun: number): FitResult => ({
    history: state.history, best: state.best, epochsRun, stoppedEarly: state.stoppedEarly, wallSeconds: (performance.now() - started) / 1000,
  });
  emit({ type: 'start', epochs, startEpoch: state.epochsCompleted, resumed });
  if (state.stoppedEarly || state.epochsCompleted >= epochs) {
    const done = result(0);
    emit({ type: 'end', result: done });
    return done;
  }

  let epochsRun = 0;
  let skippedBatches = 0;
  let lastYield = performance.now();
  const saveEveryMs = (options.checkpointEverySeconds ?? DEFAULT_CHECKPOINT_EVERY_SECONDS) * 1000;
  let lastSave = performance.now();
  /** Replaces `last/` by the current state (mid-epoch when `partial` is given) and announces it. */
  const checkpointLast = async (dir: string, epoch: number, partial?: PartialEpoch): Promise<void> => {
    await saveLast(dir, options, partial === undefined ? state : { ...state, partial });
    lastSave = performance.now();
    emit({ type: 'checkpoint', epoch, kind: 'last', dir, ...(partial === undefined ? {} : { batchesDone: partial.batchesDone }) });
  };
  for (let epoch = state.epochsCompleted; epoch < epochs; epoch++) {
    const partial = state.partial;
    state.partial = undefined;
    const startBatch = partial?.batchesDone ?? 0;
    const epochStart = performance.now() - (partial?.seconds ?? 0) * 1000;
    const lr = partial?.lr ?? optimizer.lr;
    emit({ type: 'epoch-start', epoch, epochs, lr, startBatch, batches: train.batchCount });
    model.train();
    const running = new RunningMeans(partial?.running);
    let samplesDone = partial?.samplesDone ?? 0;
    const progress = options.progress === false ? null : new Progress(`${label}epoch ${epoch + 1}/${epochs}`, train.sampleCount, 'img', samplesDone);
    let batchIndex = startBatch;
    const skippedBefore = skippedBatches;
    skippedBatches += partial?.skippedBatches ?? 0;
    for await (const batch of train.batches(epoch, startBatch)) {
      if (options.signal?.aborted === true) {
        // Keep the batches done: a mid-epoch checkpoint that resume continues exactly.
        if (lastDir !== undefined && batchIndex > startBatch) {
          await checkpointLast(lastDir, epoch, {
            batchesDone: batchIndex, samplesDone, lr, seconds: (performance.now() - epochStart) / 1000,
            skippedBatches: skippedBatches - skippedBefore, running: running.state(),
          });
        }
        options.signal.throwIfAborted();
      }
      const n = batchSize(batch);
      samplesDone += n;
      const values = scope(() => {
        optimizer.zeroGrad();
        const { loss, output } = normaliseLoss(lossFn(model, batch));
        const lossValue = loss.item();
        if (!Number.isFinite(lossValue)) return { loss: lossValue };
        loss.backward();
        if (options.clipGradNorm !== undefined) clipGradNorm(model.parameters(), options.clipGradNorm);
        optimizer.step();
        const out: Record<string, number> = { loss: lossValue };
        if (output !== undefined) noGrad(() => { for (const [name, fn] of Object.entries(metricFns)) out[name] = fn(output, batch); });
        return out;
      });
      const finite = Number.isFinite(values['loss']);
      if (!finite) {
        skippedBatches += 1;
        if (skippedBatches > (options.maxNonFiniteBatches ?? 0)) {
          throw new BastionError(`fit: the loss became ${values['loss']} in epoch ${epoch + 1}, batch ${batchIndex + 1}; training diverged`, {
            hint: 'lower the learning rate (or clip gradients with clipGradNorm); the last checkpoint is still intact',
          });
        }
        emit({ type: 'skipped-batch', epoch, batch: batchIndex, loss: values['loss'] as number, skipped: skippedBatches });
      }
      state.step += 1;
      if (scheduler !== undefined && schedulerStep === 'batch') scheduler.step();
      if (finite) {
        running.add(values, n);
        progress?.tick(n, running.means());
      } else {
        progress?.tick(n, { ...running.means(), skipped: skippedBatches });
      }
      emit({ type: 'batch', epoch, batch: batchIndex, batches: train.batchCount, loss: values['loss'] as number, lr: optimizer.lr });
      batchIndex++;
      if (lastDir !== undefined && batchIndex < train.batchCount && performance.now() - lastSave >= saveEveryMs) {
        await checkpointLast(lastDir, epoch, {
          batchesDone: batchIndex, samplesDone, lr, seconds: (performance.now() - epochStart) / 1000,
          skippedBatches: skippedBatches - skippedBefore, running: running.state(),
        });
      }
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await new Promise<void>((r) => setImmediate(r));
        lastYield = performance.now();
      }
    }
    if (batchIndex === startBatch) throw new BastionError(`fit: the training source yielded no batches in epoch ${epoch + 1}`, { hint: 'check the data set and batch size' });
    if (scheduler !== undefined && schedulerStep === 'epoch') scheduler.step();

    const validation = options.validation === undefined ? {} : await validate(options, epoch, lossFn, metricFns);
    const entry: EpochMetrics = { epoch, ...running.means(), ...validation, lr, seconds: (performance.now() - epochStart) / 1000 };
    if (skippedBatches > skippedBefore) entry['skipped_batches'] = skippedBatches - skippedBefore;
    state.history.push(entry);
    emit({ type: 'metrics', epoch, metrics: entry });

    let bestImproved = false;
    if (monitor !== undefined) {
      checkMetricKnown(entry, monitor.metric, options.saveBest ? 'saveBest' : 'earlyStopping');
      const value = entry[monitor.metric] as number;
      if (improved(value, state.best?.value ?? null, monitor.mode)) {
        state.best = { metric: monitor.metric, mode: monitor.mode, value, epoch };
        bestImproved = true;
      }
    }
    const es = state.earlyStopping;
    if (es !== null && options.earlyStopping !== undefined) {
      checkMetricKnown(entry, es.metric, 'earlyStopping');
      const value = entry[es.metric] as number;
      if (improved(value, es.best, options.earlyStopping.mode, options.earlyStopping.minDelta)) Object.assign(es, { best: value, bestEpoch: epoch, badEpochs: 0 });
      else es.badEpochs += 1;
      state.stoppedEarly = es.badEpochs >= options.earlyStopping.patience;
    }
    state.epochsCompleted = epoch + 1;
    epochsRun++;

    progress?.end({ ...running.means(), ...validation });
    if (bestDir !== undefined && options.saveBest !== undefined && bestImproved) {
      await saveCheckpoint(bestDir, model, describe(options, state.history));
      emit({ type: 'checkpoint', epoch, kind: 'best', dir: bestDir });
    }
    if (lastDir !== undefined) await checkpointLast(lastDir, epoch);
    emit({ type: 'epoch-end', epoch, metrics: entry });
    if (state.stoppedEarly && es !== null) {
      emit({ type: 'early-stop', epoch, metric: es.metric, best: es.best as number, bestEpoch: es.bestEpoch, patience: options.earlyStopping?.patience ?? 0 });
      break;
    }
  }
  const done = result(epochsRun);
  emit({ type: 'end', result: done });
  return done;
}

async function validate(options: FitOptions, epoch: number, lossFn: LossFunction, metricFns: Record<string, Metric>): Promise<Record<string, number>> {
  const { model } = options;
  const source = options.validation as NonNullable<FitOptions['validation']>;
  model.eval();
  try {
    if (typeof source === 'function') {
      const values = await source(epoch);
      return Object.fromEntries(Object.entries(values).map(([k, v]) => [`val_${k}`, v]));
    }
    const running = new RunningMeans();
    for await (const batch of source.batches(epoch)) {
      options.signal?.throwIfAborted();
      const values = noGrad(() =>
        scope(() => {
          const { loss, output } = normaliseLoss(lossFn(model, batch));
          const out: Record<string, number> = { loss: loss.item() };
          if (output !== undefined) for (const [name, fn] of Object.entries(metricFns)) out[name] = fn(output, batch);
          return out;
        }),
      );
      running.add(values, batchSize(batch));
      await new Promise<void>((r) => setImmediate(r));
    }
    return running.means('val_');
  } finally {
    model.train();
  }
}

function describe(options: FitOptions, history: EpochMetrics[]): CheckpointDescription {
  const info = options.modelInfo ?? { architecture: options.model.constructor.name, config: {} };
  return { ...info, history, seed: options.seed };
}

async function saveLast(dir: string, options: FitOptions, state: LoopState): Promise<void> {
  const optimizerState = options.optimizer.stateDict();
  const rng = getRngState();
  try {
    const tensors = new Map<string, Tensor>([[RNG_KEY, rng]]);
    for (const [k, t] of optimizerState.tensors) tensors.set(OPTIMIZER_PREFIX + k, t);
    const meta: FitTrainState = {
      ...state,
      ...(options.runConfig === undefined ? {} : { runConfig: JSON.parse(JSON.stringify(options.runConfig)) as Record<string, unknown> }),
      optimizer: optimizerState.meta,
      scheduler: options.scheduler?.stateDict() ?? null,
    };
    await saveCheckpoint(dir, options.model, describe(options, state.history), {
      trainState: { meta: meta as unknown as Record<string, unknown>, tensors },
    });
  } finally {
    rng.dispose();
  }
}

/** Restores model, optimizer, schedule and RNG from `<checkpointDir>/last`; returns the loop state. */
async function restore(dir: string, options: FitOptions): Promise<LoopState> {
  const saved = await readTrainState(dir);
  if (saved === null) {
    throw new BastionError(`cannot resume from ${dir}: it holds a model but no training state`, { hint: 'start without resume, or point checkpointDir at a training run' });
  }
  try {
    const meta = saved.meta as unknown as FitTrainState;
    if (!Number.isInteger(meta.epochsCompleted) || !Array.isArray(meta.history) || typeof meta.optimizer !== 'object') {
      throw new BastionError(`cannot resume from ${dir}: train-state.json lacks epochsCompleted, history or optimizer`);
    }
    if (meta.partial !== undefined && !(Number.isInteger(meta.partial.batchesDone) && meta.partial.batchesDone > 0 && typeof meta.partial.running?.count === 'number')) {
      throw new BastionError(`cannot resume from ${dir}: train-state.json has a malformed mid-epoch record (partial)`, { hint: 'delete the checkpoint and start over without resume' });
    }
    if (meta.seed !== options.seed) {
      throw new BastionError(`cannot resume from ${dir}: that run used seed ${meta.seed} but fit was given seed ${options.seed}`, {
        hint: 'pass the same seed to reproduce the run, or start over without resume',
      });
    }
    checkRunConfig(dir, meta.runConfig, options.runConfig);
    if ((meta.scheduler === null) !== (options.scheduler === undefined)) {
      throw new BastionError(`cannot resume from ${dir}: the saved run ${meta.scheduler === null ? 'had no' : `had a ${meta.scheduler.type}`} learning-rate schedule, this one ${options.scheduler === undefined ? 'has none' : 'has one'}`);
    }
    const rng = saved.tensors.get(RNG_KEY);
    if (rng === undefined) throw new BastionError(`cannot resume from ${dir}: train-state.safetensors lacks '${RNG_KEY}'`);
    await loadCheckpointInto(dir, options.model, { strict: true });
    const optimizerTensors = new Map<string, Tensor>();
    for (const [k, t] of saved.tensors) if (k.startsWith(OPTIMIZER_PREFIX)) optimizerTensors.set(k.slice(OPTIMIZER_PREFIX.length), t);
    options.optimizer.loadStateDict({ meta: meta.optimizer, tensors: optimizerTensors });
    if (meta.scheduler !== null) options.scheduler?.loadStateDict(meta.scheduler);
    setRngState(rng);
    const { optimizer: _o, scheduler: _s, format: _f, version: _v, runConfig: _c, ...loop } = meta as FitTrainState & { format?: unknown; version?: unknown };
    if (options.earlyStopping !== undefined && loop.earlyStopping === null) {
      loop.earlyStopping = { metric: options.earlyStopping.metric, best: null, bestEpoch: -1, badEpochs: 0 };
    }
    return loop;
  } finally {
    for (const t of saved.tensors.values()) t.dispose();
  }
}

function flatten(value: unknown, prefix: string, out: Map<string, string>): void {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    for (const [k, v] of Object.entries(value)) flatten(v, prefix === '' ? k : `${prefix}.${k}`, out);
    if (Object.keys(value).length === 0 && prefix !== '') out.set(prefix, '{}');
  } else if (value !== undefined) {
    out.set(prefix, JSON.stringify(value));
  }
}

/**
 * The fields in which two run configs differ, as `path: saved -> now` lines (nested keys joined
 * with dots, e.g. `recipe.lr: 0.002 -> 0.01`); empty when they agree.
 */
export function configDifferences(saved: Record<string, unknown>, now: Record<string, unknown>): string[] {
  const a = new Map<string, string>();
  const b = new Map<string, string>();
  flatten(JSON.parse(JSON.stringify(saved)), '', a);
  flatten(JSON.parse(JSON.stringify(now)), '', b);
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  return keys.filter((k) => a.get(k) !== b.get(k)).map((k) => `${k}: ${a.get(k) ?? '(unset)'} -> ${b.get(k) ?? '(unset)'}`);
}

function checkRunConfig(dir: string, saved: Record<string, unknown> | undefined, now: Record<string, unknown> | undefined): void {
  if (saved === undefined || now === undefined) return;
  const differences = configDifferences(saved, now);
  if (differences.length === 0) return;
  throw new BastionError(`cannot resume from ${dir}: this run's options differ from the interrupted run's (${differences.join('; ')})`, {
    hint: 'resume with the same options as the interrupted run, or start over with --restart',
  });
}

/**
 * Checks, before any data is loaded, that the interrupted run saved in `<checkpointDir>/last`
 * (if any) was started with `runConfig`; throws naming the differing fields. Reads only the JSON state.
 */
export async function checkResumeConfig(checkpointDir: string, runConfig: Record<string, unknown>): Promise<void> {
  const dir = join(checkpointDir, 'last');
  if (!checkpointExists(dir)) return;
  const saved = await readTrainStateMeta(dir);
  if (saved === null) return;
  checkRunConfig(dir, (saved as unknown as FitTrainState).runConfig, runConfig);
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
