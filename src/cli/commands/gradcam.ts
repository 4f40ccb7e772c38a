/** `bastion gradcam`: Grad-CAM heat maps (paper 004 eq. 1-2) of image files, as overlay PNGs. */
import { basename, extname, join } from 'node:path';
import { numberOption, requiredString, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../../util/errors.js';
import { CLASSIFIER_OPTION_HELP, IMPORT_OPTIONS, chooseLayer, classNamesOf, importHelp, loadCommandClassifier } from '../import-options.js';

export const gradcamCommand: Command = {
  name: 'gradcam',
  summary: 'Grad-CAM heat maps of image files over the images (PNG), for a class or the prediction',
  output: { option: 'out', owns: [/-gradcam\.png$/] },
  usage: 'gradcam --model DIR|FILE [--layer NAME] [--class N] [--alpha A] --out DIR IMAGE...',
  description:
    'Each image is converted to the model\'s input (channels, size) and explained by Grad-CAM at --layer (default: the ' +
    'model\'s last convolutional feature map) for --class (default: the predicted class). Writes OUT/<name>-gradcam.png, ' +
    'the turbo-coloured map upsampled to the input size and blended over a grayscale copy, and prints the class, its ' +
    'probability and the share of the image in the attention area (map >= its mean, paper 004 eq. 3). An imported ' +
    'model\'s tap points are its 4-D activations, named as in the file (`bastion import MODEL` lists them); its default ' +
    'layer is the last one before global pooling.\n\n' + importHelp('model'),
  options: {
    model: { type: 'string', valueName: 'DIR|FILE', description: CLASSIFIER_OPTION_HELP },
    layer: { type: 'string', valueName: 'NAME', description: 'tap point Grad-CAM reads (default: the model\'s camLayer, its last feature map before pooling)' },
    class: { type: 'string', valueName: 'N', description: 'class index to explain (default: the prediction)' },
    alpha: { type: 'string', valueName: 'A', description: 'weight of the heat map in the blend (default 0.5)' },
    out: { type: 'string', valueName: 'DIR', description: 'folder for the PNGs' },
    ...IMPORT_OPTIONS,
  },
  allowPositionals: true,
  examples: [
    'bastion gradcam --model runs/models/lenet-raw-mnist --out runs/gradcam digit.png',
    'bastion gradcam --model resnet18.onnx --layer /layer4/layer4.1/relu_1/Relu_output_0 --out runs/gradcam cat.jpg',
  ],
  async run({ values, positionals, print }) {
    if (positionals.length === 0) throw new UsageError('give at least one image file');
    const { distinctOutputNames } = await import('../../io/output-dir.js');
    const outputNames = distinctOutputNames(positionals, (file) => `${basename(file, extname(file))}-gradcam.png`);
    const { loadImageFile, convertChannels, resizeImage, encodePng } = await import('../../io/image.js');
    const { imageToTensor } = await import('../../io/image-tensor.js');
    const { writeFileAtomic } = await import('../../io/atomic.js');
    const { noGrad, scope, stack, tensor } = await import('../../tensor/index.js');
    const { gradCam, attentionArea } = await import('../../explain/gradcam.js');
    const { heatmapOverlay } = await import('../../explain/overlay.js');
    const outDir = requiredString(values, 'out');
    const alpha = numberOption(values, 'alpha', 0.5, { min: 0, max: 1 });
    const modelPath = requiredString(values, 'model');
    const { model, meta } = await loadCommandClassifier(values, 'model', modelPath);
    try {
      const layer = chooseLayer(model, modelPath, stringOption(values, 'layer'));
      const explicit = values['class'] === undefined ? null : numberOption(values, 'class', 0, { min: 0, max: model.numClasses - 1, integer: true });
      const classNames = classNamesOf(model, meta) ?? Array.from({ length: model.numClasses }, (_, i) => String(i));
      model.eval();
      const images = await Promise.all(positionals.map(async (file) => {
        const raw = await loadImageFile(file);
        return resizeImage(convertChannels(raw, model.channels as 1 | 3), model.width, model.height, 'stretch');
      }));
      const results = [];
      for (const [n, file] of positionals.entries()) {
        const done = scope(() => {
          const x = stack([imageToTensor(images[n] as (typeof images)[number])]);
          const classes = explicit === null ? model.predict(x) : tensor([explicit], { dtype: 'int64' });
          const { maps, logits } = gradCam(model, x, { classes, layer });
          const index = classes.item();
          const probability = noGrad(() => logits.softmax(1).select(1, index).item());
          const area = attentionArea(maps).float().mean().item();
          return { png: encodePng(heatmapOverlay(x.select(0, 0), maps.select(0, 0), alpha)), index, probability, area, grid: [maps.shape[1], maps.shape[2]] };
        });
        const path = join(outDir, outputNames[n] as string);
        await writeFileAtomic(path, done.png, { mkdirs: true });
        const name = classNames[done.index] ?? String(done.index);
        print(`${file}: class ${name} (p ${(done.probability * 100).toFixed(1)}%), attention area ${(done.area * 100).toFixed(0)}% of the ${done.grid.join('x')} map -> ${path}`);
        results.push({ file, out: path, class: name, index: done.index, probability: done.probability, attentionArea: done.area });
      }
      return { model: meta.architecture, layer, results };
    } finally {
      model.dispose();
    }
  },
};
