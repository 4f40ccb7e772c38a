/**
 * The HTML report of a run folder: one self-contained file (inline CSS, PNGs as data: URIs, inline
 * SVG charts, no script, no external request) rendered only from the folder's files, never
 * recomputing a number (DESIGN.md). Three kinds of folders are understood:
 *
 * - `bastion reproduce` / `bastion demo` output: results.json ({@link ExperimentResults}) and
 *   examples/<evaluation>.json + PNGs (src/eval/examples.ts);
 * - `bastion attack --out DIR`: summary.json (+ examples.safetensors, grid.png);
 * - `bastion eval --out DIR`: eval.json.
 *
 * An experiment report holds: the title (and a SMOKE RUN banner for smoke runs), every table with
 * paper / ours / difference, accuracy-against-epsilon charts per attack and per defense (gray-box
 * and the adaptive modes on the same axes, with the paper's points where the tables give them),
 * example image grids (clean / adversarial / amplified perturbation / purified per defense, with
 * predictions and confidences, Grad-CAM overlays where captured), training curves per model,
 * latency tables, and provenance with wall times.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { CellSpec, ExperimentResults, ResolvedTable, TableSpec } from '../eval/experiment.js';
import type { RobustnessResult } from '../eval/robustness.js';
import type { DefenseEvaluation } from '../eval/defense.js';
import type { IndicatorReport } from '../eval/indicators.js';
import type { Latency } from '../eval/latency.js';
import type { A3EvaluationResult, AttentionAnalysisResult, Table6Result } from '../eval/aad.js';
import type { ExampleImage, ExampleSet } from '../eval/examples.js';
import type { ComparisonRow } from '../eval/paper.js';
import type { Provenance } from '../io/provenance.js';
import { writeFileAtomic } from '../io/atomic.js';
import { BastionError, DataError, jsonSyntaxProblem } from '../util/errors.js';
import { formatPairedComparison } from '../eval/stats.js';
import { formatCell } from './tables.js';
import { age } from '../util/age.js';
import { escapeXml as esc, lineChart, percentTick, shortNumber, type Point, type Series } from './svg.js';
import { resolveFileInside, UnsafePathError } from './safe-path.js';

/** What a run folder holds, by the file that describes it. */
export type RunKind = 'experiment' | 'attack' | 'defense-eval';

/** The file naming each kind of run folder, in the order they are looked for. */
export const RUN_FILES: readonly { kind: RunKind; file: string; format: string }[] = [
  { kind: 'experiment', file: 'results.json', format: 'bastion-experiment-results' },
  { kind: 'attack', file: 'summary.json', format: 'bastion-attack-summary' },
  { kind: 'defense-eval', file: 'eval.json', format: 'bastion-defense-eval' },
];

/** A one-line description of a run folder (for listings such as the dashboard's). */
export interface RunSummary {
  kind: RunKind;
  title: string;
  smoke: boolean;
  /** When the results were written (provenance), if recorded. */
  createdAt: string | null;
  wallSeconds: number | null;
}

/** `bastion attack --out DIR`'s summary.json. */
export interface AttackSummary extends RobustnessResult {
  format: 'bastion-attack-summary';
  model: { dir: string; architecture: string; classNames?: string[] };
  data: { name: string; set: string; split: string };
  attackOptions: Record<string, unknown>;
  imagesPerSecond?: number;
  comparison: { table: string; source: string; rows: ComparisonRow[] } | null;
  files?: Record<string, string>;
  provenance: Provenance;
}

/** `bastion eval --out DIR`'s eval.json. */
export interface DefenseEvalRecord {
  format: 'bastion-defense-eval';
  classifier: string;
  purifiers: string[];
  ensemble: string | null;
  data: string;
  result: DefenseEvaluation;
  latency: Record<string, Latency> | null;
  provenance: Provenance;
}

/** A run folder's description file, parsed. */
export type RunData =
  | { kind: 'experiment'; file: string; data: ExperimentResults }
  | { kind: 'attack'; file: string; data: AttackSummary }
  | { kind: 'defense-eval'; file: string; data: DefenseEvalRecord };

/** Which description file a folder has (results.json, summary.json or eval.json), or null. */
export function findRunFile(dir: string): { kind: RunKind; file: string } | null {
  for (const r of RUN_FILES) {
    const file = join(dir, r.file);
    if (existsSync(file)) return { kind: r.kind, file };
  }
  return null;
}

/** Reads and checks a run folder's description file; errors name the file and what is wrong. */
export async function loadRun(dir: string): Promise<RunData> {
  const found = findRunFile(dir);
  if (!found) {
    throw new BastionError(`${dir} holds no run results (looked for ${RUN_FILES.map((r) => r.file).join(', ')})`, {
      hint: 'give the --out folder of `bastion reproduce`, `bastion demo`, `bastion attack` or `bastion eval`',
      exitCode: 2,
    });
  }
  // The description file is read at its real path and only if that lies inside the run folder: a
  // symbolic link to a file elsewhere (/etc/hostname) is refused, and parse errors never quote content.
  const real = await resolveFileInside(dir, basename(found.file));
  if (real === null) throw new DataError(found.file, 'is not a regular file');
  const text = await readFile(real, 'utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new DataError(found.file, jsonSyntaxProblem(error, text));
  }
  const expected = RUN_FILES.find((r) => r.kind === found.kind)!.format;
  const format = (parsed as { format?: unknown } | null)?.format;
  if (format !== expected) throw new DataError(found.file, `has format ${JSON.stringify(format)}, expected '${expected}'`);
  const need = (ok: boolean, what: string): void => {
    if (!ok) throw new DataError(found.file, `is incomplete: ${what}`);
  };
  if (found.kind === 'experiment') {
    const r = parsed as ExperimentResults;
    need(typeof r.experiment === 'object' && r.experiment !== null && typeof r.experiment.title === 'string', "'experiment' with a title is missing");
    need(Array.isArray(r.tables), "'tables' must be an array");
    need(typeof r.models === 'object' && r.models !== null && typeof r.evaluations === 'object' && r.evaluations !== null, "'models' and 'evaluations' must be objects");
    return { kind: 'experiment', file: found.file, data: r };
  }
  if (found.kind === 'attack') {
    const r = parsed as AttackSummary;
    need(Array.isArray(r.perEpsilon) && typeof r.cleanAccuracy === 'number', "'perEpsilon' and 'cleanAccuracy' are missing");
    return { kind: 'attack', file: found.file, data: r };
  }
  const r = parsed as DefenseEvalRecord;
  need(typeof r.result === 'object' && r.result !== null && Array.isArray(r.result.epsilons), "'result' with 'epsilons' is missing");
  return { kind: 'defense-eval', file: found.file, data: r };
}

