/**
 * `bastion eval`: a classifier with and without purification defenses under an attack, in the
 * four threat models (gray-box, white-box, BPDA, EOT), plus inference latency.
 */
import { warn } from '../warn.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { epsilonWarning, flag, listOption, numberListOption, numberOption, requiredString, stringOption, choiceOption } from '../args.js';
import type { Command, OptionValues } from '../command.js';
import { BastionError, UsageError } from '../../util/errors.js';
import { CLASSIFIER_OPTION_HELP, IMPORT_OPTIONS, checkDataShape, importHelp, loadCommandClassifier, warnDataMismatch } from '../import-options.js';

/** Attack options shared by commands that run an attack (steps, step size, restarts, seed). */
export function attackOptionsFrom(values: OptionValues): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (values['steps'] !== undefined) out['steps'] = numberOption(values, 'steps', 40, { min: 1, integer: true });
  if (values['step-size'] !== undefined) out['stepSize'] = numberOption(values, 'step-size', 0.01, { min: 0 });
  if (values['restarts'] !== undefined) out['restarts'] = numberOption(values, 'restarts', 1, { min: 1, integer: true });
  return out;
}

export const evalCommand: Command = {
  name: 'eval',
  onInterrupt: 'stop',
  summary: 'Evaluate a classifier behind purifiers (and/or a K-fold ensemble) under attack: gray-box, white-box, BPDA, EOT',
  output: { option: 'out', owns: ['eval.json'] },
  usage: 'eval --classifier DIR|FILE [--purifier DIR]... [--ensemble DIR] --data NAME --attack fgsm|pgd|... --eps LIST [--modes LIST] [--out DIR]',
  description:
    'gray-box: examples crafted on the classifier alone, then purified (what the papers report); white-box: the attack ' +
    'differentiates through purifier and classifier; bpda: backward pass through the purifier as the identity; eot: the ' +
    'purifier keeps its latent noise at inference and the attacker averages gradients over --eot draws. Every defended ' +
    'number is reported in each mode. With --ensemble, each purifier is also evaluated in front of the ensemble. ' +
    'With --attack-labels predicted, the attacks take the attacked model\'s prediction on the clean image instead of the ' +
    'true label: a true-label perturbation carries the label in its sign pattern ("label leaking", Kurakin et al. 2017), ' +
    'which a purifier trained on such examples can learn to read (accuracy on adversarial above clean is the symptom).\n\n' +
    importHelp('classifier'),
  options: {
    classifier: { type: 'string', valueName: 'DIR|FILE', description: `${CLASSIFIER_OPTION_HELP} (attacked alone in gray-box mode)` },
    purifier: { type: 'string', valueName: 'DIR', multiple: true, description: 'a purifier checkpoint (repeatable)' },
    ensemble: { type: 'string', valueName: 'DIR', description: 'a K-fold ensemble directory (bastion train-ensemble)' },
    data: { type: 'string', valueName: 'NAME', description: 'data set (its test split is evaluated)' },
    attack: { type: 'string', valueName: 'NAME', default: 'pgd', description: 'attack (see `bastion attack --help`)' },
    eps: { type: 'string', valueName: 'LIST', description: 'epsilons, comma-separated (e.g. 0.6 or 0.05,0.1,0.15)' },
    norm: { type: 'string', valueName: 'linf|l2', default: 'linf', description: 'threat norm' },
    modes: { type: 'string', valueName: 'LIST', default: 'gray-box,white-box,bpda,eot', description: 'threat models to run' },
    eot: { type: 'string', valueName: 'K', description: 'noise draws per EOT gradient (default 10)' },
    'attack-labels': { type: 'string', valueName: 'true|predicted', default: 'true', description: 'labels the attacks take: true, or the attacked model\'s clean predictions (no label leaking)' },
    steps: { type: 'string', valueName: 'N', description: 'iterations of iterative attacks (default: the attack\'s)' },
    'step-size': { type: 'string', valueName: 'X', description: 'step size of iterative attacks' },
    restarts: { type: 'string', valueName: 'N', description: 'random restarts (PGD)' },
    limit: { type: 'string', valueName: 'N', description: 'evaluate the first N test images only' },
    'batch-size': { type: 'string', valueName: 'N', description: 'batch size (default 250)' },
    latency: { type: 'boolean', description: 'also measure inference latency (batch 1 and amortised at 256)' },
    seed: { type: 'string', valueName: 'N', description: 'attack seed (default 0)' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'where to look for data sets first' },
    out: { type: 'string', valueName: 'DIR', description: 'write eval.json there' },
    ...IMPORT_OPTIONS,
  },
  examples: [
    'bastion eval --classifier runs/models/simple-cnn-mnist --purifier runs/models/csaae-mnist --purifier runs/models/cae-mnist --data mnist --attack fgsm --eps 0.6',
    'bastion eval --classifier runs/models/kfold-base --purifier runs/models/dae-0.1 --ensemble runs/models/kfold --data mnist --attack fgsm --eps 0.1 --modes gray-box',
  ],
  async run({ values, print, signal }) {
    const { loadPurifier } = await import('../../models/index.js');
    const { DefendedClassifier } = await import('../../defenses/defended.js');
    const { loadEnsemble } = await import('../../defenses/ensemble.js');
    const { evaluateDefenses, EVALUATION_MODES } = await import('../../eval/defense.js');
    const { measureLatency } = await import('../../eval/latency.js');
    const { formatIndicators } = await import('../../eval/indicators.js');
    const { loadDataset } = await import('../../data/index.js');
    const { collectProvenance } = await import('../../io/provenance.js');
    const modes = listOption(values, 'modes') ?? [];
    for (const m of modes) if (!(EVALUATION_MODES as readonly string[]).includes(m)) throw new UsageError(`--modes: unknown mode '${m}'`, `choose from ${EVALUATION_MODES.join(', ')}`);
    const epsilons = numberListOption(values, 'eps', [], { min: 0 });
    if (epsilons.length === 0) throw new UsageError('missing --eps', 'e.g. --eps 0.6 or --eps 0.05,0.1,0.15');
    const norm = choiceOption(values, 'norm', ['linf', 'l2'] as const, 'linf');
    const epsWarning = epsilonWarning(epsilons, norm);
    if (epsWarning !== null) warn(epsWarning);
    const dataName = requiredString(values, 'data');
    const dataDir = stringOption(values, 'data-dir');
    const purifierDirs = (values['purifier'] as string[] | undefined) ?? [];
    const ensembleDir = stringOption(values, 'ensemble');
    if (purifierDirs.length === 0 && !ensembleDir) throw new UsageError('give at least one --purifier or an --ensemble to evaluate');
    const classifierDir = requiredString(values, 'classifier');
    const { model: classifier, meta } = await loadCommandClassifier(values, 'classifier', classifierDir);
    warnDataMismatch(meta, classifierDir, dataName);
    const purifiers = [];
    const disposables: { dispose(): void }[] = [classifier];
    try {
      for (const dir of purifierDirs) {
        const p = await loadPurifier(dir);
        warnDataMismatch(p.meta, dir, dataName);
        purifiers.push({ name: basename(dir), model: p.model, meta: p.meta });
        disposables.push(p.model);
      }
      const ensemble = ensembleDir ? (await loadEnsemble(ensembleDir)).ensemble : null;
      if (ensemble) disposables.push(ensemble);
      const defenses = [
        ...purifiers.map((p) => ({ name: p.name, model: new DefendedClassifier(p.model, classifier) })),
        ...(ensemble ? purifiers.map((p) => ({ name: `${p.name}+ensemble`, model: new DefendedClassifier(p.model, ensemble) })) : []),
      ];
      if (ensemble && purifiers.length === 0) throw new UsageError('--ensemble is evaluated behind a --purifier (paper 001: DAE + K-fold)');
      const dataset = await loadDataset(dataName, { split: 'test', ...(dataDir ? { dataDir } : {}) });
      disposables.push(dataset);
      checkDataShape(classifier, classifierDir, dataset.name, dataset.imageShape);
      const seed = numberOption(values, 'seed', 0, { min: 0, integer: true });
      const result = await evaluateDefenses({
        source: classifier, defenses, dataset, attack: stringOption(values, 'attack', 'pgd') as string,
        attackOptions: attackOptionsFrom(values), threat: { norm, epsilons }, modes: modes as never,
        ...(values['eot'] !== undefined ? { eotSamples: numberOption(values, 'eot', 10, { min: 1, integer: true }) } : {}),
        attackLabels: choiceOption(values, 'attack-labels', ['true', 'predicted'] as const, 'true'),
        ...(values['batch-size'] !== undefined ? { batchSize: numberOption(values, 'batch-size', 250, { min: 1, integer: true }) } : {}),
        ...(values['limit'] !== undefined ? { limit: numberOption(values, 'limit', 0, { min: 1, integer: true }) } : {}),
        seed, ...(signal ? { signal } : {}),
      });
      const latency = flag(values, 'latency')
        ? Object.fromEntries([['classifier', classifier] as const, ...defenses.map((d) => [d.name, d.model] as const)].map(([name, m]) => [name, measureLatency(m, [classifier.channels, classifier.height, classifier.width])]))
        : null;
      const pct = (v: number | undefined): string => (v === undefined ? '   n/a' : `${(v * 100).toFixed(2).padStart(6)}%`);
      print(`${result.attack} (${norm}) on ${dataName} test, ${result.samples} images; clean: classifier ${pct(result.clean.source)}` +
        Object.entries(result.clean.defenses).map(([k, v]) => `, ${k} ${pct(v)}`).join(''));
      for (const [i, eps] of result.epsilons.entries()) {
        print(`eps ${eps}:`);
        if (result.grayBox) print(`  no defense (gray-box)            ${pct(result.grayBox.source[i])}`);
        for (const d of defenses) {
          const cells = result.modes.map((m) => `${m} ${pct(m === 'gray-box' ? result.grayBox?.defenses[d.name]?.[i] : result.adaptive[m]?.[d.name]?.[i])}`);
          print(`  ${d.name.padEnd(32)} ${cells.join('   ')}`);
        }
      }
      for (const note of result.notes) print(`note: ${note}`);
      for (const line of formatIndicators(result.indicators)) print(line);
      if (latency) for (const [name, l] of Object.entries(latency)) print(`latency ${name}: ${(l.perImageBatch1 * 1000).toFixed(3)} ms/image at batch 1, ${(l.perImageAmortised * 1000).toFixed(4)} ms/image at batch ${l.batchSize}`);
      const record = {
        format: 'bastion-defense-eval', classifier: classifierDir, purifiers: purifierDirs, ensemble: ensembleDir ?? null, data: dataName,
        result, latency, provenance: collectProvenance({ seed, command: `bastion eval ${process.argv.slice(3).join(' ')}` }),
      };
      const out = stringOption(values, 'out');
      if (out) {
        await mkdir(out, { recursive: true });
        await writeFile(join(out, 'eval.json'), `${JSON.stringify(record, null, 2)}\n`);
        print(`wrote ${join(out, 'eval.json')}`);
      }
      if (result.interrupted === true) {
        throw new BastionError(`interrupted after ${result.samples} images${out ? `: ${join(out, 'eval.json')} holds every mode's results on those ("interrupted": true)` : ' (the table above covers those; --out saves it)'}`, {
          hint: 'run the same command again for all images', exitCode: 130,
        });
      }
      return record;
    } finally {
      for (const d of disposables) d.dispose();
    }
  },
};
