/**
 * `bastion eval-aad`: paper 004's experiments on a trained classifier — Table 6 (FGSM, PGD-k,
 * CW-k), the Table 7 analogue (A3 vs the plain attacks) and the attention analysis of Table 3 —
 * written as JSON with provenance; `report` prints saved Table 6 results beside the paper's rows.
 */
import { readFile } from 'node:fs/promises';
import { choiceOption, numberListOption, numberOption, requiredString, stringOption } from '../args.js';
import type { Command, OptionValues } from '../command.js';
import type { ResolvedImport } from '../../models/imported.js';
import { UsageError } from '../../util/errors.js';
import { CLASSIFIER_OPTION_HELP, IMPORT_OPTIONS, checkDataShape, chooseLayer, importHelp, importedOf, loadCommandClassifier } from '../import-options.js';

const EXPERIMENTS = ['table6', 'a3', 'attention', 'report'] as const;

/** The record written by every experiment. */
interface AadRecord {
  format: string;
  version: 1;
  experiment: (typeof EXPERIMENTS)[number];
  model: string;
  architecture: string;
  /** model.json `training` of the evaluated model (defense, attack, AAD settings, recipe). */
  modelTraining: Record<string, unknown> | null;
  /** The decided import options, when the model is an imported ONNX/TorchScript one. */
  imported?: ResolvedImport;
  data: string;
  split: 'test';
  settings: Record<string, unknown>;
  result: unknown;
  provenance: unknown;
}

/** The paper-004 defense key (none, madry, madry+aad, ...) of a model's training record. */
function defenseKey(training: Record<string, unknown> | null): string {
  const defense = typeof training?.['defense'] === 'string' ? (training['defense'] as string) : 'none';
  return training?.['aad'] ? `${defense}+aad` : defense;
}

