/**
 * `bastion attack`: attacks a trained classifier on a data set at a list of epsilons and writes
 * summary.json (accuracy, success, norms, counts, wall time, provenance), examples.safetensors
 * (originals, adversarials per eps, labels, predictions) and grid.png (original / adversarial /
 * amplified perturbation with predicted labels).
 */
import { warn } from '../warn.js';
import { basename, join } from 'node:path';
import { choiceOption, epsilonWarning, flag, numberListOption, numberOption, parseNumber, requiredString, stringOption } from '../args.js';
import type { Command, OptionValues } from '../command.js';
import { BastionError, UsageError } from '../../util/errors.js';
import { CLASSIFIER_OPTION_HELP, IMPORT_OPTIONS, checkDataShape, importHelp, importedOf, loadCommandClassifier, warnDataMismatch } from '../import-options.js';

const TARGET_HELP = 'CLASS (index), random or least-likely';

/** Attack options from the command line (only those given), as registry option names. */
function attackOptions(values: OptionValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (values['steps'] !== undefined) out['steps'] = numberOption(values, 'steps', 0, { min: 1, integer: true });
  if (values['step-size'] !== undefined) out['stepSize'] = numberOption(values, 'step-size', 0, { min: 0 });
  if (values['restarts'] !== undefined) out['restarts'] = numberOption(values, 'restarts', 0, { min: 1, integer: true });
  if (values['targets'] !== undefined) out['targets'] = numberOption(values, 'targets', 0, { min: 1, integer: true });
  if (values['eot'] !== undefined) out['eotSamples'] = numberOption(values, 'eot', 0, { min: 1, integer: true });
  if (values['loss'] !== undefined) out['loss'] = choiceOption(values, 'loss', ['ce', 'cw', 'dlr'] as const, 'ce');
  if (values['confidence'] !== undefined) out['confidence'] = numberOption(values, 'confidence', 0, { min: 0 });
  if (flag(values, 'no-early-stop')) out['earlyStop'] = false;
  if (flag(values, 'independent-eps')) out['carryOver'] = false;
  out['seed'] = numberOption(values, 'seed', 0, { min: 0, integer: true });
  const extra = values['option'];
  for (const item of Array.isArray(extra) ? extra : typeof extra === 'string' ? [extra] : []) {
    const match = /^([A-Za-z]+)=(.+)$/.exec(item);
    if (!match) throw new UsageError(`--option expects KEY=VALUE, got '${item}'`, 'e.g. --option binarySearchSteps=5');
    const [, key, raw] = match as unknown as [string, string, string];
    out[key] = raw === 'true' ? true : raw === 'false' ? false : /^(ce|cw|dlr)$/.test(raw) ? raw : parseNumber(raw, `--option ${key}`);
  }
  return out;
}

function parseTarget(raw: string): number | 'random' | 'least-likely' {
  if (raw === 'random' || raw === 'least-likely') return raw;
  if (/^\d+$/.test(raw)) return Number(raw);
  throw new UsageError(`--target expects ${TARGET_HELP}, got '${raw}'`);
}

function parseBounds(raw: string): [number, number] {
  if (raw === 'none') return [-Infinity, Infinity];
  const parts = raw.split(',').map((p) => parseNumber(p, '--bounds'));
  if (parts.length !== 2 || !((parts[0] as number) < (parts[1] as number))) throw new UsageError(`--bounds expects LOW,HIGH or none, got '${raw}'`);
  return [parts[0] as number, parts[1] as number];
}

/** The `bastion attack` command. */
/** The files `bastion attack` writes into --out (anything else there is refused). */
const ATTACK_FILES = ['summary.json', 'examples.safetensors', 'grid.png'];

