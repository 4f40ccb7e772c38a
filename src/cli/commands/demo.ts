/**
 * `bastion demo`: the quick start's end-to-end run — train a small classifier and a purifier on
 * Fashion-MNIST, attack and defend them (experiments/demo.json through `bastion reproduce`), and
 * write the HTML report.
 */
import { join } from 'node:path';
import { flag, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { reproduceCommand } from './reproduce.js';

/** The `bastion demo` command. */
export const demoCommand: Command = {
  name: 'demo',
  onInterrupt: 'finished evaluations and the checkpoints of models in training (saved every epoch and every 10 minutes) are kept; run the same command again to continue',
  summary: 'Train, attack and defend a small Fashion-MNIST model end to end and write an HTML report (a few minutes)',
  usage: 'demo [--out DIR] [--retrain]',
  description:
    'Runs experiments/demo.json (a smoke run): the simple CNN trained briefly on part of Fashion-MNIST, a CAE purifier ' +
    'trained on FGSM/PGD examples of it, FGSM and PGD sweeps, and the defense in gray-box, white-box and BPDA modes, then ' +
    'writes report.html. Needs only Fashion-MNIST (Debian\'s dataset-fashion-mnist, which setup.sh installs, or ' +
    '`bastion data download fashion-mnist`). Trained models go to the model cache (runs/cache/models or ' +
    '$BASTION_CACHE_DIR/models), so a second demo only evaluates; --retrain trains again.',
  options: {
    out: { type: 'string', valueName: 'DIR', description: 'output folder (default runs/demo)' },
    retrain: { type: 'boolean', description: 'train the models again even when cached' },
  },
  examples: ['bastion demo --out runs/demo', 'bastion serve   # then open the demo\'s report and the playground'],
  async run(context) {
    const started = performance.now();
    const { locateDataset } = await import('../../data/index.js');
    const { BastionError } = await import('../../util/errors.js');
    try {
      locateDataset('fashion-mnist');
    } catch (error) {
      throw new BastionError(`the demo needs Fashion-MNIST: ${(error as Error).message}`, {
        hint: 'run ./setup.sh (installs Debian\'s dataset-fashion-mnist) or `bastion data download fashion-mnist`', cause: error,
      });
    }
    const out = stringOption(context.values, 'out') ?? join('runs', 'demo');
    const reproduced = await reproduceCommand.run({ ...context, values: { out, retrain: flag(context.values, 'retrain') }, positionals: ['demo'] });
    const { writeReport } = await import('../../report/html.js');
    const report = await writeReport(out);
    const wallSeconds = (performance.now() - started) / 1000;
    context.print(`demo finished in ${(wallSeconds / 60).toFixed(1)} min (${wallSeconds.toFixed(0)} s)`);
    context.print(`report: ${report.path}`);
    context.print('open it in a browser, or run `node bin/bastion.js serve` for the dashboard and the attack playground');
    return { ...reproduced, report: report.path, wallSeconds };
  },
};
