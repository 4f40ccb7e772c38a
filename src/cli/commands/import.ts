/**
 * `bastion import`: loads an ONNX or TorchScript classifier, prints what Bastion found in it and
 * decided about it (format, inputs/outputs, parameters, ops, layout, size, normalisation, classes,
 * output kind, Grad-CAM tap points, warnings), optionally measures its clean accuracy on a data set,
 * and with --out writes a Bastion model folder that later commands take with no import flags.
 */
import { numberOption, stringOption } from '../args.js';
import type { Command } from '../command.js';
import { CHECKPOINT_OWNS } from '../../io/checkpoint-files.js';
import { UsageError } from '../../util/errors.js';
import { IMPORT_OPTIONS, checkDataShape, importOptionsFrom } from '../import-options.js';
import type { ImportedClassifier } from '../../models/imported.js';

/** A graph input or output as printed: name, element type, shape with '?' for dynamic dims. */
interface IoEntry {
  name: string;
  elementType: string;
  /** Dims; a symbolic name or null where the file leaves the dim open. */
  shape: (number | string | null)[] | null;
}

/** What the file itself says, by format (the `file` part of the --json result). */
interface FileInfo {
  format: 'onnx' | 'torchscript';
  file: string;
  producer: string | null;
  /** ONNX only. */
  irVersion: number | null;
  /** ONNX only: opset per domain ('ai.onnx' for the default domain). */
  opsets: Record<string, number> | null;
  inputs: IoEntry[];
  outputs: IoEntry[];
  parameterCount: number;
  parameterTensors: number;
  /** ONNX only: node counts after loading (constants folded, shape arithmetic, work on tensors). */
  nodes: { total: number; foldedConstants: number; shape: number; tensor: number } | null;
  /** Ops used with their counts (ONNX), or the ATen operators the TorchScript graphs call (count 1 each). */
  ops: Record<string, number>;
  /** TorchScript only: the module's methods. */
  methods: string[] | null;
}

function dims(shape: readonly (number | string | null)[] | null): string {
  if (shape === null) return 'unknown shape';
  return `[${shape.map((d) => (typeof d === 'number' && d > 0 ? String(d) : typeof d === 'string' && d !== '' ? d : '?')).join(',')}]`;
}

/** The format-specific facts of an imported model's file. */
async function fileInfo(model: ImportedClassifier): Promise<FileInfo> {
  const { OnnxNetwork } = await import('../../models/onnx/graph.js');
  const foreign: unknown = model.foreign;
  const base = { format: model.imported.format, file: model.imported.file };
  if (foreign instanceof OnnxNetwork) {
    const summary = foreign.summary();
    const parsed = foreign.model;
    const io = (v: { name: string; elementType: string; shape: (number | string | null)[] | null }): IoEntry => ({
      name: v.name, elementType: v.elementType, shape: v.shape?.map((d) => (typeof d === 'number' && d <= 0 ? null : d)) ?? null,
    });
    return {
      ...base,
      producer: parsed.producer || null,
      irVersion: parsed.irVersion,
      opsets: Object.fromEntries([...parsed.opsets].map(([domain, version]) => [domain === '' ? 'ai.onnx' : domain, version])),
      inputs: parsed.graph.inputs.map(io),
      outputs: parsed.graph.outputs.map(io),
      parameterCount: summary.parameterCount,
      parameterTensors: summary.parameterTensors,
      nodes: { total: summary.nodes, foldedConstants: summary.folded, shape: summary.shapeNodes, tensor: summary.tensorNodes },
      ops: Object.fromEntries([...summary.opCounts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))),
      methods: null,
    };
  }
  // TorchScript (or any other network offering describe()).
  const described = typeof (foreign as { describe?: unknown }).describe === 'function'
    ? (foreign as { describe(): { parameterCount?: number; parameterTensors?: number; methods?: string[]; producerVersion?: number; opsUsed?: string[] } }).describe()
    : {};
  const { channels: c, height: h, width: w, layout } = model.imported;
  return {
    ...base,
    producer: described.producerVersion === undefined ? null : `PyTorch archive format version ${described.producerVersion}`,
    irVersion: null,
    opsets: null,
    inputs: [{ name: 'input', elementType: 'float32', shape: layout === 'nchw' ? [null, c, h, w] : [null, h, w, c] }],
    outputs: [{ name: String(model.imported.output), elementType: 'float32', shape: [null, model.numClasses] }],
    parameterCount: described.parameterCount ?? model.numParameters(),
    parameterTensors: described.parameterTensors ?? model.parameters().length,
    nodes: null,
    ops: Object.fromEntries((described.opsUsed ?? []).map((op) => [op, 1])),
    methods: described.methods ?? null,
  };
}