export const attackCommand: Command = {
  name: 'attack',
  onInterrupt: 'stop',
  summary: 'Attack a trained classifier (fgsm, pgd, apgd, cw, square, ...) at a list of epsilons; write results, examples and a picture grid',
  output: { option: 'out', owns: ATTACK_FILES, create: false },
  usage: 'attack --model DIR|FILE --data NAME --attack NAME --eps LIST --out DIR [--norm linf|l2] [--steps N] [--targeted --target CLASS|random|least-likely] [...]',
  description: [
    'Runs the attack on the test split batch by batch and reports, per epsilon, the accuracy on the adversarial examples,',
    'the attack success rate, and the perturbation norms of successful examples. Epsilons are processed in increasing order;',
    'a sample broken at a smaller epsilon counts as broken at larger ones with the same example (turn off with',
    '--independent-eps, e.g. to tabulate FGSM per epsilon as papers do). Iterative attacks stop early per sample once',
    'successful (--no-early-stop runs the full budget). Pixel bounds default to [0,1]; --bounds none drops the clipping,',
    'as paper 000\'s Algorithm 1 does. --compare TABLE prints the published numbers beside ours (see src/eval/paper.ts).',
    '',
    'Attacks: fgsm, bim, pgd, step-ll, iter-step-ll, cw-pgd, mifgsm, apgd, apgd-dlr, apgd-t, square, cw, fab, fab-t,',
    'a3-step-ll, a3-iter-step-ll, a3-pgd. Options that apply to only some attacks (e.g. binarySearchSteps of cw, pInit of square,',
    'decay of mifgsm, sigma and normalize of the A3 attacks) go through --option KEY=VALUE.',
    '',
    importHelp('model'),
  ].join('\n'),
  options: {
    model: { type: 'string', valueName: 'DIR|FILE', description: CLASSIFIER_OPTION_HELP },
    data: { type: 'string', valueName: 'NAME|DIR', description: 'data set (mnist, fashion-mnist, cifar10, ...) or folder' },
    split: { type: 'string', valueName: 'NAME', default: 'test', description: 'split to attack' },
    attack: { type: 'string', valueName: 'NAME', default: 'pgd', description: 'attack name (see above)' },
    eps: { type: 'string', valueName: 'LIST', description: 'epsilons, comma-separated (fractions like 8/255 allowed)' },
    norm: { type: 'string', valueName: 'linf|l2', default: 'linf', description: 'threat norm' },
    bounds: { type: 'string', valueName: 'LO,HI|none', default: '0,1', description: 'pixel bounds the examples are clipped to' },
    steps: { type: 'string', valueName: 'N', description: 'iterations (queries for square; Adam steps per constant for cw)' },
    'step-size': { type: 'string', valueName: 'X', description: 'absolute step size (default: the attack\'s rule, e.g. 2.5 eps/steps for pgd)' },
    restarts: { type: 'string', valueName: 'N', description: 'random restarts (pgd, cw-pgd, apgd, apgd-t, fab, fab-t)' },
    targets: { type: 'string', valueName: 'N', description: 'target classes by clean logit after the true one (apgd-t, fab-t; default 9)' },
    loss: { type: 'string', valueName: 'ce|cw|dlr', description: 'loss of pgd' },
    confidence: { type: 'string', valueName: 'K', description: 'CW margin kappa (cw, cw-pgd)' },
    targeted: { type: 'boolean', description: 'targeted attack (targets from --target, default random)' },
    target: { type: 'string', valueName: 'T', description: `target: ${TARGET_HELP} (implies --targeted)` },
    eot: { type: 'string', valueName: 'K', description: 'EOT: average gradients over K stochastic forward passes' },
    'no-early-stop': { type: 'boolean', description: 'attack every sample for the full budget' },
    'independent-eps': { type: 'boolean', description: 'attack every epsilon from scratch (no carry-over)' },
    option: { type: 'string', valueName: 'KEY=VALUE', multiple: true, description: 'any other attack option (repeatable)' },
    limit: { type: 'string', valueName: 'N', description: 'attack the first N images only' },
    'batch-size': { type: 'string', valueName: 'N', description: 'batch size (default 256)' },
    seed: { type: 'string', valueName: 'N', description: 'seed of the attack and of random targets (default 0)' },
    'save-examples': { type: 'string', valueName: 'N', description: 'examples written to examples.safetensors (default 100; 0 = none)' },
    grid: { type: 'string', valueName: 'N', description: 'samples shown in grid.png (default 8)' },
    compare: { type: 'string', valueName: 'TABLE', description: 'print a published table\'s numbers beside ours, e.g. paper000-table2' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'where to look for data sets first' },
    out: { type: 'string', valueName: 'DIR', description: 'output directory' },
    ...IMPORT_OPTIONS,
  },
  examples: [
    'bastion attack --model runs/models/simple-cnn-mnist --data mnist --attack pgd --eps 0.05,0.1,0.15,0.2,0.3 --out runs/attacks/pgd-mnist --compare paper000-table2',
    'bastion attack --model runs/models/simple-cnn-mnist --data mnist --attack fgsm --eps 0,0.1,0.2,0.3 --independent-eps --out runs/attacks/fgsm-mnist',
    'bastion attack --model runs/models/simple-cnn-mnist --data mnist --attack cw --norm l2 --eps 1,2,3 --limit 1000 --out runs/attacks/cw-mnist',
    'bastion attack --model runs/models/lenet-mnist --data mnist --attack pgd --eps 0.3 --targeted --target least-likely --out runs/attacks/pgd-ll',
    'bastion attack --model resnet18.onnx --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --data cifar10 --input-size 32 --attack pgd --eps 8/255 --out runs/attacks/pgd-onnx',
  ],
  async run({ values, print, signal }) {
    const modelDir = requiredString(values, 'model');
    const dataName = requiredString(values, 'data');
    const out = requiredString(values, 'out', 'results, examples and the grid are written there');
    const epsilons = numberListOption(values, 'eps', [], { min: 0 });
    if (epsilons.length === 0) throw new UsageError('missing --eps', 'e.g. --eps 0.05,0.1,0.15');
    const attackName = stringOption(values, 'attack', 'pgd') as string;
    const norm = choiceOption(values, 'norm', ['linf', 'l2'] as const, 'linf');
    const bounds = parseBounds(stringOption(values, 'bounds', '0,1') as string);
    const epsWarning = epsilonWarning(epsilons, norm, bounds);
    if (epsWarning !== null) warn(epsWarning);
    const targetRaw = stringOption(values, 'target');
    const targeted = flag(values, 'targeted') || targetRaw !== undefined;
    const target = targeted ? parseTarget(targetRaw ?? 'random') : undefined;
    const options = attackOptions(values);
    const seed = options['seed'] as number;
    const limit = values['limit'] === undefined ? undefined : numberOption(values, 'limit', 0, { min: 1, integer: true });
    const batchSize = numberOption(values, 'batch-size', 256, { min: 1, integer: true });
    const saveCount = numberOption(values, 'save-examples', 100, { min: 0, integer: true });
    const gridCount = numberOption(values, 'grid', 8, { min: 0, integer: true });
    const split = stringOption(values, 'split', 'test') as string;
    const dataDir = stringOption(values, 'data-dir');

    const { createAttack } = await import('../../attacks/registry.js');
    const { evaluateRobustness } = await import('../../eval/robustness.js');
    const { formatIndicators } = await import('../../eval/indicators.js');
    const { paperTable, compareWithPaper, formatComparison } = await import('../../eval/paper.js');
    const { loadDataset } = await import('../../data/index.js');
    const { collectProvenance } = await import('../../io/provenance.js');
    const { writeFileAtomic } = await import('../../io/atomic.js');
    const { ExampleCollector } = await import('../../report/adversarial-examples.js');

    const attack = createAttack(attackName, options);
    const table = values['compare'] === undefined ? null : paperTable(requiredString(values, 'compare'));
    // --out is checked and locked before run() (output below); each run's files go into a fresh folder swapped in at the end.
    const { replaceDirectory } = await import('../../io/checkpoint.js');
    const { model, meta } = await loadCommandClassifier(values, 'model', modelDir);
    warnDataMismatch(meta, modelDir, dataName);
    const dataset = await loadDataset(dataName, { split, ...(dataDir ? { dataDir } : {}) });
    const collector = new ExampleCollector(Math.max(saveCount, gridCount), epsilons);
    try {
      checkDataShape(model, modelDir, dataset.name, dataset.imageShape);
      const imported = importedOf(model);
      const threat = { norm, epsilons, bounds, targeted };
      const result = await evaluateRobustness(model, dataset, {
        attack, threat, batchSize, seed, label: `${attackName} on ${dataset.name}`,
        ...(limit === undefined ? {} : { limit }), ...(target === undefined ? {} : { target }),
        onBatch: (batch) => collector.add(batch),
        ...(signal ? { signal } : {}),
      });
      const classNames = meta.classNames ?? dataset.classNames;
      const comparison = table === null ? null : {
        table: table.id, source: table.source,
        rows: compareWithPaper(table, { dataset: basename(dataName).toLowerCase(), attack: attackName, ...(options['steps'] === undefined ? {} : { iterations: options['steps'] as number }) },
          result.perEpsilon.map((e) => ({ epsilon: e.epsilon, value: e.accuracy }))),
      };
      const files: Record<string, string> = { summary: 'summary.json' };
      if (saveCount > 0 && collector.count > 0) files['examples'] = 'examples.safetensors';
      if (gridCount > 0 && collector.count > 0) files['grid'] = 'grid.png';
      const summary = {
        format: 'bastion-attack-summary', version: 1,
        model: { dir: modelDir, architecture: meta.architecture, classNames, ...(imported ? { imported } : {}) },
        data: { name: dataName, set: dataset.name, split },
        attackOptions: options,
        ...result,
        imagesPerSecond: result.samples / result.attackSeconds,
        comparison, files,
        provenance: collectProvenance({ seed, command: `bastion ${process.argv.slice(2).join(' ')}` }),
      };
      await replaceDirectory(out, async (staging) => {
        if (files['examples']) await collector.writeSafetensors(join(staging, 'examples.safetensors'), saveCount, { attack: attackName, data: dataset.name, classNames });
        if (files['grid']) await writeFileAtomic(join(staging, 'grid.png'), collector.gridPng(gridCount), { mkdirs: true });
        await writeFileAtomic(join(staging, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`, { mkdirs: true });
      }, ATTACK_FILES);

      const pct = (v: number | null): string => (v === null ? '-' : `${(v * 100).toFixed(2)}%`);
      print(`${attackName} (${norm}${targeted ? `, targeted: ${String(target)}` : ''}) on ${dataset.name}, ${result.samples} images` +
        `${result.excluded > 0 ? ` (${result.excluded} left out: target = label)` : ''}: clean accuracy ${pct(result.cleanAccuracy)}`);
      print('eps       accuracy   success   mean norm   median norm');
      for (const e of result.perEpsilon) {
        print(`${String(Number(e.epsilon.toFixed(4))).padEnd(9)} ${pct(e.accuracy).padStart(8)}  ${pct(e.successRate).padStart(8)}  ` +
          `${(e.norms.mean === null ? '-' : e.norms.mean.toFixed(4)).padStart(10)}  ${(e.norms.median === null ? '-' : e.norms.median.toFixed(4)).padStart(12)}`);
      }
      print(`${result.gradientEvaluations} gradient and ${result.forwardEvaluations} forward evaluations, attack ${result.attackSeconds.toFixed(1)} s ` +
        `(${Math.round(result.samples / result.attackSeconds)} images/s), wall ${result.wallSeconds.toFixed(1)} s`);
      if (comparison !== null && table !== null) print(formatComparison(comparison.rows, `${table.id}: ${table.title} (${dataName})`));
      for (const line of formatIndicators(result.indicators)) print(line);
      print(`wrote ${Object.values(files).map((f) => join(out, f)).join(', ')}`);
      if (result.interrupted === true) {
        throw new BastionError(`interrupted after ${result.samples} images: ${join(out, 'summary.json')} holds every epsilon's results on those ("interrupted": true)`, {
          hint: 'run the same command again for all images', exitCode: 130,
        });
      }
      return summary;
    } finally {
      collector.dispose();
      dataset.dispose();
      model.dispose();
    }
  },
};
