/** `bastion train-purifier`: trains a CAE / CSAAE / DAE purifier. */
import { interruptedTraining } from './train.js';
import { warn } from '../warn.js';
import { choiceOption, flag, numberOption, parseNumber, requiredString, stringOption } from '../args.js';
import { UsageError } from '../../util/errors.js';
import type { Command } from '../command.js';
import { CHECKPOINT_OWNS } from '../../io/checkpoint-files.js';
import { CLASSIFIER_OPTION_HELP, IMPORT_OPTIONS, checkClassifierArgument, givenImportFlags, importHelp, importOptionsFrom } from '../import-options.js';

export const trainPurifierCommand: Command = {
  name: 'train-purifier',
  onInterrupt: 'stop',
  summary: 'Train a purifier (cae, csaae, dae) to reconstruct clean images',
  output: { option: 'out', owns: CHECKPOINT_OWNS, create: false },
  usage: 'train-purifier --model cae|csaae|dae --data NAME --mode clean|gaussian|adversarial [--classifier DIR|FILE] --out DIR',
  description:
    'Modes: clean — reconstruct clean images, with Gaussian noise on the latent in training (papers 000/002); ' +
    'gaussian — reconstruct clean images from inputs with Gaussian noise of --noise-factor (paper 001); ' +
    'adversarial — reconstruct clean images from FGSM/PGD examples of --classifier crafted on the fly over a range of ' +
    'epsilons (the stronger option). With --classifier, the clean accuracy of classifier-after-purifier is reported. ' +
    '--class-loss-weight adds the classifier\'s cross-entropy on the purified image to the MSE (a class-guided denoiser).\n\n' +
    importHelp('classifier'),
  options: {
    model: { type: 'string', valueName: 'NAME', description: 'purifier architecture: cae, csaae or dae' },
    data: { type: 'string', valueName: 'NAME|DIR', description: 'data set' },
    mode: { type: 'string', valueName: 'MODE', default: 'clean', description: 'clean, gaussian or adversarial' },
    classifier: { type: 'string', valueName: 'DIR|FILE', description: `${CLASSIFIER_OPTION_HELP} (required for adversarial mode)` },
    out: { type: 'string', valueName: 'DIR', description: 'where the purifier is saved' },
    epochs: { type: 'string', valueName: 'N', description: 'epochs (default 15; 20 for dae)' },
    lr: { type: 'string', valueName: 'X', description: 'peak learning rate (default 0.002)' },
    'noise-factor': { type: 'string', valueName: 'F', description: 'gaussian mode: noise factor (default 0.2)' },
    'latent-noise': { type: 'string', valueName: 'S', description: 'std of the latent Gaussian noise (cae/csaae, default 0.1)' },
    skips: { type: 'string', valueName: 'MODE', description: 'cae/csaae bridges: all, inner (default) or none' },
    'fgsm-eps': { type: 'string', valueName: 'LO,HI', description: 'adversarial mode: FGSM epsilon range (default 0.05,0.8)' },
    'pgd-eps': { type: 'string', valueName: 'LO,HI', description: 'adversarial mode: PGD epsilon range (default 0.02,0.3)' },
    'pgd-steps': { type: 'string', valueName: 'N', description: 'adversarial mode: PGD steps (default 10)' },
    'class-loss-weight': { type: 'string', valueName: 'W', description: 'add W x the classifier\'s cross-entropy on the purified input (class-guided, Liao et al. 2018; default 0)' },
    limit: { type: 'string', valueName: 'N', description: 'train on the first N images only' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'where to look for data sets first' },
    seed: { type: 'string', valueName: 'N', description: 'random seed (default 0)' },
    resume: { type: 'boolean', description: 'continue an interrupted run from OUT.work/ (saved every epoch and every 10 min)' },
    ...IMPORT_OPTIONS,
  },
  examples: [
    'bastion train-purifier --model dae --data mnist --mode gaussian --noise-factor 0.2 --out runs/models/dae-mnist-0.2',
    'bastion train-purifier --model csaae --data mnist --mode adversarial --classifier runs/models/simple-cnn-mnist --out runs/models/csaae-mnist',
  ],
  async run({ values, print, signal }) {
    const { trainPurifier } = await import('../../defenses/purifier-training.js');
    const range = (name: string): [number, number] | undefined => {
      const raw = stringOption(values, name);
      if (raw === undefined) return undefined;
      const parts = raw.split(',').map((p) => parseNumber(p, `--${name}`, { min: 0 }));
      if (parts.length !== 2 || (parts[0] as number) > (parts[1] as number)) throw new UsageError(`--${name} expects LO,HI with LO <= HI`);
      return parts as [number, number];
    };
    const mode = choiceOption(values, 'mode', ['clean', 'gaussian', 'adversarial'] as const, 'clean');
    const model: Record<string, unknown> = {};
    if (values['latent-noise'] !== undefined) model['latentNoise'] = numberOption(values, 'latent-noise', 0.1, { min: 0 });
    if (values['skips'] !== undefined) model['skips'] = choiceOption(values, 'skips', ['all', 'inner', 'none'] as const, 'inner');
    const adversarial: Record<string, unknown> = {};
    const fgsm = range('fgsm-eps');
    const pgd = range('pgd-eps');
    if (fgsm) adversarial['fgsmEps'] = fgsm;
    if (pgd) adversarial['pgdEps'] = pgd;
    if (values['pgd-steps'] !== undefined) adversarial['pgdSteps'] = numberOption(values, 'pgd-steps', 10, { min: 1, integer: true });
    const classifier = stringOption(values, 'classifier');
    const importOptions = importOptionsFrom(values);
    const flags = givenImportFlags(values);
    if (!classifier && flags.length > 0) {
      throw new UsageError(`${flags.join(', ')} ${flags.length === 1 ? 'describes' : 'describe'} an imported --classifier, and none was given`, 'add --classifier FILE (an .onnx or TorchScript .pt file)');
    }
    if (classifier) await checkClassifierArgument(values, 'classifier', classifier);
    const dataDir = stringOption(values, 'data-dir');
    const result = await trainPurifier({
      architecture: requiredString(values, 'model'), data: requiredString(values, 'data'), out: requiredString(values, 'out'), mode,
      ...(classifier ? { classifier, importOptions, onWarning: (w: string) => warn(w) } : {}),
      recipe: {
        ...(values['epochs'] !== undefined ? { epochs: numberOption(values, 'epochs', 15, { min: 1, integer: true }) } : {}),
        ...(values['lr'] !== undefined ? { lr: numberOption(values, 'lr', 2e-3, { min: 0 }) } : {}),
        ...(values['noise-factor'] !== undefined ? { noiseFactor: numberOption(values, 'noise-factor', 0.2, { min: 0 }) } : {}),
        ...(values['class-loss-weight'] !== undefined ? { classLossWeight: numberOption(values, 'class-loss-weight', 0, { min: 0 }) } : {}),
        model, adversarial,
      },
      seed: numberOption(values, 'seed', 0, { min: 0, integer: true }),
      ...(dataDir ? { dataOptions: { dataDir } } : {}),
      ...(values['limit'] !== undefined ? { limit: numberOption(values, 'limit', 0, { min: 10, integer: true }) } : {}),
      resume: flag(values, 'resume'),
      ...(signal ? { signal } : {}),
      command: `bastion train-purifier ${process.argv.slice(3).join(' ')}`,
    }).catch(async (error: unknown) => {
      if (signal?.aborted === true) throw await interruptedTraining(requiredString(values, 'out'));
      throw error;
    });
    const pct = (v: number | null): string => (v === null ? 'n/a' : `${(v * 100).toFixed(2)}%`);
    print(`${result.architecture} (${mode}): clean test MSE ${result.testMse.toFixed(5)}` +
      (result.classifierAccuracy === null ? '' : `, classifier ${pct(result.classifierAccuracy)} -> after purifier ${pct(result.purifiedAccuracy)}`) +
      `, ${result.parameters.toLocaleString('en-US')} parameters, ${result.wallSeconds.toFixed(0)} s; saved to ${result.out}`);
    return { ...result, history: undefined };
  },
};