/** The `bastion import` command. */
export const importCommand: Command = {
  name: 'import',
  summary: 'Import an ONNX/TorchScript classifier: show what was found and decided, check it on data, save a model folder',
  output: { option: 'out', owns: CHECKPOINT_OWNS, create: false },
  usage: 'import MODEL [--layout nchw|nhwc] [--pixel-scale 1|255] [--mean LIST] [--std LIST] [--input-size HxW] [--channels N]\n' +
    '      [--class-names FILE|LIST] [--output NAME|INDEX] [--output-kind KIND] [--data NAME [--limit N]] [--out DIR]',
  description:
    'MODEL is an ONNX file (.onnx, e.g. from torch.onnx.export or tf2onnx) or a TorchScript file (.pt/.pth from ' +
    'torch.jit.trace/script + save). Bastion feeds it [0,1] pixels in NCHW and converts them to the model\'s own ' +
    'convention inside the graph, so attacks keep pixel-space epsilons: --layout (NHWC for Keras models), --pixel-scale ' +
    '(255 for models taking [0,255]) and --mean/--std (in pixel-scale units) describe it. Options not given are read ' +
    'from the file where it says (input shape, a final Softmax) and defaulted otherwise; the printout shows every ' +
    'decision. A model that outputs probabilities is attacked through their logarithm, with a warning. Tap points are ' +
    'the graph\'s 4-D activations (what gradcam/eval-aad --layer take); the default Grad-CAM layer is the last one ' +
    'before global pooling. With --data, the clean accuracy on that data set\'s test split is measured (a quick check ' +
    'that the options are right). With --out, the model file and every decided option are written to DIR; later ' +
    'commands take --model DIR with no import flags (flags given then override the stored options).',
  allowPositionals: true,
  options: {
    ...IMPORT_OPTIONS,
    data: { type: 'string', valueName: 'NAME|DIR', description: 'measure the clean accuracy on this data set\'s test split' },
    limit: { type: 'string', valueName: 'N', description: 'with --data: the first N test images only' },
    'batch-size': { type: 'string', valueName: 'N', description: 'with --data: batch size (default 250)' },
    'data-dir': { type: 'string', valueName: 'DIR', description: 'where to look for data sets first' },
    out: { type: 'string', valueName: 'DIR', description: 'write a Bastion model folder (model file, options, weights) there' },
  },
  examples: [
    'bastion import resnet18.onnx --mean 0.485,0.456,0.406 --std 0.229,0.224,0.225 --input-size 224 --class-names imagenet.txt',
    'bastion import lenet.onnx --data mnist --limit 1000 --out runs/models/lenet-onnx',
    'bastion import keras-cnn.onnx --layout nhwc --pixel-scale 255 --out runs/models/keras-cnn',
    'bastion attack --model runs/models/lenet-onnx --data mnist --attack pgd --eps 0.1,0.3 --out runs/attacks/lenet-onnx',
  ],
  async run({ values, positionals, print }) {
    const path = positionals[0];
    if (path === undefined) throw new UsageError('name the model file to import', 'e.g. bastion import model.onnx');
    if (positionals.length > 1) throw new UsageError(`one model at a time, got ${positionals.length}: ${positionals.join(' ')}`);
    if (values['limit'] !== undefined && values['data'] === undefined) throw new UsageError('--limit applies to --data', 'add --data NAME');
    const importOptions = importOptionsFrom(values);
    const { loadModel, isImportableFile, saveImportedModel, IMPORTED_ARCHITECTURE } = await import('../../models/registry.js');
    const { ImportedClassifier } = await import('../../models/imported.js');
    const { existsSync, statSync } = await import('node:fs');
    if (existsSync(path) && statSync(path).isFile() && !isImportableFile(path)) {
      throw new UsageError(`${path} is neither an ONNX (.onnx) nor a TorchScript (.pt/.pth) file`, 'export the model with torch.onnx.export (.onnx) or torch.jit.trace/script + save (.pt)');
    }
    if (!existsSync(path)) throw new UsageError(`${path} does not exist`, 'give an .onnx or TorchScript .pt file');
    const loaded = await loadModel(path, importOptions);
    if (!(loaded.model instanceof ImportedClassifier)) {
      loaded.model.dispose();
      throw new UsageError(`${path} is a Bastion ${loaded.meta.architecture} ${loaded.kind} folder, not a model to import`, 'give an .onnx or TorchScript .pt file (or a folder written by `bastion import`)');
    }
    const model = loaded.model;
    try {
      const info = await fileInfo(model);
      const r = model.imported;
      const decided = {
        layout: r.layout, channels: r.channels, height: r.height, width: r.width, pixelScale: r.pixelScale, mean: r.mean, std: r.std,
        numClasses: r.numClasses, classNames: r.classNames, output: r.output, outputKind: r.outputKind,
      };
      const outputName = typeof r.output === 'number' ? info.outputs[r.output]?.name ?? String(r.output) : r.output;

      print(`${path}: ${info.format === 'onnx' ? 'ONNX' : 'TorchScript'} model` +
        (info.irVersion === null ? '' : `, IR version ${info.irVersion}`) +
        (info.producer ? `, produced by ${info.producer}` : '') +
        (info.opsets ? `, opsets ${Object.entries(info.opsets).map(([d, v]) => `${d} ${v}`).join(', ')}` : ''));
      for (const i of info.inputs) print(`  input   ${i.name}: ${i.elementType} ${dims(i.shape)}`);
      for (const o of info.outputs) print(`  output  ${o.name}: ${o.elementType} ${dims(o.shape)}${o.name === outputName ? '  <- scores' : ''}`);
      print(`  ${info.parameterCount.toLocaleString('en-US')} parameters in ${info.parameterTensors} tensors` +
        (info.nodes ? `; ${info.nodes.total} nodes: ${info.nodes.tensor} on tensors, ${info.nodes.shape} shape, ${info.nodes.foldedConstants} folded constants` : ''));
      const ops = Object.entries(info.ops);
      if (ops.length > 0) print(`  ops: ${info.nodes ? ops.map(([op, n]) => `${op} ${n}`).join(', ') : ops.map(([op]) => op).join(', ')}`);
      if (info.methods) print(`  methods: ${info.methods.join(', ')}`);
      const list = (v: number[] | null): string => (v === null ? 'none' : v.join(','));
      print(`decided: ${r.layout.toUpperCase()} input ${r.channels}x${r.height}x${r.width}, pixel scale ${r.pixelScale} ` +
        `(${r.pixelScale === 1 ? '[0,1]' : `[0,${r.pixelScale}]`}), mean ${list(r.mean)}, std ${list(r.std)}`);
      print(`  ${r.numClasses} classes${r.classNames ? `: ${r.classNames.slice(0, 10).join(', ')}${r.classNames.length > 10 ? ', ...' : ''}` : ' (no names; --class-names gives them)'}`);
      const which = typeof r.output === 'number' ? `#${r.output}${outputName === String(r.output) ? '' : ` (${outputName})`}` : `'${r.output}'`;
      print(`  scores: output ${which}, ${r.outputKind}` +
        (r.outputKind === 'probabilities' ? ' (attacked through their log)' : ''));
      if (model.tapPoints.length === 0) {
        print(`tap points: none${r.format === 'torchscript' ? ' (TorchScript models show no inner activations; export to ONNX for Grad-CAM/AAD)' : ''}`);
      } else {
        print(`tap points: ${model.tapPoints.length}, Grad-CAM default ${model.camLayer || '(none)'}`);
        print(`  ${model.tapPoints.join(', ')}`);
      }
      for (const w of r.warnings) print(`warning: ${w}`);

      let evaluation: { data: string; set: string; split: 'test'; samples: number; accuracy: number; seconds: number } | null = null;
      const dataName = stringOption(values, 'data');
      if (dataName !== undefined) {
        const { loadDataset, firstN } = await import('../../data/index.js');
        const { evaluateAccuracy } = await import('../../models/train-classifier.js');
        const dataDir = stringOption(values, 'data-dir');
        const limit = values['limit'] === undefined ? undefined : numberOption(values, 'limit', 0, { min: 1, integer: true });
        const batchSize = numberOption(values, 'batch-size', 250, { min: 1, integer: true });
        const dataset = await loadDataset(dataName, { split: 'test', ...(dataDir ? { dataDir } : {}) });
        try {
          checkDataShape(model, path, dataset.name, dataset.imageShape);
          const subset = limit === undefined || limit >= dataset.length ? dataset : firstN(dataset, limit);
          const started = performance.now();
          const accuracy = await evaluateAccuracy(model, subset, batchSize);
          evaluation = { data: dataName, set: dataset.name, split: 'test', samples: subset.length, accuracy, seconds: (performance.now() - started) / 1000 };
        } finally {
          dataset.dispose();
        }
        print(`clean accuracy on ${evaluation.set} (${evaluation.samples} images): ${(evaluation.accuracy * 100).toFixed(2)}% ` +
          `(${evaluation.seconds.toFixed(1)} s, ${Math.round(evaluation.samples / Math.max(evaluation.seconds, 1e-9))} images/s)`);
      }

      const out = stringOption(values, 'out');
      if (out !== undefined) {
        await saveImportedModel(out, model, {
          command: `bastion import ${process.argv.slice(3).join(' ')}`,
          ...(evaluation ? { training: { evaluatedOn: evaluation.data, testAccuracy: evaluation.accuracy, testSamples: evaluation.samples } } : {}),
        });
        print(`wrote ${out} (${r.format === 'onnx' ? 'model.onnx' : 'model.pt'}, model.json with the decided options, model.safetensors); later commands take --model ${out} (or --classifier ${out}) with no import flags`);
      }
      return {
        model: path, architecture: IMPORTED_ARCHITECTURE, ...info,
        decided, tapPoints: [...model.tapPoints], camLayer: model.camLayer || null, warnings: [...r.warnings],
        evaluation, out: out ?? null,
      };
    } finally {
      model.dispose();
    }
  },
};
