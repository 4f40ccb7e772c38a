/**
 * `bastion defend`: purifies image files with a trained purifier (CAE, CSAAE, DAE) and shows the
 * classifier's verdict before and after, writing the purified images.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { numberOption, requiredString } from '../args.js';
import type { Command } from '../command.js';
import { UsageError } from '../../util/errors.js';
import { CLASSIFIER_OPTION_HELP, IMPORT_OPTIONS, classNamesOf, importHelp, loadCommandClassifier } from '../import-options.js';

export const defendCommand: Command = {
  name: 'defend',
  summary: 'Purify image files with a trained purifier and compare the classifier\'s verdict before and after',
  output: { option: 'out', owns: [/\.purified\.png$/] },
  usage: 'defend --classifier DIR|FILE --purifier DIR [--out DIR] IMAGE...',
  description: 'Each image is converted to the classifier\'s input (channels, size), purified, and classified before and after; ' +
    'with --out, the purified images are written there as PNG (NAME.purified.png).\n\n' + importHelp('classifier'),
  options: {
    classifier: { type: 'string', valueName: 'DIR|FILE', description: CLASSIFIER_OPTION_HELP },
    purifier: { type: 'string', valueName: 'DIR', description: 'purifier checkpoint' },
    out: { type: 'string', valueName: 'DIR', description: 'write the purified images here' },
    top: { type: 'string', valueName: 'K', description: 'classes shown per verdict (default 1)' },
    ...IMPORT_OPTIONS,
  },
  allowPositionals: true,
  examples: ['bastion defend --classifier runs/models/simple-cnn-mnist --purifier runs/models/cae-mnist --out purified adv.png'],
  async run({ values, positionals, print }) {
    if (positionals.length === 0) throw new UsageError('give at least one image file');
    const { distinctOutputNames } = await import('../../io/output-dir.js');
    const outputNames = distinctOutputNames(positionals, (file) => `${basename(file, extname(file))}.purified.png`);
    const { loadPurifier } = await import('../../models/index.js');
    const { loadImageFile, convertChannels, resizeImage } = await import('../../io/image.js');
    const { imageToTensor, tensorToPng } = await import('../../io/image-tensor.js');
    const { noGrad, scope, stack } = await import('../../tensor/index.js');
    const purifierDir = requiredString(values, 'purifier');
    const { model: classifier, meta } = await loadCommandClassifier(values, 'classifier', requiredString(values, 'classifier'));
    let purifier;
    try {
      purifier = (await loadPurifier(purifierDir)).model;
    } catch (error) {
      classifier.dispose();
      throw error;
    }
    const top = numberOption(values, 'top', 1, { min: 1, integer: true });
    const names = classNamesOf(classifier, meta) ?? Array.from({ length: classifier.numClasses }, (_, i) => String(i));
    const out = values['out'] as string | undefined;
    try {
      if (purifier.channels !== classifier.channels || purifier.height !== classifier.height || purifier.width !== classifier.width) {
        throw new UsageError(`the purifier works on ${purifier.channels}x${purifier.height}x${purifier.width} images but the classifier on ${classifier.channels}x${classifier.height}x${classifier.width}`);
      }
      const images = await Promise.all(positionals.map(async (file) => {
        const raw = await loadImageFile(file);
        return resizeImage(convertChannels(raw, classifier.channels as 1 | 3), classifier.width, classifier.height, 'stretch');
      }));
      if (out) await mkdir(out, { recursive: true });
      const describe = (probs: number[]): { class: string; probability: number }[] =>
        probs.map((p, i) => ({ class: names[i] ?? String(i), probability: p })).sort((a, b) => b.probability - a.probability).slice(0, top);
      const results = [];
      const computed = noGrad(() => scope(() => {
        const x = stack(images.map((img) => imageToTensor(img)));
        const purified = purifier.forward(x);
        const before = classifier.forward(x).softmax(1).toNumbers();
        const after = classifier.forward(purified).softmax(1).toNumbers();
        const pngs = positionals.map((_, i) => tensorToPng(purified.select(0, i)));
        const change = purified.sub(x).abs().amax([1, 2, 3]).toNumbers();
        return { before, after, pngs, change };
      }));
      const k = classifier.numClasses;
      for (const [i, file] of positionals.entries()) {
        const before = describe(computed.before.slice(i * k, (i + 1) * k));
        const after = describe(computed.after.slice(i * k, (i + 1) * k));
        let written: string | null = null;
        if (out) {
          written = join(out, outputNames[i] as string);
          await writeFile(written, computed.pngs[i] as Uint8Array);
        }
        const fmt = (v: { class: string; probability: number }[]): string => v.map((p) => `${p.class} ${(p.probability * 100).toFixed(1)}%`).join(', ');
        print(`${file}: before ${fmt(before)}  ->  after ${fmt(after)}  (max pixel change ${(computed.change[i] as number).toFixed(3)})${written ? `; wrote ${written}` : ''}`);
        results.push({ file, before, after, maxPixelChange: computed.change[i], purified: written });
      }
      return { classifier: meta.architecture, results };
    } finally {
      classifier.dispose();
      purifier.dispose();
    }
  },
};
