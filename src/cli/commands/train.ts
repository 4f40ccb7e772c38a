/**
 * `bastion train`: trains a classifier of the model zoo on a data set, or fine-tunes an existing one
 * (a Bastion model or an imported ONNX/TorchScript file), optionally adversarially (Madry, ALP, TRADES, +AAD).
 */
import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { IMPORT_OPTIONS, importOptionsFrom } from '../import-options.js';
import { choiceOption, numberListOption, numberOption, requiredString, stringOption, flag } from '../args.js';
import type { Command, OptionValues } from '../command.js';
import { BastionError, UsageError } from '../../util/errors.js';
import { CHECKPOINT_OWNS } from '../../io/checkpoint-files.js';
import type { Paper004Experiment } from '../../eval/aad-config.js';

export const trainCommand: Command = {
  name: 'train',
  onInterrupt: 'stop',
  summary: 'Train a classifier of the model zoo (simple-cnn, lenet, vgg16, ...) on a data set, or fine-tune your own',
  output: { option: 'out', owns: CHECKPOINT_OWNS, create: false },
  usage: 'train --model NAME|DIR|FILE --data NAME|DIR --out DIR [--epochs N] [--lr X] [--batch-size N] [--seed N] [--resume|--restart] [--force]\n' +
    '      [--recipe paper004] [--defense madry|alp|trades --eps X [--attack-steps N] [--step-size S] [--aad [--alpha A] [--beta B]]]',
  description:
    'Trains with the recipe for the architecture and data set (Adam + one-cycle for the small CNNs, SGD for VGG/ResNet; ' +
    'random crops, flips for non-digit data; 5,000 validation images choose the best epoch), then reports the accuracy ' +
    'on the test split and saves the model to --out. Interrupted runs continue with --resume (state in OUT.work/, saved after every epoch, every 10 minutes within one and at Ctrl-C) ' +
    'with the same options (a changed data set, model, recipe or limit is refused, naming it); a new run refuses to discard OUT.work/ without --restart ' +
    'and to replace a model of another architecture in --out without --force. --out is checked (not a file, writable, no foreign files) and locked before any data is loaded. ' +
    'With --defense, every batch is attacked on the fly by PGD (model in eval mode) and the model trains on Madry\'s, ' +
    'ALP\'s or TRADES\' loss; --aad adds paper 004\'s attention rectification and preservation losses. --recipe paper004 ' +
    'applies paper 004\'s schedule for the data set (LeNet: Adam 1e-3, batch 100, 5 epochs, no validation split, with ' +
    'our learning-rate decay to a tenth for the last epoch; ResNet-9: Adam 1e-4, batch 100, 200 epochs) and, with ' +
    '--defense, its training attack unless given (LeNet: eps ramped up over the first epoch, attack in bfloat16 ' +
    'where the CPU has AVX512-BF16; see src/eval/aad-config.ts). --epochs keeps a recipe\'s learning-rate decays at ' +
    'the same fractions of the run. ' +
    'With --model naming a model folder or an ONNX/TorchScript file, that model is fine-tuned instead (Adam 1e-4, constant ' +
    'schedule, 5 epochs unless --lr/--epochs say otherwise; every weight trains, an imported ONNX graph\'s BatchNorm ' +
    'statistics stay frozen): with --defense, adversarial fine-tuning of your own model. The result is a model folder like any other.',
  options: {
    model: { type: 'string', valueName: 'NAME|DIR|FILE', description: 'architecture (see `bastion models`) to train from scratch, or a model to fine-tune: a Bastion model folder, a `bastion import` folder, or an ONNX (.onnx) / TorchScript (.pt) file (import flags as in `bastion import --help`)' },
    ...IMPORT_OPTIONS,
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
    resume: { type: 'boolean', description: 'continue an interrupted run from OUT.work/ (saved every epoch, every 10 min and at Ctrl-C); the options must be the same' },
    restart: { type: 'boolean', description: 'discard an interrupted run in OUT.work/ and start over' },
    force: { type: 'boolean', description: 'replace a model of another architecture already in --out' },
    recipe: { type: 'string', valueName: 'NAME', description: 'default, or paper004 (paper 004 sec. 5.1 schedule and training attack)' },
    defense: { type: 'string', valueName: 'NAME', description: 'adversarial training: madry, alp or trades' },
    eps: { type: 'string', valueName: 'X', description: 'training attack budget (L-inf, pixels in [0,1]; 8/255 accepted)' },
    'attack-steps': { type: 'string', valueName: 'N', description: 'PGD iterations of the training attack (default 40, or the recipe\'s)' },
    'step-size': { type: 'string', valueName: 'S', description: 'PGD step size (default 2.5 eps / steps, or the recipe\'s; 2/255 accepted)' },
    aad: { type: 'boolean', description: 'add AAD attention losses (paper 004 eq. 10)' },
    alpha: { type: 'string', valueName: 'A', description: 'AAD rectification weight (default 0.01)' },
    beta: { type: 'string', valueName: 'B', description: 'AAD preservation weight (default 0.01)' },
    'classification-loss': { type: 'string', valueName: 'ce|mlsm', description: 'cross-entropy (default) or multi-label soft margin (paper 004\'s L_c)' },
    'alp-weight': { type: 'string', valueName: 'L', description: 'ALP logit-pairing weight (default 0.5)' },
    'trades-beta': { type: 'string', valueName: 'B', description: 'TRADES KL weight (default 6)' },
    'eps-warmup': { type: 'string', valueName: 'E', description: 'ramp the training eps from 0 over E epochs (default 0, or the recipe\'s)' },
    'attack-precision': { type: 'string', valueName: 'P', description: 'precision of the training attack: float32, bfloat16 (autocast; 1.8x faster on CPUs with AVX512-BF16, ~20x slower without), or auto (bfloat16 where the CPU has it, float16 on CUDA, else float32); default float32, or the recipe\'s (auto). Evaluation attacks always run in float32' },
    'keep-work': { type: 'boolean', description: 'keep OUT.work/ (resumable state) after success' },
  },
  examples: [
    'bastion train --model simple-cnn --data mnist --out runs/models/simple-cnn-mnist',
    'bastion train --model simple-cnn --data fashion-mnist --epochs 30 --out runs/models/simple-cnn-fashion-mnist',
    'bastion train --model vgg16 --data afhq --image-size 64 --out runs/models/vgg16-afhq',
    'bastion train --model lenet --data mnist --recipe paper004 --defense madry --aad --out runs/models/lenet-madry-aad-mnist',
    'bastion train --model resnet9 --data cifar10 --recipe paper004 --defense alp --aad --out runs/models/resnet9-alp-aad-cifar10',
    'bastion train --model my-cnn.onnx --data mnist --defense madry --eps 0.3 --epochs 3 --out runs/models/my-cnn-madry   # adversarial fine-tuning of an imported model',
  ],
  async run({ values, print, signal }) {
    const { trainClassifier, recipeForEpochs } = await import('../../models/train-classifier.js');
    const modelName = requiredString(values, 'model', 'see `bastion models` for the names, or give a model file or folder to fine-tune');
    const { isImportableFile } = await import('../../models/registry.js');
    // A file or folder is a model to fine-tune; anything else names a zoo architecture.
    const fineTune = isImportableFile(modelName) || existsSync(join(modelName, 'model.json'));
    const architectureName = fineTune ? basename(modelName) : modelName;
    if (!fineTune) {
      const stray = Object.keys(IMPORT_OPTIONS).find((k) => values[k] !== undefined);
      if (stray) throw new UsageError(`--${stray} describes a model file to fine-tune; --model ${modelName} names an architecture`);
    }
    const data = requiredString(values, 'data');
    const out = requiredString(values, 'out');
    const recipeName = choiceOption(values, 'recipe', ['default', 'paper004'] as const, 'default');
    const experiment = recipeName === 'paper004' ? (await import('../../eval/aad-config.js')).paper004Experiment(data) : null;
    if (experiment !== null && (fineTune || experiment.architecture !== architectureName)) {
      throw new UsageError(`--recipe paper004 on ${data} is for --model ${experiment.architecture}, not ${architectureName}`);
    }
    let recipe: Record<string, unknown> = { ...experiment?.recipe };
    if (values['epochs'] !== undefined) recipe = recipeForEpochs(recipe, numberOption(values, 'epochs', 0, { min: 1, integer: true })) as Record<string, unknown>;
    if (values['lr'] !== undefined) recipe['lr'] = numberOption(values, 'lr', 0, { min: 0 });
    if (values['batch-size'] !== undefined) recipe['batchSize'] = numberOption(values, 'batch-size', 0, { min: 1, integer: true });
    if (values['val-count'] !== undefined) recipe['valCount'] = numberOption(values, 'val-count', 0, { min: 0, integer: true });
    if (values['dropout'] !== undefined) recipe['model'] = { dropout: numberOption(values, 'dropout', 0, { min: 0, max: 0.95 }) };
    const dataDir = stringOption(values, 'data-dir');
    const defense = await defenseFrom(values, experiment?.trainingAttack ?? null);
    if (defense?.info.attackPrecisionRequested === 'bfloat16' && !(await import('../../tensor/index.js')).cpuHasNativeBFloat16()) {
      print('note: this CPU has no AVX512-BF16, so a bfloat16 attack is emulated (~20x slower than float32 on AMD Zen 3); --attack-precision auto picks the fast one');
    }
    if (flag(values, 'resume') && flag(values, 'restart')) throw new UsageError('--resume continues OUT.work/, --restart discards it: give one');
    const result = await trainClassifier({
      architecture: architectureName, data, out,
      ...(fineTune ? { from: { path: modelName, importOptions: importOptionsFrom(values) } } : {}),
      recipe, seed: numberOption(values, 'seed', 0, { min: 0, integer: true }),
      dataOptions: {
        ...(dataDir ? { dataDir } : {}),
        ...(values['image-size'] !== undefined ? { size: numberOption(values, 'image-size', 64, { min: 8, integer: true }) } : {}),
        ...(flag(values, 'grayscale') ? { channels: 1 } : {}),
      },
      ...(values['limit'] !== undefined ? { limit: numberOption(values, 'limit', 0, { min: 10, integer: true }) } : {}),
      resume: flag(values, 'resume'), restart: flag(values, 'restart'), force: flag(values, 'force'), keepWork: flag(values, 'keep-work'),
      ...(signal ? { signal } : {}),
      ...(defense ? { loss: defense.loss, metrics: defense.metrics, trainingInfo: { ...defense.info, recipeName }, onEvent: defense.observe } : {}),
      command: `bastion train ${process.argv.slice(3).join(' ')}`,
    }).catch(async (error: unknown) => {
      if (signal?.aborted === true) throw await interruptedTraining(out);
      throw error;
    });
    const acc = result.testAccuracy === null ? 'n/a (no test split)' : `${(result.testAccuracy * 100).toFixed(2)}%`;
    print(`${architectureName} on ${data}: ${result.testSplit ?? 'test'} accuracy ${acc} after ${result.epochs} epochs ` +
      `(best validation ${result.bestValAccuracy === null ? 'n/a' : (result.bestValAccuracy * 100).toFixed(2) + '%'} at epoch ${result.bestEpoch ?? '-'}), ` +
      `${result.parameters.toLocaleString('en-US')} parameters, ${result.wallSeconds.toFixed(0)} s; saved to ${out}`);
    return {
      model: architectureName, data, out, testAccuracy: result.testAccuracy, testSplit: result.testSplit,
      bestValAccuracy: result.bestValAccuracy, bestEpoch: result.bestEpoch, epochs: result.epochs,
      parameters: result.parameters, trainSamples: result.trainSamples, wallSeconds: result.wallSeconds, recipe: result.recipe,
      defense: defense?.info ?? null,
    };
  },
};

