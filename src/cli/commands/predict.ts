/** `bastion predict`: classifies image files with a trained classifier (optionally behind a purifier). */
import { numberOption, requiredString, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../../util/errors.js';
import { CLASSIFIER_OPTION_HELP, IMPORT_OPTIONS, classNamesOf, importHelp, loadCommandClassifier } from '../import-options.js';

export const predictCommand: Command = {
  name: 'predict',
  summary: 'Classify PNG/JPEG files with a trained classifier (optionally purified first)',
  usage: 'predict --model DIR|FILE [--purifier DIR] [--top K] IMAGE...',
  description:
    'Each image is converted to the model\'s input (channels, size; area-averaged when shrinking) and classified; ' +
    'prints the top classes with probabilities.\n\n' + importHelp('model'),
  options: {
    model: { type: 'string', valueName: 'DIR|FILE', description: CLASSIFIER_OPTION_HELP },
    purifier: { type: 'string', valueName: 'DIR', description: 'purifier checkpoint to apply first' },
    top: { type: 'string', valueName: 'K', description: 'classes to show per image (default 3)' },
    ...IMPORT_OPTIONS,
  },
  allowPositionals: true,
  examples: [
    'bastion predict --model runs/models/simple-cnn-mnist digit.png',
    'bastion predict --model resnet18.onnx --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --class-names classes.txt cat.jpg',
  ],
  async run({ values, positionals, print }) {
    if (positionals.length === 0) throw new UsageError('give at least one image file');
    const { loadPurifier } = await import('../../models/index.js');
    const { loadImageFile, convertChannels, resizeImage } = await import('../../io/image.js');
    const { imageToTensor } = await import('../../io/image-tensor.js');
    const { noGrad, scope, stack } = await import('../../tensor/index.js');
    const { model, meta } = await loadCommandClassifier(values, 'model', requiredString(values, 'model'));
    const purifierDir = stringOption(values, 'purifier');
    const purifier = purifierDir ? (await loadPurifier(purifierDir)).model : null;
    const top = numberOption(values, 'top', 3, { min: 1, integer: true });
    const classNames = classNamesOf(model, meta) ?? Array.from({ length: model.numClasses }, (_, i) => String(i));
    try {
      const images = await Promise.all(positionals.map(async (file) => {
        const raw = await loadImageFile(file);
        return resizeImage(convertChannels(raw, model.channels as 1 | 3), model.width, model.height, 'stretch');
      }));
      const results = noGrad(() => scope(() => {
        const x = stack(images.map((img) => imageToTensor(img)));
        const input = purifier ? purifier.forward(x) : x;
        const probs = model.forward(input).softmax(1);
        const { values: p, indices } = probs.topk(Math.min(top, model.numClasses), 1);
        const pv = p.toNumbers();
        const iv = indices.toNumbers();
        const k = Math.min(top, model.numClasses);
        return positionals.map((file, n) => ({
          file,
          predictions: Array.from({ length: k }, (_, j) => ({ class: classNames[iv[n * k + j] as number] ?? String(iv[n * k + j]), index: iv[n * k + j] as number, probability: pv[n * k + j] as number })),
        }));
      }));
      for (const r of results) print(`${r.file}: ${r.predictions.map((p) => `${p.class} ${(p.probability * 100).toFixed(1)}%`).join(', ')}`);
      return { model: meta.architecture, purifier: purifierDir ?? null, results };
    } finally {
      model.dispose();
      purifier?.dispose();
    }
  },
};