/** The {@link RunSummary} of a loaded run. */
export function summarizeRun(run: RunData): RunSummary {
  if (run.kind === 'experiment') {
    const r = run.data;
    return { kind: run.kind, title: r.experiment.title, smoke: r.smoke === true, createdAt: r.provenance?.createdAt ?? r.startedAt ?? null, wallSeconds: r.wallSeconds ?? null };
  }
  if (run.kind === 'attack') {
    const r = run.data;
    return { kind: run.kind, title: attackTitle(r), smoke: false, createdAt: r.provenance?.createdAt ?? null, wallSeconds: r.wallSeconds ?? null };
  }
  const r = run.data;
  const seconds = Object.values(r.result.seconds ?? {}).reduce((a, b) => a + b, 0);
  return { kind: run.kind, title: defenseEvalTitle(r), smoke: false, createdAt: r.provenance?.createdAt ?? null, wallSeconds: seconds > 0 ? seconds : null };
}

function attackTitle(r: AttackSummary): string {
  return `${r.attack} (${r.threat.norm}${r.threat.targeted ? ', targeted' : ''}) on ${r.model.architecture}, ${r.data.set}`;
}

function defenseEvalTitle(r: DefenseEvalRecord): string {
  return `Defense evaluation: ${r.result.attack} (${r.result.norm}) on ${r.data}, ${Object.keys(r.result.clean.defenses).join(', ')}`;
}

// ---- small HTML helpers ---------------------------------------------------------------------------

const pct = (v: number | null | undefined, digits = 2): string => (typeof v === 'number' && Number.isFinite(v) ? `${(v * 100).toFixed(digits)}%` : '—');
const seconds = (v: number | null | undefined): string => {
  if (typeof v !== 'number' || !Number.isFinite(v)) return '—';
  if (v < 1) return `${(v * 1000).toFixed(0)} ms`;
  if (v < 120) return `${v.toFixed(1)} s`;
  const m = Math.floor(v / 60);
  return m < 120 ? `${m} min ${Math.round(v - m * 60)} s` : `${(v / 3600).toFixed(1)} h`;
};
const num = (v: unknown): string => (typeof v === 'number' && Number.isFinite(v) ? shortNumber(v) : v === null || v === undefined ? '—' : esc(String(v)));
const epsLabel = (v: number): string => shortNumber(v);

/** A slug usable as an HTML id. */
function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'x';
}

interface Column {
  label: string;
  numeric?: boolean;
}

/** A table with a caption, column headers (scope=col) and row headers (scope=row) in the first column. */
function table(caption: string | null, columns: readonly Column[], rows: readonly string[][], className = ''): string {
  const head = `<tr>${columns.map((c) => `<th scope="col"${c.numeric ? ' class="num"' : ''}>${c.label}</th>`).join('')}</tr>`;
  const body = rows.map((cells) => `<tr>${cells.map((cell, i) => (i === 0 ? `<th scope="row">${cell}</th>` : cell.startsWith('<td') ? cell : `<td${columns[i]?.numeric ? ' class="num"' : ''}>${cell}</td>`)).join('')}</tr>`).join('');
  return `<div class="table-wrap"><table${className ? ` class="${className}"` : ''}>${caption ? `<caption>${caption}</caption>` : ''}<thead>${head}</thead><tbody>${body}</tbody></table></div>`;
}

/** A two-column key/value table. */
function keyValues(caption: string | null, entries: readonly [string, string][]): string {
  return table(caption, [{ label: 'field' }, { label: 'value' }], entries.map(([k, v]) => [esc(k), v]), 'kv');
}

/** The background of a difference cell: green above the paper, orange below, deeper for larger gaps. */
function differenceStyle(value: number): string {
  const points = Math.abs(value * 100);
  const alpha = Math.min(0.12 + (points / 20) * 0.5, 0.62).toFixed(2);
  return value >= 0 ? `background: rgba(0, 158, 115, ${alpha})` : `background: rgba(213, 94, 0, ${alpha})`;
}

const DIFFERENCE_LEGEND = '<p class="legend-note">Differences are ours − paper in percentage points (pp): <span class="swatch up">green</span> where ours is higher, ' +
  '<span class="swatch down">orange</span> where it is lower; the deeper the colour, the larger the gap (full at 20 pp).</p>';

/** Renders a resolved table: values through tables.ts's formatCell, difference columns coloured and marked pp. */
export function renderResolvedTable(t: ResolvedTable): string {
  const diffColumn = (c: string): boolean => c.includes(' - ');
  const columns: Column[] = [{ label: '' }, ...t.columns.map((c) => ({ label: esc(diffColumn(c) ? `${c.replace(' - ', ' − ')} (pp)` : c), numeric: true }))];
  const rows = t.rows.map((r) => [esc(r.label), ...t.columns.map((c) => {
    const v = r.values[c] ?? null;
    const text = esc(formatCell(v, c));
    if (diffColumn(c) && typeof v === 'number') return `<td class="num diff" style="${differenceStyle(v)}">${text}</td>`;
    return `<td class="num">${text}</td>`;
  })]);
  const hasDiff = t.columns.some(diffColumn);
  return `<figure class="result-table" id="table-${slug(t.id)}">${table(esc(t.title), columns, rows)}${t.note ? `<figcaption>${esc(t.note)}</figcaption>` : ''}${hasDiff ? DIFFERENCE_LEGEND : ''}</figure>`;
}

// ---- images ---------------------------------------------------------------------------------------

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47];

/** Reads PNGs named relative to the run folder (refusing paths outside it) as data: URIs. */
class ImageSource {
  constructor(readonly root: string) {}

  async dataUri(path: string | undefined): Promise<string | null> {
    if (!path) return null;
    let file: string | null;
    try {
      file = await resolveFileInside(this.root, path);
    } catch (error) {
      if (error instanceof UnsafePathError) return null;
      throw error;
    }
    if (file === null) return null;
    const bytes = await readFile(file);
    if (bytes.length < 8 || PNG_MAGIC.some((b, i) => bytes[i] !== b)) return null;
    return `data:image/png;base64,${bytes.toString('base64')}`;
  }
}

function imgTag(uri: string | null, alt: string, path?: string): string {
  if (uri === null) return `<span class="missing" role="img" aria-label="${esc(alt)} (image missing)">missing${path ? `: ${esc(path)}` : ''}</span>`;
  return `<img src="${uri}" alt="${esc(alt)}">`;
}

function verdictCaption(prediction: number, confidence: number | null, label: number, classNames: readonly string[]): string {
  const ok = prediction === label;
  const name = classNames[prediction] ?? `class ${prediction}`;
  return `<span class="verdict ${ok ? 'ok' : 'bad'}">${ok ? '✓' : '✗'} ${esc(name)}${confidence === null ? '' : ` ${(confidence * 100).toFixed(1)}%`}</span>`;
}

function verdictAlt(what: string, prediction: number, confidence: number | null, label: number, classNames: readonly string[]): string {
  const name = classNames[prediction] ?? `class ${prediction}`;
  return `${what}: predicted ${name}${confidence === null ? '' : ` (${(confidence * 100).toFixed(1)}%)`}, ${prediction === label ? 'correct' : 'wrong'}`;
}

