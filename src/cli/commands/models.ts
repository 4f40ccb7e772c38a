/** `bastion models`: the model zoo with parameter counts. */
import { numberOption } from '../args.js';
import type { Command } from '../command.js';

export const modelsCommand: Command = {
  name: 'models',
  summary: 'List the model zoo: classifiers and purifiers, with parameter counts',
  usage: 'models [--channels C] [--size PX] [--classes N]',
  description: 'Parameter counts are for the given input (default: 28x28 grayscale, 10 classes — MNIST).',
  options: {
    channels: { type: 'string', valueName: 'C', description: 'image channels (default 1)' },
    size: { type: 'string', valueName: 'PX', description: 'image height and width (default 28)' },
    classes: { type: 'string', valueName: 'N', description: 'number of classes (default 10)' },
  },
  async run({ values, print }) {
    const { architectures, createModel, modelConfig } = await import('../../models/index.js');
    const channels = numberOption(values, 'channels', 1, { min: 1, integer: true });
    const size = numberOption(values, 'size', 28, { min: 8, integer: true });
    const numClasses = numberOption(values, 'classes', 10, { min: 2, integer: true });
    const rows = architectures.map((a) => {
      let parameters: number | null = null;
      let note = '';
      try {
        const model = createModel(a.name, modelConfig(a.name, { channels, height: size, width: size, numClasses }));
        parameters = model.numParameters();
        model.dispose();
      } catch (error) {
        note = (error as Error).message;
      }
      return { name: a.name, kind: a.kind, parameters, paper: a.paper, summary: a.summary, ...(note ? { note } : {}) };
    });
    const w = Math.max(...rows.map((r) => r.name.length));
    print(`Model zoo (parameters for ${channels}x${size}x${size} input, ${numClasses} classes):`);
    for (const r of rows) {
      const count = r.parameters === null ? 'n/a'.padStart(11) : r.parameters.toLocaleString('en-US').padStart(11);
      print(`  ${r.name.padEnd(w)}  ${r.kind.padEnd(10)} ${count}  ${r.summary}  [paper ${r.paper}]${r.note ? `  (${r.note})` : ''}`);
    }
    return { input: { channels, size, numClasses }, models: rows };
  },
};
