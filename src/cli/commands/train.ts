/** `bastion train`: trains a classifier of the model zoo on a data set. */
import { numberOption, requiredString, stringOption, flag } from '../args.js';
import type { Command } from '../command.js';

export const trainCommand: Command = {
  name: 'train',
  summary: 'Train a classifier of the model zoo (simple-cnn, lenet, vgg16, ...) on a data set',
  usage: 'train --model NAME --data NAME|DIR --out DIR [--epochs N] [--lr X] [--batch-size N] [--seed N] [--resume]',
  description:
    'Trains with the recipe for the architecture and data set (Adam + one-cycle for the small CNNs, SGD for VGG/ResNet; ' +
    'random crops, flips for non-digit data; 5,000 validation images choose the best epoch), then reports the accuracy ' +
    'on the test split and saves the model to --out. Interrupted runs continue with --resume (state in OUT.work/).',
  options: {
    model: { type: 'string', valueName: 'NAME', description: 'architecture (see `bastion models`)' },
    data: { type: 'string', valueName: 'NAME|DIR', description: 'data set name (mnist, fashion-mnist, cifar10, afhq, ...) or image folder' },
    out: { type: 'string', valueName: 'DIR', description: 'where the trained model is saved' },
    epochs: { type: 'string', valueName: 'N', description: 'epochs (default: recipe)' },
    lr: { type: 'string', valueName: 'X', description: 'peak learning rate (default: recipe)' },
    'batch-size': { type: 'string', valueName: 'N', description: 'batch size (default 128)' },
    'val-count': { type: 'string', valueName: 'N', description: 'validation images held out of train (default 5000; 0 = none)' },
    dropout: { type: 'string', valueName: 'P', description: 'dropout before the last layer (architectures that have it)' },
    limit: { type: 'string', valueName: 'N', description: 'train on the first N images only (quick runs)' },
    'image-size': { type: 'string', valueName: 'PX', description: 'image folders: resize to PX x PX (default 64)' },
    grayscale: { type: 'boolean', description: 'image folders: load as one channel' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'where to look for data sets first' },
    seed: { type: 'string', valueName: 'N', description: 'random seed (default 0)' },
    resume: { type: 'boolean', description: 'continue an interrupted run from OUT.work/' },
    'keep-work': { type: 'boolean', description: 'keep OUT.work/ (resumable state) after success' },
  },
  examples: [
    'bastion train --model simple-cnn --data mnist --out runs/models/simple-cnn-mnist',
    'bastion train --model simple-cnn --data fashion-mnist --epochs 30 --out runs/models/simple-cnn-fashion-mnist',
    'bastion train --model vgg16 --data afhq --image-size 64 --out runs/models/vgg16-afhq',
  ],
  async run({ values, print }) {
    const { trainClassifier } = await import('../../models/train-classifier.js');
    const architectureName = requiredString(values, 'model', 'see `bastion models` for the names');
    const data = requiredString(values, 'data');
    const out = requiredString(values, 'out');
    const recipe: Record<string, unknown> = {};
    if (values['epochs'] !== undefined) recipe['epochs'] = numberOption(values, 'epochs', 0, { min: 1, integer: true });
    if (values['lr'] !== undefined) recipe['lr'] = numberOption(values, 'lr', 0, { min: 0 });
    if (values['batch-size'] !== undefined) recipe['batchSize'] = numberOption(values, 'batch-size', 0, { min: 1, integer: true });
    if (values['val-count'] !== undefined) recipe['valCount'] = numberOption(values, 'val-count', 0, { min: 0, integer: true });
    if (values['dropout'] !== undefined) recipe['model'] = { dropout: numberOption(values, 'dropout', 0, { min: 0, max: 0.95 }) };
    const dataDir = stringOption(values, 'data-dir');
    const result = await trainClassifier({
      architecture: architectureName, data, out,
      recipe, seed: numberOption(values, 'seed', 0, { min: 0, integer: true }),
      dataOptions: {
        ...(dataDir ? { dataDir } : {}),
        ...(values['image-size'] !== undefined ? { size: numberOption(values, 'image-size', 64, { min: 8, integer: true }) } : {}),
        ...(flag(values, 'grayscale') ? { channels: 1 } : {}),
      },
      ...(values['limit'] !== undefined ? { limit: numberOption(values, 'limit', 0, { min: 10, integer: true }) } : {}),
      resume: flag(values, 'resume'), keepWork: flag(values, 'keep-work'),
      command: `bastion train ${process.argv.slice(3).join(' ')}`,
    });
    const acc = result.testAccuracy === null ? 'n/a (no test split)' : `${(result.testAccuracy * 100).toFixed(2)}%`;
    print(`${architectureName} on ${data}: ${result.testSplit ?? 'test'} accuracy ${acc} after ${result.epochs} epochs ` +
      `(best validation ${result.bestValAccuracy === null ? 'n/a' : (result.bestValAccuracy * 100).toFixed(2) + '%'} at epoch ${result.bestEpoch ?? '-'}), ` +
      `${result.parameters.toLocaleString('en-US')} parameters, ${result.wallSeconds.toFixed(0)} s; saved to ${out}`);
    return {
      model: architectureName, data, out, testAccuracy: result.testAccuracy, testSplit: result.testSplit,
      bestValAccuracy: result.bestValAccuracy, bestEpoch: result.bestEpoch, epochs: result.epochs,
      parameters: result.parameters, trainSamples: result.trainSamples, wallSeconds: result.wallSeconds, recipe: result.recipe,
    };
  },
};