/** The example grid of one evaluation: one block per epsilon (the larger epsilons collapsed when there are many). */
async function renderExampleSet(set: ExampleSet, images: ImageSource): Promise<string> {
  const names = set.classNames ?? [];
  const defenses = [...new Set(set.samples.flatMap((s) => s.perEpsilon.flatMap((e) => Object.keys(e.purified))))];
  const hasCam = set.samples.some((s) => s.cleanGradcam !== undefined || s.perEpsilon.some((e) => e.adversarialGradcam !== undefined));
  const cell = async (image: ExampleImage | undefined, what: string, label: number): Promise<string> => {
    if (!image) return '<td>—</td>';
    const uri = await images.dataUri(image.png);
    return `<td><figure class="tile">${imgTag(uri, verdictAlt(what, image.prediction, image.confidence, label, names), image.png)}<figcaption>${verdictCaption(image.prediction, image.confidence, label, names)}</figcaption></figure></td>`;
  };
  const plain = async (path: string | undefined, alt: string): Promise<string> => {
    if (!path) return '<td>—</td>';
    return `<td><figure class="tile">${imgTag(await images.dataUri(path), alt, path)}</figure></td>`;
  };
  const blocks: string[] = [];
  const openAll = set.epsilons.length <= 3;
  for (const [e, epsilon] of set.epsilons.entries()) {
    const columns: Column[] = [{ label: 'sample' }, { label: 'clean' }, { label: `adversarial (ε ${epsLabel(epsilon)})` }, { label: `perturbation ×${shortNumber(set.amplification)}` }];
    if (hasCam) columns.push({ label: 'Grad-CAM clean' }, { label: 'Grad-CAM adversarial' });
    for (const d of defenses) columns.push({ label: `purified by ${esc(d)}` });
    const rows: string[][] = [];
    for (const s of set.samples) {
      const at = s.perEpsilon[e];
      const trueName = names[s.label] ?? `class ${s.label}`;
      const row = [`#${s.index}<br><span class="true-label">true: ${esc(trueName)}</span>`, await cell(s.clean, `clean test image ${s.index}`, s.label)];
      row.push(await cell(at?.adversarial, `adversarial image ${s.index} at epsilon ${epsLabel(epsilon)}`, s.label));
      row.push(await plain(at?.perturbation, `perturbation of image ${s.index} at epsilon ${epsLabel(epsilon)}, amplified ${shortNumber(set.amplification)} times, mid-grey is zero`));
      if (hasCam) {
        row.push(await plain(s.cleanGradcam, `Grad-CAM of the classifier on clean image ${s.index}`));
        row.push(await plain(at?.adversarialGradcam, `Grad-CAM of the classifier on adversarial image ${s.index} at epsilon ${epsLabel(epsilon)}`));
      }
      for (const d of defenses) row.push(await cell(at?.purified[d], `adversarial image ${s.index} purified by ${d}`, s.label));
      rows.push(row);
    }
    const open = openAll || e === set.epsilons.length - 1 ? ' open' : '';
    blocks.push(`<details class="examples"${open}><summary>ε = ${epsLabel(epsilon)}</summary>${table(null, columns, rows, 'grid')}</details>`);
  }
  const note = `<p class="note">${set.samples.length} test images attacked with ${esc(set.attack)} on the undefended classifier (the gray-box examples); ` +
    `captions give the predicted class and its softmax confidence, <span class="verdict ok">✓ green</span> when correct, <span class="verdict bad">✗ red</span> when wrong. ` +
    `Perturbations are amplified ${shortNumber(set.amplification)}× (mid-grey = no change)${defenses.length ? '; purified columns are the defended model\'s verdicts' : ''}.</p>`;
  return `<div class="example-set"><h4>Examples</h4>${note}${blocks.join('')}</div>`;
}

async function readExampleSet(root: string, evaluation: string): Promise<ExampleSet | null> {
  let file: string | null;
  try {
    file = await resolveFileInside(root, `examples/${evaluation}.json`);
  } catch (error) {
    if (error instanceof UnsafePathError) return null;
    throw error;
  }
  if (file === null) return null;
  try {
    const set = JSON.parse(await readFile(file, 'utf8')) as ExampleSet;
    return Array.isArray(set.samples) && Array.isArray(set.epsilons) ? set : null;
  } catch {
    return null;
  }
}

// ---- charts ---------------------------------------------------------------------------------------

const ACCURACY_AXES = { xLabel: 'ε (L∞, pixel units in [0, 1])', yLabel: 'accuracy', yDomain: [0, 1] as [number, number], yFormat: percentTick };

/** Accuracy against epsilon, with eps 0 taken from the clean accuracy when the sweep does not include it. */
function sweep(epsilons: readonly number[], values: readonly (number | null | undefined)[], clean: number | null | undefined): Point[] {
  const points = epsilons.map((x, i) => ({ x, y: values[i] })).filter((p): p is Point => typeof p.y === 'number');
  if (typeof clean === 'number' && !epsilons.includes(0)) points.unshift({ x: 0, y: clean });
  return points;
}

/**
 * The paper's values of an experiment's tables, placed on an evaluation's curves: for each pair of
 * difference columns [ours, paper], a row whose "ours" cell reads `<series>[i]...` of evaluation E
 * puts the row's paper value at E's i-th epsilon on series `<series>` (e.g. `perEpsilon`,
 * `grayBox.defenses.cae`, `grayBox.source`).
 */
export function paperPoints(results: ExperimentResults): Map<string, Map<string, Point[]>> {
  const out = new Map<string, Map<string, Point[]>>();
  const specs: TableSpec[] = results.experiment.tables ?? [];
  for (const spec of specs) {
    const resolved = results.tables.find((t) => t.id === spec.id);
    if (!resolved) continue;
    for (const [oursColumn, paperColumn] of spec.differences ?? []) {
      spec.rows.forEach((row, r) => {
        const cell = row.cells[oursColumn] as CellSpec | undefined;
        if (!cell || !('result' in cell)) return;
        const match = /^(.*?)\[(\d+)\](?:\.accuracy)?$/.exec(cell.path);
        if (!match) return;
        const [, series, index] = match as unknown as [string, string, string];
        const evaluation = results.evaluations[cell.result];
        const epsilons = (evaluation?.result as { epsilons?: number[]; threat?: { epsilons?: number[] } } | undefined);
        const grid = epsilons?.epsilons ?? epsilons?.threat?.epsilons;
        const x = grid?.[Number(index)];
        const y = resolved.rows[r]?.values[paperColumn];
        if (typeof x !== 'number' || typeof y !== 'number') return;
        const bySeries = out.get(cell.result) ?? new Map<string, Point[]>();
        out.set(cell.result, bySeries);
        const points = bySeries.get(series) ?? [];
        if (!points.some((p) => p.x === x)) points.push({ x, y });
        bySeries.set(series, points);
      });
    }
  }
  return out;
}

const MODE_STYLE: Record<string, { dash?: string; label: string }> = {
  'gray-box': { label: 'gray-box (crafted on the classifier, then purified)' },
  'white-box': { dash: '7 4', label: 'white-box (through purifier and classifier)' },
  bpda: { dash: '2 3', label: 'BPDA (purifier as identity on the backward pass)' },
  eot: { dash: '10 3 2 3', label: 'EOT (averaged over latent noise)' },
};

