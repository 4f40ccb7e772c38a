/** `bastion train-ensemble`: the K-fold ensemble of paper 001. */
import { flag, numberOption, requiredString, stringOption } from '../args.js';
import type { Command } from '../command.js';

export const trainEnsembleCommand: Command = {
  name: 'train-ensemble',
  onInterrupt: 'the members already trained (and the checkpoint of the one in training) are kept; run the same command with --resume to continue',
  summary: 'Train a K-fold ensemble (paper 001): K classifiers, each on K-1 folds of the training set',
  output: { option: 'out' },
  usage: 'train-ensemble --model NAME --data NAME --k 10 --out DIR [--epochs N] [--resume]',
  description: 'Member i trains on every fold but fold i (stratified), which validates it. The ensemble votes softly ' +
    '(averaged probabilities) as a model, and hard votes and member accuracies are reported too.',
  options: {
    model: { type: 'string', valueName: 'NAME', default: 'kfold-cnn', description: 'member architecture' },
    data: { type: 'string', valueName: 'NAME', description: 'data set' },
    k: { type: 'string', valueName: 'K', description: 'folds and members (default 10)' },
    out: { type: 'string', valueName: 'DIR', description: 'ensemble directory' },
    epochs: { type: 'string', valueName: 'N', description: 'epochs per member (default: recipe, 20 for kfold-cnn)' },
    limit: { type: 'string', valueName: 'N', description: 'use the first N training images only' },
    seed: { type: 'string', valueName: 'N', description: 'seed of the folds (default 0)' },
    resume: { type: 'boolean', description: 'keep members already trained in OUT' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'where to look for data sets first' },
  },
  examples: ['bastion train-ensemble --model kfold-cnn --data mnist --k 10 --out runs/models/kfold-mnist'],
  async run({ values, print }) {
    const { trainKFoldEnsemble } = await import('../../defenses/ensemble.js');
    const dataDir = stringOption(values, 'data-dir');
    const manifest = await trainKFoldEnsemble({
      architecture: stringOption(values, 'model', 'kfold-cnn') as string, data: requiredString(values, 'data'), out: requiredString(values, 'out'),
      k: numberOption(values, 'k', 10, { min: 2, integer: true }),
      ...(values['epochs'] !== undefined ? { recipe: { epochs: numberOption(values, 'epochs', 20, { min: 1, integer: true }) } } : {}),
      seed: numberOption(values, 'seed', 0, { min: 0, integer: true }),
      ...(values['limit'] !== undefined ? { limit: numberOption(values, 'limit', 0, { min: 20, integer: true }) } : {}),
      ...(dataDir ? { dataOptions: { dataDir } } : {}),
      resume: flag(values, 'resume'),
    });
    const tests = manifest.memberResults.map((r) => r.testAccuracy).filter((v): v is number => v !== null);
    const mean = tests.reduce((a, b) => a + b, 0) / Math.max(1, tests.length);
    print(`${manifest.k} members of ${manifest.architecture} on ${manifest.data}: mean member test accuracy ${(mean * 100).toFixed(2)}%`);
    return { ...manifest, meanMemberTestAccuracy: mean };
  },
};