async function runExperiment(experiment: 'table6' | 'a3' | 'attention', values: OptionValues, print: (line: string) => void): Promise<AadRecord> {
  const { loadDataset } = await import('../../data/index.js');
  const { collectProvenance } = await import('../../io/provenance.js');
  const { writeFileAtomic } = await import('../../io/atomic.js');
  const aad = await import('../../eval/aad.js');
  const { formatPairedComparison: formatPaired } = await import('../../eval/stats.js');
  const { PAPER004_EXPERIMENTS } = await import('../../eval/aad-config.js');
  const modelDir = requiredString(values, 'model');
  const data = requiredString(values, 'data');
  const out = requiredString(values, 'out', 'a JSON file, e.g. runs/results/aad/table6-lenet-madry-mnist.json');
  const defaults = PAPER004_EXPERIMENTS[data.toLowerCase()]?.evaluation ?? null;
  const dataDir = stringOption(values, 'data-dir');
  const common = {
    ...(values['limit'] !== undefined ? { limit: numberOption(values, 'limit', 0, { min: 1, integer: true }) } : {}),
    ...(values['batch-size'] !== undefined ? { batchSize: numberOption(values, 'batch-size', 250, { min: 1, integer: true }) } : {}),
    seed: numberOption(values, 'seed', 0, { min: 0, integer: true }),
  };
  if (experiment === 'table6' && values['layer'] !== undefined) throw new UsageError('--layer applies to a3 and attention (table6 reads no Grad-CAM map)');
  const { model, meta } = await loadCommandClassifier(values, 'model', modelDir);
  let dataset;
  try {
    dataset = await loadDataset(data, { split: 'test', ...(dataDir ? { dataDir } : {}) });
  } catch (error) {
    model.dispose();
    throw error;
  }
  try {
    checkDataShape(model, modelDir, dataset.name, dataset.imageShape);
    const layer = experiment === 'table6' ? null : chooseLayer(model, modelDir, stringOption(values, 'layer'));
    const imported = importedOf(model);
    model.eval();
    const training = (meta.training ?? null) as Record<string, unknown> | null;
    let settings: Record<string, unknown>;
    let result: unknown;
    const pct = (v: number | null | undefined): string => (v === null || v === undefined || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(2)}%`);
    if (experiment === 'table6') {
      const epsList = numberListOption(values, 'eps', defaults ? [defaults.eps] : [], { min: 0 });
      if (epsList.length !== 1) throw new UsageError('table6 takes one --eps', defaults ? undefined : `no paper-004 default for '${data}'; e.g. --eps 0.3`);
      const stepList = numberListOption(values, 'step-size', defaults ? [defaults.stepSize] : [], { min: 0 });
      if (stepList.length !== 1) throw new UsageError('table6 needs one --step-size (PGD/CW step, pixels)', 'Madry et al.: 0.01 on MNIST, 2/255 on CIFAR-10');
      const iterations = numberListOption(values, 'iterations', defaults?.iterations ?? [10, 20, 40, 100], { min: 1 });
      settings = { eps: epsList[0], stepSize: stepList[0], iterations, randomStart: true, cwConfidence: 50, earlyStop: true, ...common };
      const r = await aad.evaluateTable6(model, dataset, { eps: epsList[0] as number, stepSize: stepList[0] as number, iterations, ...common });
      result = r;
      print(`Table 6 (${data}, eps ${epsList[0]}, step ${stepList[0]}, ${r.samples} test images):`);
      print(aad.formatTable6([{ label: defenseKey(training), defense: defenseKey(training), columns: r.columns }], PAPER004_EXPERIMENTS[data.toLowerCase()]?.paperTable ?? null));
    } else if (experiment === 'a3') {
      const epsilons = numberListOption(values, 'eps', [], { min: 0 });
      if (epsilons.length === 0) throw new UsageError('a3 needs --eps LIST', 'paper 004 Table 7 uses 4/255 on ImageNet; on MNIST e.g. --eps 0.05,0.1,0.15');
      const options = {
        epsilons, steps: numberOption(values, 'steps', 3, { min: 1, integer: true }), sigma: numberOption(values, 'sigma', 10, { min: 0 }),
        reduction: choiceOption(values, 'reduction', ['mean', 'sum'] as const, 'mean'),
        normalize: choiceOption(values, 'map', ['max', 'raw'] as const, 'max') === 'max', layer: layer as string, ...common,
      };
      settings = options;
      const r = await aad.evaluateA3(model, dataset, options);
      result = r;
      print(`A3 (Table 7 analogue) on ${data}: I_att = ${r.iatt} of ${r.samples} images, ${r.steps} iterations, sigma ${r.sigma} (${r.reduction}, ${r.normalize ? 'max-normalised' : 'raw'} map at ${r.layer})`);
      print('| eps | Iter-StepLL | Iter-StepLL+A3 | only A3 / only plain broke, McNemar p | PGD | PGD+A3 | only A3 / only plain broke, McNemar p |');
      print('|---|---|---|---|---|---|---|');
      for (const row of r.rows) {
        print(`| ${+row.eps.toFixed(4)} | ${pct(row.iterStepLL)} | ${pct(row.iterStepLLA3)} | ${formatPaired(row.paired.iterStepLL)} | ${pct(row.pgd)} | ${pct(row.pgdA3)} | ${formatPaired(row.paired.pgd)} |`);
      }
    } else {
      const epsilons = numberListOption(values, 'eps', [], { min: 0 });
      if (epsilons.length === 0) throw new UsageError('attention needs --eps LIST (StepLL budgets)', 'e.g. --eps 0.1,0.2');
      const options = {
        epsilons, cells: numberListOption(values, 'cells', [5, 10, 20, 30], { min: 1 }),
        adversarialClass: choiceOption(values, 'adversarial-class', ['predicted', 'label'] as const, 'predicted'),
        layer: layer as string, ...common,
      };
      settings = options;
      const r = await aad.attentionAnalysis(model, dataset, options);
      result = r;
      print(`attention IoU, clean vs StepLL-adversarial top-k Grad-CAM cells (${r.layer}, ${r.grid.join('x')} grid, adversarial map of the ${r.adversarialClass} class):`);
      for (const row of r.rows) {
        print(`eps ${row.eps}: ${row.images} clean-correct images, attack succeeded on ${row.succeeded} (${pct(row.succeeded / row.images)})`);
        for (const c of row.iou) print(`  ${String(c.cells).padStart(3)} cells: IoU succeed ${c.succeed === null ? 'n/a' : c.succeed.toFixed(3)}, fail ${c.fail === null ? 'n/a' : c.fail.toFixed(3)}`);
      }
    }
    const record: AadRecord = {
      format: `bastion-aad-${experiment}`, version: 1, experiment, model: modelDir, architecture: meta.architecture, modelTraining: training,
      ...(imported ? { imported } : {}),
      data, split: 'test', settings, result,
      provenance: collectProvenance({ seed: common.seed, command: `bastion eval-aad ${process.argv.slice(3).join(' ')}` }),
    };
    await writeFileAtomic(out, `${JSON.stringify(record, null, 2)}\n`, { mkdirs: true });
    print(`wrote ${out}`);
    return record;
  } finally {
    model.dispose();
    dataset.dispose();
  }
}

export const evalAadCommand: Command = {
  name: 'eval-aad',
  summary: 'Paper 004 experiments: Table 6 (FGSM/PGD-k/CW-k), A3 vs plain attacks (Table 7), attention IoU (Table 3)',
  output: { option: 'out', kind: 'file' },
  usage: 'eval-aad table6|a3|attention --model DIR|FILE --data NAME --out FILE.json [--eps LIST] [...]\n       eval-aad report FILE.json...',
  description:
    'table6: clean, FGSM, PGD-k and CW-k accuracy on the test split at one budget (Madry settings: fixed step, random start; ' +
    'CW = PGD on the CW margin, kappa 50); one PGD-100 and one CW-100 run per batch give every k (early stopping per sample). ' +
    'Defaults for mnist, fashion-mnist and cifar10 come from src/eval/aad-config.ts. ' +
    'a3: accuracy on the clean-correct images under Iter-StepLL and PGD with and without the A3 attention term. ' +
    'attention: IoU of the top-k Grad-CAM cells of clean and StepLL images, for successful and failed attacks. ' +
    'report: Table 6 rows of saved table6 results beside the paper\'s. --layer picks the Grad-CAM tap point of a3 and ' +
    'attention (default: the model\'s camLayer; `bastion import MODEL` lists an imported model\'s).\n\n' + importHelp('model'),
  allowPositionals: true,
  options: {
    model: { type: 'string', valueName: 'DIR|FILE', description: CLASSIFIER_OPTION_HELP },
    data: { type: 'string', valueName: 'NAME', description: 'data set (its test split is used)' },
    out: { type: 'string', valueName: 'FILE', description: 'JSON result file' },
    eps: { type: 'string', valueName: 'LIST', description: 'budget(s), L-inf (8/255 accepted)' },
    'step-size': { type: 'string', valueName: 'S', description: 'table6: PGD/CW step (default: the data set\'s paper-004 setting)' },
    iterations: { type: 'string', valueName: 'LIST', description: 'table6: iteration columns (default 10,20,40,100)' },
    steps: { type: 'string', valueName: 'N', description: 'a3: iterations (default 3, paper 004 Table 7)' },
    sigma: { type: 'string', valueName: 'X', description: 'a3: attention weight (default 10)' },
    reduction: { type: 'string', valueName: 'mean|sum', description: 'a3: reduce |Att - g| over the cells by mean (default) or sum' },
    map: { type: 'string', valueName: 'max|raw', description: 'a3: divide the adversarial Grad-CAM map by its maximum (default) or use it raw' },
    cells: { type: 'string', valueName: 'LIST', description: 'attention: top cells kept (default 5,10,20,30)' },
    'adversarial-class': { type: 'string', valueName: 'predicted|label', description: 'attention: class the adversarial map explains (default predicted)' },
    layer: { type: 'string', valueName: 'NAME', description: 'a3, attention: Grad-CAM tap point (default: the model\'s camLayer)' },
    limit: { type: 'string', valueName: 'N', description: 'first N test images only' },
    'batch-size': { type: 'string', valueName: 'N', description: 'batch size (default 250)' },
    seed: { type: 'string', valueName: 'N', description: 'seed of random starts (default 0)' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'where to look for data sets first' },
    ...IMPORT_OPTIONS,
  },
  examples: [
    'bastion eval-aad table6 --model runs/models/lenet-madry-aad-mnist --data mnist --out runs/results/aad/table6-mnist-madry-aad.json',
    'bastion eval-aad a3 --model runs/models/lenet-raw-mnist --data mnist --eps 0.05,0.1 --out runs/results/aad/a3-mnist-raw.json',
    'bastion eval-aad attention --model runs/models/lenet-raw-mnist --data mnist --eps 0.1,0.2 --out runs/results/aad/attention-mnist-raw.json',
    'bastion eval-aad report runs/results/aad/table6-mnist-*.json',
  ],
  async run({ values, positionals, print }) {
    const experiment = positionals[0];
    if (experiment === undefined || !(EXPERIMENTS as readonly string[]).includes(experiment)) {
      throw new UsageError(`eval-aad needs an experiment: ${EXPERIMENTS.join(', ')}`, experiment === undefined ? undefined : `got '${experiment}'`);
    }
    if (experiment !== 'report') {
      if (positionals.length > 1) throw new UsageError(`eval-aad ${experiment} takes no further arguments, got '${positionals[1]}'`);
      return (await runExperiment(experiment as 'table6' | 'a3' | 'attention', values, print)) as unknown as Record<string, unknown>;
    }
    const files = positionals.slice(1);
    if (files.length === 0) throw new UsageError('eval-aad report needs table6 JSON files');
    const { formatTable6 } = await import('../../eval/aad.js');
    const { PAPER004_EXPERIMENTS } = await import('../../eval/aad-config.js');
    const { DataError } = await import('../../util/errors.js');
    const byData = new Map<string, { label: string; defense: string; columns: Record<string, number> }[]>();
    for (const file of files) {
      const record = JSON.parse(await readFile(file, 'utf8')) as Partial<AadRecord>;
      if (record.format !== 'bastion-aad-table6') throw new DataError(file, `is not a table6 result (format ${JSON.stringify(record.format)})`, 'give files written by `bastion eval-aad table6`');
      const defense = defenseKey(record.modelTraining ?? null);
      const rows = byData.get(record.data as string) ?? [];
      rows.push({ label: defense, defense, columns: (record.result as { columns: Record<string, number> }).columns });
      byData.set(record.data as string, rows);
    }
    const tables: Record<string, string> = {};
    for (const [data, rows] of byData) {
      tables[data] = formatTable6(rows, PAPER004_EXPERIMENTS[data.toLowerCase()]?.paperTable ?? null);
      print(`${data}:`);
      print(tables[data] as string);
    }
    return { tables };
  },
};