// ---- evaluations ----------------------------------------------------------------------------------

function robustnessSection(name: string, r: RobustnessResult, paper: Map<string, Point[]> | undefined, comparison: ComparisonRow[] | null): string {
  const eps = r.perEpsilon.map((e) => e.epsilon);
  const series: Series[] = [
    { name: 'accuracy (ours)', points: sweep(eps, r.perEpsilon.map((e) => e.accuracy), r.cleanAccuracy) },
    { name: 'attack success rate', points: r.perEpsilon.map((e) => ({ x: e.epsilon, y: e.successRate })), dash: '6 4' },
  ];
  const paperSeries = paper?.get('perEpsilon') ?? comparison?.filter((c) => c.paper !== null).map((c) => ({ x: c.epsilon, y: c.paper as number })) ?? [];
  if (paperSeries.length > 0) series.push({ name: 'paper', points: paperSeries, markersOnly: true, color: '#000000', marker: 'star' });
  const chart = lineChart({ title: `${name}: ${r.attack} accuracy against ε`, ...ACCURACY_AXES, yLabel: 'accuracy / success rate', series, description: `${r.samples} images.` });
  const rows = r.perEpsilon.map((e) => [
    esc(epsLabel(e.epsilon)), pct(e.accuracy), pct(e.successRate), pct(e.successRateOnCorrect),
    num(e.norms.mean), num(e.norms.median), num(e.norms.max), String(e.norms.count),
  ]);
  const t = table(`${esc(r.attack)} (${esc(r.threat.norm)}${r.threat.targeted ? ', targeted' : ''}) on ${r.samples} images; clean accuracy ${pct(r.cleanAccuracy)}`, [
    { label: 'ε' }, { label: 'accuracy', numeric: true }, { label: 'success', numeric: true }, { label: 'success on clean-correct', numeric: true },
    { label: `mean ${esc(r.threat.norm)} norm`, numeric: true }, { label: 'median norm', numeric: true }, { label: 'max norm', numeric: true }, { label: 'broken', numeric: true },
  ], rows);
  const facts = `<p class="facts">${r.gradientEvaluations} gradient and ${r.forwardEvaluations} forward evaluations; attack ${seconds(r.attackSeconds)} of ${seconds(r.wallSeconds)} wall` +
    `${r.attackSeconds > 0 ? ` (${Math.round(r.samples / r.attackSeconds)} images/s)` : ''}; bounds ${r.threat.bounds ? `[${r.threat.bounds.join(', ')}]` : 'none'}${r.excluded ? `; ${r.excluded} left out (target = label)` : ''}.</p>`;
  return `<div class="chart-row">${chart}</div>${t}${facts}`;
}

