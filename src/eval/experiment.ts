/**
 * Paper experiments as versioned config files (experiments/*.json) and the runner behind
 * `bastion reproduce`: train (or reuse) the models an experiment names, run its evaluations, and
 * resolve its tables — ours beside the paper's — into one results.json with provenance, from which
 * Markdown, CSV and the HTML report are rendered (src/report), never computed twice.
 *
 * Trained models are cached by a hash of their spec (architecture, data, recipe, seed, mode, the
 * hashes of the models they depend on, and the version of the code that trains them:
 * src/eval/code-version.ts), so a second run of an experiment — or another
 * experiment needing the same model — only evaluates.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { packageRoot } from '../tensor/native.js';
import { getRngState, manualSeed, setRngState } from '../tensor/index.js';
import { BastionError, DataError } from '../util/errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { acquireLock } from '../io/lock.js';
import { collectProvenance, type Provenance } from '../io/provenance.js';
import { loadDataset } from '../data/index.js';
import { loadClassifier, loadPurifier, trainClassifier, type ClassifierRecipe, type Classifier, type Purifier } from '../models/index.js';
import { trainPurifier, type PurifierTrainingMode } from '../defenses/purifier-training.js';
import { loadEnsemble, trainKFoldEnsemble, type Ensemble } from '../defenses/ensemble.js';
import { DefendedClassifier } from '../defenses/defended.js';
import { adversarialTraining, ADVERSARIAL_METHODS, type AdversarialTrainingOptions } from '../defenses/adversarial-training.js';
import { createAttack } from '../attacks/registry.js';
import type { Norm } from '../attacks/types.js';
import { evaluateRobustness } from './robustness.js';
import { evaluateDefenses, type AttackLabels, type EvaluationMode } from './defense.js';
import { measureLatency } from './latency.js';
import { captureExamples } from './examples.js';
import { paperTable, type PaperEntry } from './paper.js';
import { attentionAnalysis, evaluateA3, evaluateTable6 } from './aad.js';
import { evaluationCodeVersion, modelCodeVersion } from './code-version.js';
import { age } from '../util/age.js';

/** A model an experiment trains (or finds in the cache). */
export interface ModelSpec {
  id: string;
  kind: 'classifier' | 'purifier' | 'ensemble';
  architecture: string;
  data: string;
  seed?: number;
  /** Recipe fields (epochs, lr, ...; for purifiers also noiseFactor, model, adversarial). */
  recipe?: Record<string, unknown>;
  /** Train on the first N images only (smoke runs). */
  limit?: number;
  /**
   * Image folders: size and channels. `strictCounts: false` accepts CIFAR-format files with fewer
   * records than the official batches (the small files tests write).
   */
  dataOptions?: { size?: number; channels?: 1 | 3; strictCounts?: boolean };
  /** Purifiers: training mode and the classifier (model id) adversarial examples are crafted on. */
  mode?: PurifierTrainingMode;
  classifier?: string;
  /** Ensembles: folds. */
  k?: number;
  /**
   * Classifiers: adversarial training (src/defenses/adversarial-training.ts), e.g.
   * `{ "method": "madry", "eps": 0.3, "steps": 40, "stepSize": 0.01, "aad": true }`.
   */
  defense?: AdversarialTrainingOptions;
}

/** One evaluation of an experiment. */
export type EvaluationSpec =
  | {
    id: string; type: 'attack'; model: string; data: string; dataOptions?: ModelSpec['dataOptions']; attack: string; attackOptions?: Record<string, unknown>;
    epsilons: number[]; norm?: Norm; bounds?: [number, number] | null; limit?: number;
    /** Seed of the attack's randomness and of random targets (default 0; `attackOptions.seed` wins). */
    seed?: number;
  }
  | {
    id: string; type: 'defense'; classifier: string; purifiers: string[]; ensemble?: string; data: string; dataOptions?: ModelSpec['dataOptions']; attack: string;
    attackOptions?: Record<string, unknown>; epsilons: number[]; norm?: Norm; bounds?: [number, number] | null; modes?: EvaluationMode[]; eotSamples?: number;
    /** 'predicted': the attacks take the attacked model's clean predictions as labels (src/eval/defense.ts, label leaking). */
    attackLabels?: AttackLabels; limit?: number; seed?: number;
  }
  | { id: string; type: 'latency'; classifier: string; purifiers?: string[]; batchSize?: number }
  /** Paper 004 Table 6: clean, FGSM, PGD-k and CW-k accuracy at one budget (src/eval/aad.ts evaluateTable6). */
  | {
    id: string; type: 'table6'; model: string; data: string; dataOptions?: ModelSpec['dataOptions']; eps: number; stepSize: number;
    iterations?: number[]; confidence?: number; limit?: number; seed?: number;
  }
  /** Paper 004 Table 7 analogue: Iter-StepLL and PGD with and without the A3 term (evaluateA3). */
  | {
    id: string; type: 'a3'; model: string; data: string; dataOptions?: ModelSpec['dataOptions']; epsilons: number[]; steps?: number; sigma?: number;
    limit?: number; seed?: number;
  }
  /** Paper 004 Table 3 analogue: IoU of clean and StepLL-adversarial top-k Grad-CAM cells (attentionAnalysis). */
  | { id: string; type: 'attention'; model: string; data: string; dataOptions?: ModelSpec['dataOptions']; epsilons: number[]; cells?: number[]; limit?: number };