/** The error a Ctrl-C'd training run ends with: what OUT.work/ kept and how to continue. */
export async function interruptedTraining(out: string): Promise<BastionError> {
  const { readTrainStateMeta, checkpointExists } = await import('../../io/checkpoint.js');
  const last = join(`${out}.work`, 'last');
  const state = checkpointExists(last) ? await readTrainStateMeta(last).catch(() => null) : null;
  if (state === null) return new BastionError('interrupted before the first checkpoint: nothing was saved', { hint: 'run the command again', exitCode: 130 });
  const epochs = Number(state['epochsCompleted']);
  const partial = state['partial'] as { batchesDone?: number } | undefined;
  const where = partial?.batchesDone === undefined ? `${epochs} epoch${epochs === 1 ? '' : 's'}` : `${epochs} epoch${epochs === 1 ? '' : 's'} and ${partial.batchesDone} batches of the next`;
  return new BastionError(`interrupted: ${where} saved in ${last}`, { hint: 'continue with the same command and --resume', exitCode: 130 });
}

/** The adversarial-training loss the --defense options ask for (null without --defense). */
async function defenseFrom(values: OptionValues, recipeAttack: Paper004Experiment['trainingAttack'] | null) {
  const adversarialOnly = ['eps', 'attack-steps', 'step-size', 'aad', 'alpha', 'beta', 'classification-loss', 'alp-weight', 'trades-beta', 'eps-warmup', 'attack-precision'];
  if (values['defense'] === undefined) {
    const stray = adversarialOnly.find((k) => values[k] !== undefined && values[k] !== false);
    if (stray) throw new UsageError(`--${stray} applies to adversarial training only`, 'add --defense madry|alp|trades');
    return null;
  }
  const { adversarialTraining, ADVERSARIAL_METHODS, ATTACK_PRECISIONS } = await import('../../defenses/adversarial-training.js');
  const method = choiceOption(values, 'defense', ADVERSARIAL_METHODS, 'madry');
  const one = (name: string, fallback: number | undefined): number | undefined => {
    const list = numberListOption(values, name, fallback === undefined ? [] : [fallback], { min: 0 });
    if (list.length > 1) throw new UsageError(`--${name} takes one number`);
    return list[0];
  };
  const eps = one('eps', recipeAttack?.eps);
  if (eps === undefined) throw new UsageError('--defense needs --eps', 'e.g. --eps 0.3 on MNIST or --eps 8/255 on CIFAR-10, or --recipe paper004');
  const explicitSteps = values['attack-steps'] !== undefined;
  const steps = explicitSteps ? numberOption(values, 'attack-steps', 40, { min: 1, integer: true }) : recipeAttack?.steps;
  // The recipe's step size belongs to its step count: with other --attack-steps, PGD's default rule applies.
  const stepSize = one('step-size', explicitSteps || eps !== recipeAttack?.eps ? undefined : recipeAttack?.stepSize);
  if (!flag(values, 'aad') && (values['alpha'] !== undefined || values['beta'] !== undefined)) throw new UsageError('--alpha and --beta weigh the AAD losses', 'add --aad');
  return adversarialTraining({
    method, eps,
    ...(steps !== undefined ? { steps } : {}),
    ...(stepSize !== undefined ? { stepSize } : {}),
    classificationLoss: choiceOption(values, 'classification-loss', ['ce', 'mlsm'] as const, 'ce'),
    ...(values['alp-weight'] !== undefined ? { alpWeight: numberOption(values, 'alp-weight', 0.5, { min: 0 }) } : {}),
    ...(values['trades-beta'] !== undefined ? { tradesBeta: numberOption(values, 'trades-beta', 6, { min: 0 }) } : {}),
    aad: flag(values, 'aad') ? { alpha: numberOption(values, 'alpha', 0.01, { min: 0 }), beta: numberOption(values, 'beta', 0.01, { min: 0 }) } : false,
    epsWarmupEpochs: numberOption(values, 'eps-warmup', recipeAttack?.epsWarmupEpochs ?? 0, { min: 0 }),
    attackPrecision: choiceOption(values, 'attack-precision', ATTACK_PRECISIONS, recipeAttack?.attackPrecision ?? 'float32'),
  });
}