function defenseSection(name: string, r: DefenseEvaluation, paper: Map<string, Point[]> | undefined): string {
  const defenses = Object.keys(r.clean.defenses);
  const modes = r.modes;
  const valuesOf = (mode: string, defense: string): (number | undefined)[] =>
    mode === 'gray-box' ? r.grayBox?.defenses[defense] ?? [] : (r.adaptive as Record<string, Record<string, number[]> | undefined>)[mode]?.[defense] ?? [];
  const charts = defenses.map((d) => {
    const series: Series[] = [];
    if (r.grayBox) series.push({ name: 'no defense (gray-box)', points: sweep(r.epsilons, r.grayBox.source, r.clean.source), color: '#777777', dash: '1 3', marker: 'cross' });
    modes.forEach((m, i) => {
      series.push({ name: `${d}: ${MODE_STYLE[m]?.label ?? m}`, points: sweep(r.epsilons, valuesOf(m, d), r.clean.defenses[d]), color: ['#0072B2', '#D55E00', '#009E73', '#CC79A7'][i % 4] as string, ...(MODE_STYLE[m]?.dash ? { dash: MODE_STYLE[m]!.dash as string } : {}) });
    });
    const paperDefense = paper?.get(`grayBox.defenses.${d}`);
    if (paperDefense?.length) series.push({ name: `paper: ${d} (gray-box)`, points: paperDefense, markersOnly: true, color: '#000000', marker: 'star' });
    const paperSource = paper?.get('grayBox.source');
    if (paperSource?.length) series.push({ name: 'paper: no defense', points: paperSource, markersOnly: true, color: '#777777', marker: 'diamond' });
    return lineChart({ title: `${name}: ${d} under ${r.attack}`, ...ACCURACY_AXES, series, description: `${r.samples} images; ε 0 is the clean accuracy.` });
  });
  const columns: Column[] = [{ label: 'model' }, { label: 'threat model' }, { label: 'clean', numeric: true }, ...r.epsilons.map((e) => ({ label: `ε ${esc(epsLabel(e))}`, numeric: true }))];
  const rows: string[][] = [];
  if (r.grayBox) rows.push(['no defense', 'gray-box', pct(r.clean.source), ...r.grayBox.source.map((v) => pct(v))]);
  for (const d of defenses) for (const m of modes) rows.push([esc(d), esc(m), pct(r.clean.defenses[d]), ...r.epsilons.map((_, i) => pct(valuesOf(m, d)[i]))]);
  const t = table(`Accuracy under ${esc(r.attack)} (${esc(r.norm)}) on ${r.samples} images${Object.keys(r.attackOptions ?? {}).length ? `, options ${esc(JSON.stringify(r.attackOptions))}` : ''}`, columns, rows);
  const notes = r.notes?.length ? `<ul class="notes">${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  const times = `<p class="facts">Time per threat model: ${Object.entries(r.seconds ?? {}).map(([m, s]) => `${esc(m)} ${seconds(s)}`).join(', ')}.</p>`;
  return `<div class="chart-row">${charts.join('')}</div>${t}${notes}${times}`;
}

/** The section title of the indicators of attack failure. */
export const TRUST_TITLE = 'Can this number be trusted?';

/**
 * The indicators of attack failure (src/eval/indicators.ts) as a table of flags, or a line saying
 * which were checked and stayed quiet; null when the results predate the indicators. Every field is
 * escaped (the JSON may come from anywhere).
 */
export function trustSection(report: IndicatorReport | undefined): string | null {
  if (report === undefined || report === null || typeof report !== 'object') return null;
  const flags = Array.isArray(report.flags) ? report.flags : [];
  const checked = Array.isArray(report.checked) ? report.checked.map((c) => `<code>${esc(String(c))}</code>`).join(', ') : '—';
  const probe = typeof report.probedImages === 'number' && report.probedImages > 0 ? ` The model probe ran on ${esc(String(report.probedImages))} images.` : '';
  const lead = `<p>Indicators of attack failure (Pintor et al., NeurIPS 2022; AutoAttack's checks): signs that the attack, not the model, failed. Checked: ${checked}.${probe}</p>`;
  if (flags.length === 0) return `${lead}<p class="ok">No indicator was raised.</p>`;
  const rows = flags.map((f) => {
    const images = Array.isArray(f.images) && f.images.length > 0
      ? `${f.images.map((i) => esc(String(i))).join(', ')}${typeof f.imageCount === 'number' && f.imageCount > f.images.length ? ` (${esc(String(f.imageCount))} in all)` : ''}`
      : '—';
    return [`<code>${esc(String(f.id))}</code>`, esc(String(f.severity)), esc(String(f.message)), images, esc(String(f.advice))];
  });
  return lead + table(`${flags.length} indicator${flags.length === 1 ? '' : 's'} raised`, [{ label: 'indicator' }, { label: 'severity' }, { label: 'what was seen' }, { label: 'images' }, { label: 'what to run instead' }], rows);
}

function latencySection(entries: Record<string, Latency>): string {
  const rows = Object.entries(entries).map(([model, l]) => [
    esc(model), `${(l.perImageBatch1 * 1000).toFixed(3)} ms`, `${(l.perImageAmortised * 1000).toFixed(4)} ms`, String(l.batchSize), `${l.runs?.batch1 ?? '—'} / ${l.runs?.batched ?? '—'}`,
  ]);
  return table('Inference latency (medians)', [
    { label: 'model' }, { label: 'per image at batch 1', numeric: true }, { label: 'per image, amortised', numeric: true }, { label: 'batch size', numeric: true }, { label: 'timed runs (batch 1 / batched)', numeric: true },
  ], rows);
}

/** Paper 004 Table 6 of one model: accuracy against the attack's iteration count (PGD-k, CW-k), FGSM and clean. */
function table6Section(name: string, r: Table6Result): string {
  const series: Series[] = [
    { name: 'PGD-k', points: r.iterations.map((k) => ({ x: k, y: r.columns[`pgd${k}`] as number })) },
    { name: 'CW-k', points: r.iterations.map((k) => ({ x: k, y: r.columns[`cw${k}`] as number })), dash: '6 4' },
  ];
  const chart = lineChart({
    title: `${name}: accuracy against attack iterations (ε ${epsLabel(r.eps)})`, xLabel: 'iterations k', yLabel: 'accuracy', yDomain: [0, 1], yFormat: percentTick,
    series, description: `${r.samples} images; PGD and CW steps of ${shortNumber(r.stepSize)} from a random start.`,
  });
  const keys = Object.keys(r.columns);
  const t = table(`Accuracy on ${r.samples} test images at ε ${esc(epsLabel(r.eps))} (step ${esc(shortNumber(r.stepSize))})`, keys.map((k) => ({ label: esc(k), numeric: true })), [keys.map((k) => pct(r.columns[k]))]);
  const times = `<p class="facts">Wall time: ${Object.entries(r.seconds).map(([k, v]) => `${esc(k)} ${seconds(v)}`).join(', ')}.</p>`;
  return `<div class="chart-row">${chart}</div>${t}${times}`;
}

/** Paper 004 Table 7 analogue: accuracy on the clean-correct images under each attack with and without A3. */
function a3Section(name: string, r: A3EvaluationResult): string {
  // Older results (before the paired comparison was recorded) have no `paired`.
  const paired = (c: A3EvaluationResult['rows'][number]['paired'] | undefined, key: 'iterStepLL' | 'pgd'): string => (c ? esc(formatPairedComparison(c[key])) : '—');
  const rows = r.rows.map((row) => [
    esc(epsLabel(row.eps)), pct(row.iterStepLL), pct(row.iterStepLLA3), paired(row.paired, 'iterStepLL'), pct(row.pgd), pct(row.pgdA3), paired(row.paired, 'pgd'),
  ]);
  const t = table(`${esc(name)}: accuracy on I_att (${r.iatt} clean-correct of ${r.samples} images), ${r.steps} iterations, σ ${r.sigma}`, [
    { label: 'ε' }, { label: 'Iter-StepLL', numeric: true }, { label: 'Iter-StepLL + A3', numeric: true }, { label: 'only A3 / only plain broke', numeric: true },
    { label: 'PGD', numeric: true }, { label: 'PGD + A3', numeric: true }, { label: 'only A3 / only plain broke', numeric: true },
  ], rows);
  return `${t}<p class="facts">Lower is a stronger attack; the A3 columns add the attention-deviation term (paper 004 eq. 11-13) to the same attack, steps and seed. ` +
    'The counts are the clean-correct images only the A3 variant broke and only the plain attack broke, with the exact two-sided McNemar p of that split: a small p with more A3-only images shows A3 stronger.</p>';
}

/** Paper 004 Table 3 analogue: IoU of the clean and adversarial attention areas, successful vs failed attacks. */
function attentionSection(name: string, r: AttentionAnalysisResult): string {
  const cells = r.rows[0]?.iou.map((c) => c.cells) ?? [];
  const rows = r.rows.flatMap((row) => [
    [esc(epsLabel(row.eps)), `succeeded (${row.succeeded})`, ...row.iou.map((c) => (c.succeed === null ? '—' : c.succeed.toFixed(3)))],
    [esc(epsLabel(row.eps)), `failed (${row.failed})`, ...row.iou.map((c) => (c.fail === null ? '—' : c.fail.toFixed(3)))],
  ]);
  return table(`${esc(name)}: mean IoU of the top-k Grad-CAM cells (${esc(r.layer)}, ${r.grid.join('×')} grid), clean vs StepLL-adversarial`, [
    { label: 'ε' }, { label: 'attack' }, ...cells.map((k) => ({ label: `${k} cells`, numeric: true })),
  ], rows);
}

function rawSection(result: unknown): string {
  const text = JSON.stringify(result, null, 2) ?? 'null';
  const shown = text.length > 20000 ? `${text.slice(0, 20000)}\n… (${text.length - 20000} more characters in results.json)` : text;
  return `<details><summary>result (JSON)</summary><pre>${esc(shown)}</pre></details>`;
}

// ---- training curves ------------------------------------------------------------------------------

/** Training-curve charts of a per-epoch history: losses/errors, accuracies, and any other metrics. */
export function trainingCharts(modelId: string, history: readonly Record<string, unknown>[]): string[] {
  if (history.length === 0) return [];
  const keys = [...new Set(history.flatMap((h) => Object.keys(h)))].filter((k) => !['epoch', 'lr', 'seconds', 'step', 'steps'].includes(k) && history.some((h) => typeof h[k] === 'number'));
  const x = (h: Record<string, unknown>, i: number): number => (typeof h['epoch'] === 'number' ? (h['epoch'] as number) + 1 : i + 1);
  const seriesOf = (k: string, i: number): Series => ({
    name: k.replace(/_/g, ' '), points: history.map((h, j) => ({ x: x(h, j), y: h[k] as number })).filter((p) => typeof p.y === 'number'),
    ...(k.startsWith('val') ? { dash: '6 4' } : {}), color: ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9'][i % 6] as string,
  });
  const groups: { title: string; yLabel: string; keys: string[]; percent: boolean }[] = [
    { title: 'loss', yLabel: 'loss / error', keys: keys.filter((k) => /loss|mse|error/i.test(k)), percent: false },
    { title: 'accuracy', yLabel: 'accuracy', keys: keys.filter((k) => /acc/i.test(k)), percent: true },
  ];
  const used = new Set(groups.flatMap((g) => g.keys));
  const other = keys.filter((k) => !used.has(k));
  if (other.length) groups.push({ title: 'other metrics', yLabel: 'value', keys: other, percent: false });
  return groups.filter((g) => g.keys.length > 0).map((g) => lineChart({
    title: `${modelId}: ${g.title} per epoch`, xLabel: 'epoch', yLabel: g.yLabel, series: g.keys.map(seriesOf), width: 420,
    ...(g.percent ? { yFormat: percentTick } : {}),
    xFormat: (v) => (Number.isInteger(v) ? String(v) : ''),
  }));
}

/** The training record's fields as rows (epochs counted from 1, as in the charts); `skip` names fields shown elsewhere. */
function trainingRecordRows(training: Record<string, unknown> | null, epochs: number, skip: readonly string[]): [string, string][] {
  if (!training) return [];
  const rows: [string, string][] = [];
  for (const [k, v] of Object.entries(training)) {
    if (v === null || v === undefined || skip.includes(k)) continue;
    if (k === 'bestEpoch' && typeof v === 'number') rows.push(['best epoch', `${v + 1}${epochs > 0 ? ` of ${epochs}` : ''}`]);
    else if (typeof v === 'number') rows.push([k, /accuracy/i.test(k) ? pct(v) : /seconds/i.test(k) ? seconds(v) : num(v)]);
    else if (typeof v === 'string' || typeof v === 'boolean') rows.push([k, esc(String(v))]);
    else rows.push([k, `<code>${esc(JSON.stringify(v))}</code>`]);
  }
  return rows;
}

// ---- provenance -----------------------------------------------------------------------------------

function provenanceRows(p: Provenance | undefined): [string, string][] {
  if (!p) return [['provenance', 'not recorded']];
  return [
    ['git revision', `<code>${esc(p.gitRevision ?? 'not a git checkout')}</code>${p.gitRevision?.endsWith('-dirty') ? ' <span class="warn">(uncommitted changes)</span>' : ''}`],
    ['Bastion', esc(p.bastionVersion)], ['libtorch', esc(p.torchVersion)], ['Node.js', esc(p.node)],
    ['machine', esc(`${p.machine.hostname}: ${p.machine.cpus} × ${p.machine.cpuModel}, ${p.machine.platform}/${p.machine.arch}`)],
    ...(p.seed === undefined ? [] : [['seed', String(p.seed)] as [string, string]]),
    ...(p.command ? [['command', `<code>${esc(p.command)}</code>`] as [string, string]] : []),
    ['written', esc(p.createdAt)],
  ];
}

// ---- page -----------------------------------------------------------------------------------------

const CSS = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #5a5a5f; --line: #d9d9de; --ok: #11703a; --bad: #b3261e; --accent: #0b57a4; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: #fafafa; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 64px; background: #fff; }
h1 { font-size: 26px; margin: 8px 0 4px; } h2 { font-size: 21px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 17px; margin: 26px 0 8px; } h4 { font-size: 15px; margin: 16px 0 6px; }
a { color: var(--accent); } code { font: 13px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #f3f3f6; padding: 1px 4px; border-radius: 3px; word-break: break-all; }
pre { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; background: #f6f6f8; padding: 10px; overflow: auto; max-height: 420px; }
.lead { color: var(--muted); margin: 4px 0 12px; max-width: 900px; }
.banner { margin: 14px 0; padding: 14px 18px; border: 3px solid #b26a00; background: #fff4dc; color: #5c3700; font-weight: 700; font-size: 18px; border-radius: 6px; }
.banner small { display: block; font-weight: 400; font-size: 14px; margin-top: 4px; }
nav.toc { background: #f5f7fa; border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; margin: 16px 0; }
nav.toc ol { margin: 4px 0; padding-left: 22px; columns: 2; } nav.toc a { text-decoration: none; }
.table-wrap { overflow-x: auto; margin: 10px 0; }
table { border-collapse: collapse; font-size: 14px; }
caption { text-align: left; font-weight: 600; padding: 4px 0 6px; color: #333; }
th, td { border: 1px solid var(--line); padding: 4px 9px; vertical-align: middle; }
thead th { background: #eef1f5; text-align: left; } tbody tr:nth-child(even) { background: #fafbfc; }
th[scope=row] { text-align: left; font-weight: 600; background: #f7f8fa; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.diff { font-weight: 600; }
table.kv td { text-align: left; } table.kv thead { display: none; }
.legend-note, .note, .facts, figcaption { color: var(--muted); font-size: 13px; }
.swatch { padding: 0 5px; border-radius: 3px; } .swatch.up { background: rgba(0,158,115,.45); } .swatch.down { background: rgba(213,94,0,.45); }
figure { margin: 0; }
.result-table { margin: 16px 0 22px; }
.chart-row { display: flex; flex-wrap: wrap; gap: 14px; margin: 10px 0; }
svg.chart { background: #fff; border: 1px solid #ececf0; border-radius: 6px; max-width: 100%; height: auto; font-family: system-ui, "DejaVu Sans", sans-serif; }
details.examples { margin: 8px 0; border: 1px solid var(--line); border-radius: 6px; padding: 4px 10px; }
details.examples > summary { cursor: pointer; font-weight: 600; padding: 4px 0; }
table.grid td, table.grid th { text-align: center; padding: 4px; }
table.grid th[scope=row] { font-weight: 400; font-size: 13px; }
figure.tile img { width: 84px; height: 84px; image-rendering: pixelated; display: block; margin: 0 auto; border: 1px solid #ccc; }
figure.tile figcaption { margin-top: 2px; }
.verdict { font-size: 12px; font-weight: 600; } .verdict.ok { color: var(--ok); } .verdict.bad { color: var(--bad); }
.true-label { color: var(--muted); font-size: 12px; }
.missing { display: inline-block; width: 84px; font-size: 11px; color: var(--bad); word-break: break-all; }
.warn { color: var(--bad); }
.model { border-top: 1px solid var(--line); padding-top: 6px; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
.back { font-size: 14px; }
@media print { details.examples { break-inside: avoid; } nav.toc { display: none; } body { background: #fff; } }
`;

/** Options of {@link renderReport}. */
export interface RenderReportOptions {
  /** A link shown above the title (the dashboard uses it to link back to the run list). */
  backLink?: { href: string; label: string };
}

interface Section {
  id: string;
  title: string;
  html: string;
}

function page(title: string, lead: string, smokeBanner: boolean, sections: Section[], options: RenderReportOptions, generatedFrom: string): string {
  const toc = `<nav class="toc" aria-label="Contents"><strong>Contents</strong><ol>${sections.map((s) => `<li><a href="#${s.id}">${esc(s.title)}</a></li>`).join('')}</ol></nav>`;
  const banner = smokeBanner
    ? '<div class="banner" role="alert">SMOKE RUN<small>Tiny data and few epochs: these numbers check that the pipeline works end to end; they are not comparable with the papers\'.</small></div>'
    : '';
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; style-src 'unsafe-inline'">
<title>${esc(title)}${smokeBanner ? ' (smoke run)' : ''} — Bastion report</title>
<style>${CSS}</style>
</head>
<body>
<main>
${options.backLink ? `<p class="back"><a href="${esc(options.backLink.href)}">← ${esc(options.backLink.label)}</a></p>` : ''}
<header><p class="lead">Bastion report</p><h1>${esc(title)}</h1>${banner}<p class="lead">${lead}</p></header>
${toc}
${sections.map((s) => `<section id="${s.id}" aria-labelledby="${s.id}-h"><h2 id="${s.id}-h">${esc(s.title)}</h2>${s.html}</section>`).join('\n')}
<footer>Rendered by <code>bastion report</code> from ${esc(generatedFrom)}; every number comes from that file, none is recomputed.</footer>
</main>
</body>
</html>
`;
}

async function experimentReport(dir: string, r: ExperimentResults, options: RenderReportOptions): Promise<string> {
  const images = new ImageSource(dir);
  const paper = paperPoints(r);
  const e = r.experiment;
  const sections: Section[] = [];
  const lead = `${esc(e.description)}<br>Experiment <code>${esc(e.name)}</code> v${e.version}, papers ${e.papers.map(esc).join(', ')}; ` +
    `config hash <code>${esc(r.configHash)}</code>; started ${esc(r.startedAt)}, wall time ${seconds(r.wallSeconds)}.`;

  if (r.tables.length > 0) sections.push({ id: 'tables', title: 'Tables: paper, ours, difference', html: r.tables.map(renderResolvedTable).join('') });

  const evalHtml: string[] = [];
  for (const spec of e.evaluations) {
    const ev = r.evaluations[spec.id];
    if (!ev) {
      evalHtml.push(`<h3 id="eval-${slug(spec.id)}">${esc(spec.id)}</h3><p class="note">Not run in this results file (e.g. left out with --only).</p>`);
      continue;
    }
    const head = `<h3 id="eval-${slug(spec.id)}">${esc(spec.id)} <small>(${esc(ev.type)}, ${seconds(ev.seconds)})</small></h3>`;
    const s = spec as Record<string, unknown>;
    const what = [s['model'] ?? s['classifier'], (s['purifiers'] as string[] | undefined)?.length ? `behind ${(s['purifiers'] as string[]).join(', ')}` : null, s['data'] ? `on ${String(s['data'])}` : null, s['limit'] ? `(first ${String(s['limit'])} test images)` : null]
      .filter((x) => x !== null && x !== undefined).map((x) => esc(String(x))).join(' ');
    let body: string;
    if (ev.type === 'attack') body = robustnessSection(spec.id, ev.result as RobustnessResult, paper.get(spec.id), null);
    else if (ev.type === 'defense') body = defenseSection(spec.id, ev.result as DefenseEvaluation, paper.get(spec.id));
    else if (ev.type === 'latency') body = latencySection(ev.result as Record<string, Latency>);
    else if (ev.type === 'table6') body = table6Section(spec.id, ev.result as Table6Result);
    else if (ev.type === 'a3') body = a3Section(spec.id, ev.result as A3EvaluationResult);
    else if (ev.type === 'attention') body = attentionSection(spec.id, ev.result as AttentionAnalysisResult);
    else body = rawSection(ev.result);
    const examples = await readExampleSet(dir, spec.id);
    evalHtml.push(`${head}${what ? `<p class="lead">${what}</p>` : ''}${body}${examples ? await renderExampleSet(examples, images) : ''}`);
  }
  if (evalHtml.length > 0) sections.push({ id: 'evaluations', title: 'Evaluations: accuracy against ε, examples, latency', html: evalHtml.join('') });

  const modelHtml: string[] = [];
  for (const spec of e.models) {
    const m = r.models[spec.id];
    if (!m) continue;
    const facts: [string, string][] = [
      ['kind', esc(spec.kind)], ['architecture', esc(spec.architecture)], ['data', esc(spec.data)],
      ...(spec.mode ? [['purifier training mode', esc(spec.mode)] as [string, string]] : []),
      ...(spec.classifier ? [['crafted against', esc(spec.classifier)] as [string, string]] : []),
      ...(spec.limit !== undefined ? [['training images (limit)', String(spec.limit)] as [string, string]] : []),
      ['checkpoint', `<code>${esc(m.dir)}</code>`], ['cached', m.cached ? 'yes (trained by an earlier run)' : 'no (trained in this run)'], ['time in this run', seconds(m.seconds)],
      ...trainingRecordRows(m.training, m.history?.length ?? 0, m.training?.['data'] === spec.data ? ['data'] : []),
    ];
    const charts = trainingCharts(spec.id, m.history ?? []);
    modelHtml.push(`<div class="model" id="model-${slug(spec.id)}"><h3>${esc(spec.id)}</h3>${charts.length ? `<div class="chart-row">${charts.join('')}</div>` : '<p class="note">No per-epoch history recorded.</p>'}${keyValues(`Training record of ${esc(spec.id)}`, facts)}</div>`);
  }
  if (modelHtml.length > 0) sections.push({ id: 'models', title: 'Models and training curves', html: modelHtml.join('') });

  const timing = table('Wall time', [{ label: 'step' }, { label: 'kind' }, { label: 'seconds', numeric: true }], [
    ...Object.entries(r.models).map(([id, m]) => [esc(id), `model${m.cached ? ' (cached)' : ' (trained)'}`, seconds(m.seconds)]),
    ...Object.entries(r.evaluations).map(([id, ev]) => [
      esc(id), `evaluation (${esc(ev.type)})${ev.reused ? `, ${reusedNote(ev, r.startedAt)}` : ''}`, seconds(ev.seconds),
    ]),
    ['total', 'run', seconds(r.wallSeconds)],
  ]);
  sections.push({ id: 'provenance', title: 'Provenance and timings', html: keyValues('Where these numbers come from', provenanceRows(r.provenance)) + timing });
  return page(e.title, lead, r.smoke === true, sections, options, 'results.json');
}

/** When and by which code a reused evaluation was computed (its age counted from this run's start). */
function reusedNote(ev: ExperimentResults['evaluations'][string], startedAt: string): string {
  const finished = ev.reused?.finishedAt ?? null;
  const when = finished === null ? 'at an unknown time' : `${esc(finished)} (${esc(age(finished, Date.parse(startedAt)).replace(/ ago$/, ''))} before this run)`;
  return `reused from an earlier run finished ${when} by code ${ev.codeVersion ? `<code>${esc(ev.codeVersion)}</code>` : 'of unknown version'}`;
}

async function attackGrid(dir: string, r: AttackSummary, limit = 8): Promise<string> {
  let file: string | null;
  try {
    file = await resolveFileInside(dir, r.files?.['examples'] ?? 'examples.safetensors');
  } catch (error) {
    if (!(error instanceof UnsafePathError)) throw error;
    file = null;
  }
  if (file === null) {
    const grid = await new ImageSource(dir).dataUri(r.files?.['grid'] ?? 'grid.png');
    return grid ? `<figure>${imgTag(grid, `grid of original, adversarial and perturbation images per epsilon for ${r.attack}`)}<figcaption>grid.png written by bastion attack</figcaption></figure>` : '';
  }
  // The tensors are the stored examples; turning them into pictures is presentation, not recomputation.
  const { readSafetensors } = await import('../io/safetensors.js');
  const { scope } = await import('../tensor/index.js');
  const { tensorToPng } = await import('../io/image-tensor.js');
  const { tensors, metadata } = await readSafetensors(file);
  try {
    const names: string[] = r.model.classNames ?? (metadata['classNames'] ? JSON.parse(metadata['classNames']) as string[] : []);
    const epsilons = r.threat.epsilons;
    const amplification = 1 / Math.max(...epsilons.filter((e) => e > 0), 1e-6);
    const uri = (bytes: Uint8Array): string => `data:image/png;base64,${Buffer.from(bytes).toString('base64')}`;
    const rows = scope(() => {
      const original = tensors.get('original');
      const labels = tensors.get('label')?.toNumbers() ?? [];
      if (!original) return [];
      const n = Math.min(limit, original.shape[0] as number);
      return Array.from({ length: n }, (_, i) => {
        const x = original.select(0, i);
        const label = labels[i] as number;
        const clean = tensors.get('clean_prediction')?.select(0, i).item() ?? null;
        const cells = [`#${i}<br><span class="true-label">true: ${esc(names[label] ?? `class ${label}`)}</span>`,
          `<td><figure class="tile">${imgTag(uri(tensorToPng(x)), `test image ${i}`)}${clean === null ? '' : `<figcaption>${verdictCaption(clean, null, label, names)}</figcaption>`}</figure></td>`];
        for (const eps of epsilons) {
          const adv = tensors.get(`adversarial@${eps}`)?.select(0, i);
          const predicted = tensors.get(`prediction@${eps}`)?.select(0, i).item();
          if (!adv || predicted === undefined) {
            cells.push('<td>—</td>', '<td>—</td>');
            continue;
          }
          const delta = adv.sub(x).mul(amplification * 0.5).add(0.5).clamp(0, 1);
          cells.push(`<td><figure class="tile">${imgTag(uri(tensorToPng(adv)), verdictAlt(`adversarial image ${i} at epsilon ${epsLabel(eps)}`, predicted, null, label, names))}<figcaption>${verdictCaption(predicted, null, label, names)}</figcaption></figure></td>`);
          cells.push(`<td><figure class="tile">${imgTag(uri(tensorToPng(delta)), `perturbation of image ${i} at epsilon ${epsLabel(eps)}, amplified ${shortNumber(amplification)} times`)}</figure></td>`);
        }
        return cells;
      });
    });
    if (rows.length === 0) return '';
    const columns: Column[] = [{ label: 'sample' }, { label: 'clean' }, ...epsilons.flatMap((e) => [{ label: `adversarial ε ${esc(epsLabel(e))}` }, { label: `perturbation ×${shortNumber(amplification)}` }])];
    return `<p class="note">The first ${rows.length} stored examples (examples.safetensors); captions are the predicted classes (the file stores no confidences), ` +
      `<span class="verdict ok">✓ green</span> correct, <span class="verdict bad">✗ red</span> wrong; perturbations amplified ${shortNumber(amplification)}×, mid-grey = no change.</p>${table(null, columns, rows, 'grid')}`;
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
}

async function attackReport(dir: string, r: AttackSummary, options: RenderReportOptions): Promise<string> {
  const sections: Section[] = [];
  const comparisonTable: ResolvedTable | null = r.comparison ? {
    id: r.comparison.table, title: `${r.comparison.table} (${r.comparison.source})`, columns: ['paper', 'ours', 'ours - paper'],
    rows: r.comparison.rows.map((c) => ({ label: `ε ${epsLabel(c.epsilon)}`, values: { paper: c.paper, ours: c.ours, 'ours - paper': c.diff } })),
  } : null;
  sections.push({ id: 'robustness', title: 'Accuracy against ε', html: robustnessSection(r.attack, r, undefined, r.comparison?.rows ?? null) + (comparisonTable ? renderResolvedTable(comparisonTable) : '') });
  const trust = trustSection(r.indicators);
  if (trust !== null) sections.push({ id: 'trust', title: TRUST_TITLE, html: trust });
  const grid = await attackGrid(dir, r);
  if (grid) sections.push({ id: 'examples', title: 'Examples', html: grid });
  sections.push({
    id: 'provenance', title: 'Provenance and timings', html: keyValues('Setting', [
      ['model', `<code>${esc(r.model.dir)}</code> (${esc(r.model.architecture)})`], ['data', esc(`${r.data.set} (${r.data.split})`)],
      ['attack options', `<code>${esc(JSON.stringify(r.attackOptions))}</code>`], ['wall time', seconds(r.wallSeconds)], ['attack time', seconds(r.attackSeconds)],
    ]) + keyValues('Where these numbers come from', provenanceRows(r.provenance)),
  });
  return page(attackTitle(r), `${r.samples} images of ${esc(r.data.set)}; clean accuracy ${pct(r.cleanAccuracy)}.`, false, sections, options, 'summary.json');
}

function defenseEvalReport(r: DefenseEvalRecord, options: RenderReportOptions): string {
  const sections: Section[] = [{ id: 'defense', title: 'Accuracy against ε per threat model', html: defenseSection(r.result.attack, r.result, undefined) }];
  const trust = trustSection(r.result.indicators);
  if (trust !== null) sections.push({ id: 'trust', title: TRUST_TITLE, html: trust });
  if (r.latency) sections.push({ id: 'latency', title: 'Latency', html: latencySection(r.latency) });
  sections.push({
    id: 'provenance', title: 'Provenance and timings', html: keyValues('Setting', [
      ['classifier', `<code>${esc(r.classifier)}</code>`], ['purifiers', r.purifiers.map((p) => `<code>${esc(p)}</code>`).join(', ') || '—'],
      ['ensemble', r.ensemble ? `<code>${esc(r.ensemble)}</code>` : '—'], ['data', esc(r.data)],
    ]) + keyValues('Where these numbers come from', provenanceRows(r.provenance)),
  });
  return page(defenseEvalTitle(r), `${r.result.samples} test images; threat models ${r.result.modes.map(esc).join(', ')}.`, false, sections, options, 'eval.json');
}

/** Renders the report of a run folder (see the module comment) as one self-contained HTML page. */
export async function renderReport(dir: string, options: RenderReportOptions = {}): Promise<string> {
  const run = await loadRun(dir);
  if (run.kind === 'experiment') return experimentReport(dir, run.data, options);
  if (run.kind === 'attack') return attackReport(dir, run.data, options);
  return defenseEvalReport(run.data, options);
}

/** Renders the report of `dir` and writes it atomically to `out` (default `dir`/report.html). */
export async function writeReport(dir: string, out?: string): Promise<{ path: string; bytes: number }> {
  const html = await renderReport(dir);
  const path = resolve(out ?? join(dir, 'report.html'));
  await writeFileAtomic(path, html, { mkdirs: true });
  return { path, bytes: Buffer.byteLength(html) };
}