/** Every evaluation type an experiment may use. */
export const EVALUATION_TYPES = ['attack', 'defense', 'latency', 'table6', 'a3', 'attention'] as const;

/** Where a table cell's value comes from. */
export type CellSpec =
  | { paper: string; select: Partial<PaperEntry> }
  | { result: string; path: string }
  /** A field of a trained model's record (`training` of its model.json, e.g. `testMse`, `purifiedAccuracy`). */
  | { model: string; path: string }
  | { value: number | string | null };

/** A table of an experiment: rows of labelled cells under named columns. */
export interface TableSpec {
  id: string;
  title: string;
  columns: string[];
  rows: { label: string; cells: Record<string, CellSpec> }[];
  /** Pairs of columns [ours, paper] whose difference is reported as "ours - paper". */
  differences?: [string, string][];
  note?: string;
}

/** An experiment config file. */
export interface Experiment {
  name: string;
  version: number;
  title: string;
  papers: string[];
  description: string;
  /** Minutes this takes on a 2-core machine from a cold cache (measured), for `reproduce --list`. */
  estimateMinutes: number;
  /** A smoke run: tiny data or few epochs; its numbers are not comparable with the paper's. */
  smoke?: boolean;
  models: ModelSpec[];
  evaluations: EvaluationSpec[];
  tables: TableSpec[];
}

/** A resolved table: every cell a number, string or null. */
export interface ResolvedTable {
  id: string;
  title: string;
  columns: string[];
  rows: { label: string; values: Record<string, number | string | null> }[];
  note?: string;
}

/** What `bastion reproduce` writes as results.json. */
export interface ExperimentResults {
  format: 'bastion-experiment-results';
  version: 1;
  experiment: Experiment;
  configHash: string;
  smoke: boolean;
  startedAt: string;
  wallSeconds: number;
  models: Record<string, { dir: string; cached: boolean; seconds: number; training: Record<string, unknown> | null; history: Record<string, unknown>[] }>;
  evaluations: Record<string, EvaluationRecord>;
  tables: ResolvedTable[];
  provenance: Provenance;
}

/**
 * One evaluation's outcome in results.json. `key` identifies the evaluation spec together with the
 * cache keys of the models it uses (see `evaluationKey`); `reused` says the result was computed by an
 * earlier run into the same output folder (when, and its own `seconds`), not by this one.
 */
export interface EvaluationRecord {
  type: string;
  seconds: number;
  result: unknown;
  key?: string;
  finishedAt?: string;
  /** The code version that computed it (src/eval/code-version.ts); absent in results of older Bastions. */
  codeVersion?: string;
  reused?: { from: string; finishedAt: string | null };
}

/** The folder holding the experiment configs. */
export function experimentsDir(): string {
  return join(packageRoot, 'experiments');
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value as object).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function sha(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Checks an experiment's structure; errors name the file and the field. */
export function validateExperiment(value: unknown, file: string): Experiment {
  const e = value as Experiment;
  if (e === null || typeof e !== 'object') throw new DataError(file, 'must hold a JSON object');
  for (const key of ['name', 'title', 'description'] as const) if (typeof e[key] !== 'string' || e[key] === '') throw new DataError(file, `'${key}' must be a non-empty string`);
  if (!Number.isInteger(e.version) || e.version < 1) throw new DataError(file, `'version' must be a positive integer`);
  if (typeof e.estimateMinutes !== 'number' || e.estimateMinutes <= 0) throw new DataError(file, `'estimateMinutes' must be a positive number`);
  for (const key of ['models', 'evaluations', 'tables'] as const) if (!Array.isArray(e[key])) throw new DataError(file, `'${key}' must be an array`);
  const ids = new Set<string>();
  for (const m of e.models) {
    if (typeof m.id !== 'string' || ids.has(m.id)) throw new DataError(file, `model ids must be unique strings (problem at ${JSON.stringify(m.id)})`);
    ids.add(m.id);
    if (!['classifier', 'purifier', 'ensemble'].includes(m.kind)) throw new DataError(file, `model '${m.id}': kind must be classifier, purifier or ensemble`);
    if (typeof m.architecture !== 'string' || typeof m.data !== 'string') throw new DataError(file, `model '${m.id}': architecture and data are required`);
    if (m.defense !== undefined) {
      const d = m.defense as Partial<AdversarialTrainingOptions> | null;
      if (m.kind !== 'classifier') throw new DataError(file, `model '${m.id}': 'defense' (adversarial training) applies to classifiers only`);
      if (d === null || typeof d !== 'object' || !ADVERSARIAL_METHODS.includes(d.method as never) || typeof d.eps !== 'number' || !(d.eps > 0)) {
        throw new DataError(file, `model '${m.id}': 'defense' needs a method (${ADVERSARIAL_METHODS.join(', ')}) and a positive eps`, 'e.g. { "method": "madry", "eps": 0.3 }');
      }
    }
    if (m.kind === 'purifier' && m.classifier !== undefined && !e.models.some((o) => o.id === m.classifier)) {
      throw new DataError(file, `model '${m.id}': classifier '${m.classifier}' is not a model of this experiment`);
    }
  }
  const evalIds = new Set<string>();
  for (const ev of e.evaluations) {
    if (typeof ev.id !== 'string' || evalIds.has(ev.id)) throw new DataError(file, `evaluation ids must be unique strings (problem at ${JSON.stringify(ev.id)})`);
    evalIds.add(ev.id);
    if (!(EVALUATION_TYPES as readonly string[]).includes(ev.type)) {
      throw new DataError(file, `evaluation '${ev.id}': unknown type '${String(ev.type)}'`, `use one of ${EVALUATION_TYPES.join(', ')}`);
    }
    const refs = [(ev as { model?: string }).model, (ev as { classifier?: string }).classifier, ...((ev as { purifiers?: string[] }).purifiers ?? []), (ev as { ensemble?: string }).ensemble];
    for (const r of refs) if (r !== undefined && !ids.has(r)) throw new DataError(file, `evaluation '${ev.id}' names model '${r}', which is not defined`);
    const labels = (ev as { attackLabels?: unknown }).attackLabels;
    if (labels !== undefined && (ev.type !== 'defense' || (labels !== 'true' && labels !== 'predicted'))) {
      throw new DataError(file, `evaluation '${ev.id}': attackLabels applies to defense evaluations and is 'true' or 'predicted'`);
    }
  }
  for (const t of e.tables) {
    for (const row of t.rows) {
      for (const [column, cell] of Object.entries(row.cells)) {
        if (!t.columns.includes(column)) throw new DataError(file, `table '${t.id}' row '${row.label}': unknown column '${column}'`);
        if ('result' in cell && !evalIds.has(cell.result)) throw new DataError(file, `table '${t.id}' row '${row.label}': evaluation '${cell.result}' is not defined`);
        if ('model' in cell && !ids.has(cell.model)) throw new DataError(file, `table '${t.id}' row '${row.label}': model '${cell.model}' is not defined`);
        if ('paper' in cell) paperTable(cell.paper);
      }
    }
  }
  return e;
}

/** Reads and validates experiments/<name>.json (or a path). */
export async function loadExperiment(nameOrPath: string): Promise<Experiment> {
  const file = nameOrPath.endsWith('.json') ? resolve(nameOrPath) : join(experimentsDir(), `${nameOrPath}.json`);
  if (!existsSync(file)) {
    throw new BastionError(`no experiment '${nameOrPath}'`, { hint: 'see `bastion reproduce --list`', exitCode: 2 });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    throw new DataError(file, `is not valid JSON (${(error as Error).message})`);
  }
  return validateExperiment(parsed, file);
}

/** Every experiment in experiments/, sorted by name. */
export async function listExperiments(): Promise<Experiment[]> {
  const dir = experimentsDir();
  if (!existsSync(dir)) return [];
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  return Promise.all(files.map((f) => loadExperiment(join(dir, f))));
}

/** Cache keys of every model of an experiment (a model's key covers the models it depends on). */
export function modelKeys(experiment: Experiment): Map<string, string> {
  const keys = new Map<string, string>();
  const byId = new Map(experiment.models.map((m) => [m.id, m]));
  const keyOf = (id: string, seen: Set<string>): string => {
    const known = keys.get(id);
    if (known) return known;
    if (seen.has(id)) throw new BastionError(`experiment ${experiment.name}: model '${id}' depends on itself`);
    const spec = byId.get(id) as ModelSpec;
    const { id: _id, ...rest } = spec;
    void _id;
    const deps = spec.classifier ? { classifier: keyOf(spec.classifier, new Set([...seen, id])) } : {};
    const key = sha(canonical({ ...rest, deps, code: modelCodeVersion(spec) })).slice(0, 16);
    keys.set(id, key);
    return key;
  };
  for (const m of experiment.models) keyOf(m.id, new Set());
  return keys;
}

/**
 * The models that `only` (evaluation and model ids) needs: the named models, every model an
 * evaluation among them refers to (any string or string-list field equal to a model id), and,
 * transitively, the classifiers those models are trained against. Unknown ids are an error.
 */
export function modelsNeeded(experiment: Experiment, only: readonly string[]): Set<string> {
  const byId = new Map(experiment.models.map((m) => [m.id, m]));
  const evaluationIds = new Set(experiment.evaluations.map((e) => e.id));
  const unknown = only.filter((id) => !byId.has(id) && !evaluationIds.has(id));
  if (unknown.length > 0) {
    throw new BastionError(`experiment ${experiment.name} has no evaluation or model ${unknown.map((u) => `'${u}'`).join(', ')}`, {
      hint: `evaluations: ${[...evaluationIds].join(', ')}; models: ${[...byId.keys()].join(', ')}`, exitCode: 2,
    });
  }
  const needed = new Set<string>();
  const add = (id: string): void => {
    const spec = byId.get(id);
    if (!spec || needed.has(id)) return;
    needed.add(id);
    if (spec.classifier) add(spec.classifier);
  };
  for (const id of only) {
    add(id);
    const evaluation = experiment.evaluations.find((e) => e.id === id);
    if (!evaluation) continue;
    for (const value of Object.values(evaluation)) {
      for (const v of Array.isArray(value) ? value : [value]) if (typeof v === 'string') add(v);
    }
  }
  return needed;
}

/**
 * The identity of an evaluation's result: its spec, the cache folder names (`id-key`) of every model
 * it uses, with their dependencies, and the version of the code that computes it (`code`, default
 * {@link evaluationCodeVersion}). Two runs that agree on it compute the same numbers (same models,
 * same seeds), so a finished result may be reused instead of recomputed.
 */
export function evaluationKey(spec: EvaluationSpec, modelFolders: ReadonlyMap<string, string>, experiment: Experiment, code = evaluationCodeVersion(spec)): string {
  const used = [...modelsNeeded(experiment, [spec.id])].sort().map((id) => modelFolders.get(id) ?? `${id}-?`);
  return sha(canonical({ spec, models: used, code })).slice(0, 16);
}

/** Where a run into `out` keeps the finished evaluation `id`. */
function evaluationFile(out: string, id: string): string {
  return join(out, 'evaluations', `${id}.json`);
}

/** Saves one finished evaluation as `out/evaluations/ID.json` (atomically). */
async function saveEvaluation(out: string, id: string, record: EvaluationRecord): Promise<void> {
  await mkdir(join(out, 'evaluations'), { recursive: true });
  await writeFileAtomic(evaluationFile(out, id), `${JSON.stringify(record)}\n`);
}

/**
 * Moves the evaluations of a results.json written before per-evaluation files existed into
 * `out/evaluations/ID.json` (with their key, matched by spec and model folders), unless a file is
 * already there. Run before anything else, so that a later run, which rewrites results.json with
 * only what it ran (e.g. with --only), cannot drop them.
 */
async function saveLegacyEvaluations(out: string): Promise<void> {
  const resultsFile = join(out, 'results.json');
  if (!existsSync(resultsFile)) return;
  let earlier: ExperimentResults;
  try {
    earlier = JSON.parse(await readFile(resultsFile, 'utf8')) as ExperimentResults;
  } catch {
    return; // An unreadable earlier results.json is simply not reused; this run overwrites it.
  }
  const folders = new Map(Object.entries(earlier.models ?? {}).map(([id, m]) => [id, basename(m.dir)]));
  for (const spec of earlier.experiment?.evaluations ?? []) {
    const record = earlier.evaluations?.[spec.id];
    if (!record || existsSync(evaluationFile(out, spec.id))) continue;
    // Without a key it was computed by a Bastion that recorded no code version: kept, never reused.
    const key = record.key ?? evaluationKey(spec, folders, earlier.experiment, 'unknown');
    const { reused, ...rest } = record;
    const finishedAt = reused?.finishedAt ?? record.finishedAt ?? earlier.provenance?.createdAt;
    await saveEvaluation(out, spec.id, { ...rest, key, ...(finishedAt ? { finishedAt } : {}) });
  }
}

/**
 * Finished evaluations of earlier runs into `out` that match `keys` (evaluation id -> evaluationKey):
 * the per-evaluation files `out/evaluations/ID.json` that every run writes as it goes (so a crashed
 * run loses at most the evaluation it was in; runExperiment first moves an old results.json into them).
 */
async function earlierEvaluations(out: string, keys: ReadonlyMap<string, string>): Promise<Map<string, EvaluationRecord & { from: string }>> {
  const found = new Map<string, EvaluationRecord & { from: string }>();
  for (const [id, key] of keys) {
    const file = evaluationFile(out, id);
    if (!existsSync(file)) continue;
    try {
      const record = JSON.parse(await readFile(file, 'utf8')) as EvaluationRecord;
      if (record.key === key) found.set(id, { ...record, from: file });
    } catch {
      // Half-written files cannot occur (atomic writes); a hand-edited one is recomputed.
    }
  }
  return found;
}

/** Where cached models live: `$BASTION_CACHE_DIR/models`, else runs/cache/models beside the checkout. */
export function modelCacheDir(): string {
  return process.env['BASTION_CACHE_DIR'] ? join(process.env['BASTION_CACHE_DIR'], 'models') : join(packageRoot, 'runs', 'cache', 'models');
}

function modelDone(spec: ModelSpec, dir: string): boolean {
  return existsSync(join(dir, spec.kind === 'ensemble' ? 'ensemble.json' : 'model.json'));
}

async function trainModel(spec: ModelSpec, dir: string, dirs: Map<string, string>, progress: boolean): Promise<void> {
  const dataOptions = spec.dataOptions ?? {};
  if (spec.kind === 'classifier') {
    // Adversarial training (Madry / ALP / TRADES, optionally + AAD) runs its attack inside the loop.
    const defense = spec.defense ? adversarialTraining(spec.defense) : null;
    await trainClassifier({
      architecture: spec.architecture, data: spec.data, out: dir, recipe: (spec.recipe ?? {}) as Partial<ClassifierRecipe>,
      seed: spec.seed ?? 0, dataOptions, ...(spec.limit !== undefined ? { limit: spec.limit } : {}), resume: true, progress,
      ...(defense ? { loss: defense.loss, metrics: defense.metrics, trainingInfo: { ...defense.info }, onEvent: defense.observe } : {}),
    });
    return;
  }
  if (spec.kind === 'purifier') {
    await trainPurifier({
      architecture: spec.architecture, data: spec.data, out: dir, mode: spec.mode ?? 'clean',
      ...(spec.classifier ? { classifier: dirs.get(spec.classifier) as string } : {}),
      recipe: (spec.recipe ?? {}) as never, seed: spec.seed ?? 0, dataOptions, ...(spec.limit !== undefined ? { limit: spec.limit } : {}), resume: true, progress,
    });
    return;
  }
  await trainKFoldEnsemble({
    architecture: spec.architecture, data: spec.data, out: dir, k: spec.k ?? 10, recipe: (spec.recipe ?? {}) as Partial<ClassifierRecipe>,
    seed: spec.seed ?? 0, dataOptions, ...(spec.limit !== undefined ? { limit: spec.limit } : {}), resume: true, progress,
  });
}

/**
 * Reads a value out of a result by a path like `grayBox.defenses.csaae[0]` or `perEpsilon[2].accuracy`.
 * Keys may contain dots (model ids such as `dae-0.1`): at each level the longest run of dotted
 * segments that is a key of the current object is taken, so `defenses.dae-0.1+kfold[0]` works.
 */
export function readPath(value: unknown, path: string): unknown {
  const tokens = path.match(/\[\d+\]|[^.[\]]+/g) ?? [];
  let current: unknown = value;
  let i = 0;
  while (i < tokens.length) {
    if (current === null || current === undefined) return null;
    const token = tokens[i] as string;
    if (token.startsWith('[')) {
      current = (current as unknown[])[Number(token.slice(1, -1))];
      i += 1;
      continue;
    }
    let end = i; // last token of the longest dotted key present in `current`
    for (let j = i + 1; j < tokens.length && !(tokens[j] as string).startsWith('['); j++) {
      if (Object.hasOwn(current as object, tokens.slice(i, j + 1).join('.'))) end = j;
    }
    current = (current as Record<string, unknown>)[tokens.slice(i, end + 1).join('.')];
    i = end + 1;
  }
  return current ?? null;
}

function resolveCell(cell: CellSpec, evaluations: ExperimentResults['evaluations'], models: ExperimentResults['models']): number | string | null {
  if ('value' in cell) return cell.value;
  if ('model' in cell) {
    const v = readPath(models[cell.model]?.training ?? null, cell.path);
    return typeof v === 'number' || typeof v === 'string' ? v : null;
  }
  if ('paper' in cell) {
    const table = paperTable(cell.paper);
    const matches = table.entries.filter((e) => Object.entries(cell.select).every(([k, v]) => (e as unknown as Record<string, unknown>)[k] === v));
    if (matches.length !== 1) throw new BastionError(`paper table ${cell.paper}: ${matches.length} entries match ${JSON.stringify(cell.select)} (expected exactly one)`);
    return (matches[0] as PaperEntry).value;
  }
  const found = evaluations[cell.result];
  if (!found) return null;
  const v = readPath(found.result, cell.path);
  return typeof v === 'number' || typeof v === 'string' ? v : null;
}

/** Resolves an experiment's tables from its evaluation results and model records (adds the difference columns). */
export function resolveTables(experiment: Experiment, evaluations: ExperimentResults['evaluations'], models: ExperimentResults['models'] = {}): ResolvedTable[] {
  return experiment.tables.map((t) => {
    const differences = t.differences ?? [];
    const columns = [...t.columns, ...differences.map(([ours, paper]) => `${ours} - ${paper}`)];
    const rows = t.rows.map((row) => {
      const values: Record<string, number | string | null> = {};
      for (const c of t.columns) values[c] = row.cells[c] ? resolveCell(row.cells[c] as CellSpec, evaluations, models) : null;
      for (const [ours, paper] of differences) {
        const a = values[ours];
        const b = values[paper];
        values[`${ours} - ${paper}`] = typeof a === 'number' && typeof b === 'number' ? a - b : null;
      }
      return { label: row.label, values };
    });
    return { id: t.id, title: t.title, columns, rows, ...(t.note ? { note: t.note } : {}) };
  });
}

/** Options of {@link runExperiment}. */
export interface RunExperimentOptions {
  /** Where results.json goes. */
  out: string;
  /** Re-train even cached models. */
  retrain?: boolean;
  /**
   * Run only these evaluations, and train only these models (ids of either): the models the selected
   * evaluations use and the named ones, with the classifiers they depend on. Default: everything.
   */
  only?: string[];
  /**
   * Recompute every evaluation. By default an evaluation whose result an earlier run already wrote to
   * the same output folder, for the same spec and the same cached models, is reused (and marked so);
   * `retrain` implies this.
   */
  reevaluate?: boolean;
  progress?: boolean;
  log?: (line: string) => void;
}

/** Trains or reuses every model, runs every evaluation, resolves the tables, writes results.json. */
export async function runExperiment(experiment: Experiment, options: RunExperimentOptions): Promise<ExperimentResults> {
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const progress = options.progress ?? true;
  const log = options.log ?? (() => undefined);
  const keys = modelKeys(experiment);
  const dirs = new Map<string, string>();
  const models: ExperimentResults['models'] = {};
  const needed = options.only ? modelsNeeded(experiment, options.only) : null;
  for (const spec of experiment.models) {
    if (needed && !needed.has(spec.id)) continue;
    const dir = join(modelCacheDir(), `${spec.id}-${keys.get(spec.id)}`);
    dirs.set(spec.id, dir);
    let cached = !options.retrain && modelDone(spec, dir);
    const t0 = performance.now();
    let release: (() => void) | null = null;
    if (!cached) {
      // Another run sharing the cache may be training this very model: wait for it, then reuse it.
      await mkdir(modelCacheDir(), { recursive: true });
      release = await acquireLock(`${dir}.lock`, {
        onWait: (owner, path) => log(`waiting: ${spec.id} is being trained by ${owner ? `pid ${owner.pid} on ${owner.host} since ${owner.since}` : 'another run'} (${path}; delete it if that run is dead)`),
      });
      cached = !options.retrain && modelDone(spec, dir);
    }
    try {
      log(`${cached ? 'cached' : 'training'} ${spec.kind} ${spec.id} (${spec.architecture} on ${spec.data}) -> ${dir}`);
      if (!cached) await trainModel(spec, dir, dirs, progress);
    } finally {
      release?.();
    }
    const { training, history } = await trainingRecord(spec, dir);
    models[spec.id] = { dir, cached, seconds: (performance.now() - t0) / 1000, training, history };
  }
  const folders = new Map([...dirs].map(([id, dir]) => [id, basename(dir)]));
  const selected = experiment.evaluations.filter((spec) => !options.only || options.only.includes(spec.id));
  const evaluationKeys = new Map(selected.map((spec) => [spec.id, evaluationKey(spec, folders, experiment)]));
  await saveLegacyEvaluations(options.out);
  const earlier = options.reevaluate || options.retrain ? new Map() : await earlierEvaluations(options.out, evaluationKeys);
  const evaluations: ExperimentResults['evaluations'] = {};
  for (const spec of selected) {
    const key = evaluationKeys.get(spec.id) as string;
    const previous = earlier.get(spec.id);
    if (previous) {
      log(`reusing ${spec.id} (${spec.type}) finished ${previous.finishedAt ?? 'earlier'}${previous.finishedAt ? ` (${age(previous.finishedAt)})` : ''} by code ${previous.codeVersion ?? 'of unknown version'} in ${previous.from}`);
      const { from, reused, ...record } = previous;
      evaluations[spec.id] = { ...record, key, reused: reused ?? { from, finishedAt: previous.finishedAt ?? null } };
      continue;
    }
    log(`evaluating ${spec.id} (${spec.type})`);
    const t0 = performance.now();
    const result = await runEvaluation(spec, dirs, progress, options.out);
    const record: EvaluationRecord = {
      type: spec.type, seconds: (performance.now() - t0) / 1000, result, key, finishedAt: new Date().toISOString(), codeVersion: evaluationCodeVersion(spec),
    };
    evaluations[spec.id] = record;
    await saveEvaluation(options.out, spec.id, record);
  }
  const results: ExperimentResults = {
    format: 'bastion-experiment-results', version: 1, experiment, configHash: sha(canonical(experiment)).slice(0, 16),
    smoke: experiment.smoke === true, startedAt, wallSeconds: (performance.now() - started) / 1000, models, evaluations,
    tables: resolveTables(experiment, evaluations, models), provenance: collectProvenance({ command: `bastion reproduce ${experiment.name}` }),
  };
  await mkdir(options.out, { recursive: true });
  await writeFileAtomic(join(options.out, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  return results;
}

/** How a trained model was trained (model.json `training`, or the ensemble manifest) and its per-epoch history. */
async function trainingRecord(spec: ModelSpec, dir: string): Promise<{ training: Record<string, unknown> | null; history: Record<string, unknown>[] }> {
  if (spec.kind === 'ensemble') {
    const manifest = JSON.parse(await readFile(join(dir, 'ensemble.json'), 'utf8')) as { k: number; memberResults: unknown };
    return { training: { k: manifest.k, memberResults: manifest.memberResults }, history: [] };
  }
  const meta = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as { training?: Record<string, unknown>; history?: Record<string, unknown>[] };
  return { training: meta.training ?? null, history: meta.history ?? [] };
}

/**
 * The threat model of an attack or defense evaluation: `norm` (default L-inf), `epsilons`, and pixel
 * `bounds` — omitted means [0,1] (valid images), `null` means no clipping at all (the protocol of
 * paper 000's Algorithm 1, whose FGSM accuracies differ between eps 1.0 and 1.5, impossible with clipping).
 */
function threatOf(s: { norm?: Norm; epsilons: number[]; bounds?: [number, number] | null }): { norm: Norm; epsilons: number[]; bounds?: [number, number] } {
  const threat = { norm: s.norm ?? 'linf' as Norm, epsilons: s.epsilons };
  if (s.bounds === undefined) return threat;
  return { ...threat, bounds: s.bounds === null ? [-Infinity, Infinity] : s.bounds };
}

/** The seed an evaluation runs under: its spec's `seed`, default 0 (latency has none and uses 0). */
export function evaluationSeed(spec: EvaluationSpec): number {
  return (spec as { seed?: number }).seed ?? 0;
}

/**
 * Runs `fn` with libtorch's global generator seeded with `seed`, restoring the caller's generator
 * afterwards: whatever ran before in this process (training a model cold, other evaluations)
 * cannot change an evaluation's numbers, so a cold run and a cached one agree exactly.
 */
async function withSeed<T>(seed: number, fn: () => Promise<T>): Promise<T> {
  const saved = getRngState().keep();
  manualSeed(seed);
  try {
    return await fn();
  } finally {
    setRngState(saved);
    saved.dispose();
  }
}

/** One evaluation, under its seed (see {@link withSeed}). */
function runEvaluation(spec: EvaluationSpec, dirs: Map<string, string>, progress: boolean, runDir: string): Promise<unknown> {
  return withSeed(evaluationSeed(spec), () => runEvaluationUnseeded(spec, dirs, progress, runDir));
}

async function runEvaluationUnseeded(spec: EvaluationSpec, dirs: Map<string, string>, progress: boolean, runDir: string): Promise<unknown> {
  const dirOf = (id: string): string => {
    const dir = dirs.get(id);
    if (!dir) throw new BastionError(`evaluation '${spec.id}' names unknown model '${id}'`);
    return dir;
  };
  const owned: { dispose(): void }[] = [];
  try {
    if (spec.type === 'attack') {
      const s = spec as Extract<EvaluationSpec, { type: 'attack' }>;
      const { model } = await loadClassifier(dirOf(s.model));
      owned.push(model);
      const data = await loadDataset(s.data, { ...s.dataOptions, split: 'test' });
      owned.push(data);
      const seed = evaluationSeed(s);
      const result = await evaluateRobustness(model, data, {
        attack: createAttack(s.attack, { seed, ...s.attackOptions }), threat: threatOf(s), seed,
        ...(s.limit !== undefined ? { limit: s.limit } : {}), progress,
      });
      await captureExamples({ runDir, evaluation: s.id, classifier: model, dataset: data, attack: s.attack, attackOptions: s.attackOptions ?? {}, threat: threatOf(s), seed });
      return result;
    }
    if (spec.type === 'defense') {
      const s = spec as Extract<EvaluationSpec, { type: 'defense' }>;
      const { model: classifier } = await loadClassifier(dirOf(s.classifier));
      owned.push(classifier);
      const purifiers: { id: string; model: Purifier }[] = [];
      for (const id of s.purifiers) {
        const { model } = await loadPurifier(dirOf(id));
        owned.push(model);
        purifiers.push({ id, model });
      }
      let ensemble: Ensemble | null = null;
      if (s.ensemble) {
        ensemble = (await loadEnsemble(dirOf(s.ensemble))).ensemble;
        owned.push(ensemble);
      }
      const behind: Classifier | Ensemble = classifier;
      const defenses = [
        ...purifiers.map((p) => ({ name: p.id, model: new DefendedClassifier(p.model, behind) })),
        ...(ensemble ? purifiers.map((p) => ({ name: `${p.id}+${s.ensemble}`, model: new DefendedClassifier(p.model, ensemble as Ensemble) })) : []),
      ];
      const data = await loadDataset(s.data, { ...s.dataOptions, split: 'test' });
      owned.push(data);
      const result = await evaluateDefenses({
        source: classifier, defenses, dataset: data, attack: s.attack, attackOptions: s.attackOptions ?? {},
        threat: threatOf(s), ...(s.modes ? { modes: s.modes } : {}),
        ...(s.eotSamples !== undefined ? { eotSamples: s.eotSamples } : {}), ...(s.limit !== undefined ? { limit: s.limit } : {}),
        ...(s.attackLabels !== undefined ? { attackLabels: s.attackLabels } : {}),
        seed: s.seed ?? 0, progress,
      });
      await captureExamples({ runDir, evaluation: s.id, classifier, defenses, dataset: data, attack: s.attack, attackOptions: s.attackOptions ?? {}, threat: threatOf(s), seed: s.seed ?? 0 });
      return result;
    }
    if (spec.type === 'latency') {
      const s = spec as Extract<EvaluationSpec, { type: 'latency' }>;
      const { model: classifier } = await loadClassifier(dirOf(s.classifier));
      owned.push(classifier);
      const shape = [classifier.channels, classifier.height, classifier.width] as const;
      const out: Record<string, unknown> = { classifier: measureLatency(classifier, shape, s.batchSize ? { batchSize: s.batchSize } : {}) };
      for (const id of s.purifiers ?? []) {
        const { model } = await loadPurifier(dirOf(id));
        owned.push(model);
        out[id] = measureLatency(new DefendedClassifier(model, classifier), shape, s.batchSize ? { batchSize: s.batchSize } : {});
      }
      return out;
    }
    // Paper 004's evaluations of one classifier on the test split.
    const { model } = await loadClassifier(dirOf(spec.model));
    owned.push(model);
    const data = await loadDataset(spec.data, { ...spec.dataOptions, split: 'test' });
    owned.push(data);
    const common = { ...(spec.limit !== undefined ? { limit: spec.limit } : {}), progress };
    if (spec.type === 'table6') {
      const result = await evaluateTable6(model, data, {
        eps: spec.eps, stepSize: spec.stepSize, ...(spec.iterations ? { iterations: spec.iterations } : {}),
        ...(spec.confidence !== undefined ? { confidence: spec.confidence } : {}), seed: spec.seed ?? 0, ...common,
      });
      const steps = Math.max(...result.iterations);
      const threat = { norm: 'linf' as Norm, epsilons: [spec.eps] };
      await captureExamples({ runDir, evaluation: spec.id, classifier: model, dataset: data, attack: 'pgd', attackOptions: { steps, stepSize: spec.stepSize }, threat, seed: spec.seed ?? 0 });
      return result;
    }
    if (spec.type === 'a3') {
      return await evaluateA3(model, data, {
        epsilons: spec.epsilons, ...(spec.steps !== undefined ? { steps: spec.steps } : {}), ...(spec.sigma !== undefined ? { sigma: spec.sigma } : {}),
        seed: spec.seed ?? 0, ...common,
      });
    }
    return await attentionAnalysis(model, data, { epsilons: spec.epsilons, ...(spec.cells ? { cells: spec.cells } : {}), ...common });
  } finally {
    for (const o of owned) o.dispose();
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
