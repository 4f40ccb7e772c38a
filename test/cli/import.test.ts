/**
 * Imported models through the CLI: a tiny CNN exported to ONNX by PyTorch 1.13 (Debian's
 * /usr/bin/python3), then `bastion import` (what it prints, the folder it writes, the clean
 * accuracy against PyTorch's), `predict` against PyTorch's probabilities, `attack` on the folder,
 * `gradcam` and `eval-aad attention` at a chosen --layer, warnings, the dashboard listing and
 * playground, and one-line usage errors. Skipped only when torch is missing.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { runBastion, type CliRun } from '../helpers/cli.js';
import { createClassifier, saveModel } from '../../src/models/index.js';
import { decodeImage, encodePng } from '../../src/io/image.js';
import { startDashboard } from '../../src/report/server.js';
import { REQUEST_HEADER } from '../../src/report/dashboard-page.js';
import { put, tempDir, writeIdxPair, bytes } from '../data/helpers.js';
import { TORCH_PYTHON, torchUnavailableReason } from '../fixtures/torch.js';

const { dir, cleanup } = tempDir('import-cli');
after(cleanup);
const skip = torchUnavailableReason() ?? false;
const TEST_IMAGES = 40;
const onnxFile = join(dir, 'm.onnx');
const folder = join(dir, 'runs', 'imported');
const png = join(dir, 'x.png');
const CLASSES = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** What PyTorch says about the exported model. */
let reference: { parameters: number; accuracy: number; probabilities: number[] };

const EXPORT = `
import json, sys, numpy as np, torch, torch.nn as nn
d = sys.argv[1]
torch.manual_seed(0)
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.conv2 = nn.Conv2d(4, 8, 3, padding=1)
        self.fc = nn.Linear(8 * 7 * 7, 10)
    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.conv1(x)), 2)
        x = torch.max_pool2d(torch.relu(self.conv2(x)), 2)
        return self.fc(torch.flatten(x, 1))
m = Net().eval()
torch.onnx.export(m, torch.rand(1, 1, 28, 28), d + '/m.onnx', opset_version=13, input_names=['image'], output_names=['logits'],
                  dynamic_axes={'image': {0: 'batch'}, 'logits': {0: 'batch'}})
torch.jit.trace(m, torch.rand(1, 1, 28, 28)).save(d + '/m.pt')
n = ${TEST_IMAGES}
x = torch.from_numpy(np.fromfile(d + '/pixels.bin', dtype=np.uint8).reshape(n, 1, 28, 28).astype(np.float32) / 255)
y = torch.arange(n) % 10
img = torch.from_numpy(np.fromfile(d + '/image.bin', dtype=np.uint8).reshape(1, 1, 28, 28).astype(np.float32) / 255)
with torch.no_grad():
    accuracy = (m(x).argmax(1) == y).float().mean().item()
    probabilities = torch.softmax(m(img), 1)[0].tolist()
print(json.dumps({'parameters': sum(p.numel() for p in m.parameters()), 'accuracy': accuracy, 'probabilities': probabilities}))
`;

before(async () => {
  if (skip) return;
  const { pixels } = writeIdxPair(join(dir, 'data', 'mnist'), 't10k', TEST_IMAGES, 28, 28, { gzip: false, seed: 3 });
  writeIdxPair(join(dir, 'data', 'mnist'), 'train', 20, 28, 28, { gzip: false, seed: 4 });
  put(join(dir, 'pixels.bin'), pixels);
  const image = bytes(28 * 28, 11);
  put(join(dir, 'image.bin'), image);
  put(png, encodePng({ width: 28, height: 28, channels: 1, data: image }));
  put(join(dir, 'classes.txt'), `${CLASSES.join('\n')}\n`);
  put(join(dir, 'notes.txt'), 'not a model\n');
  put(join(dir, 'export.py'), EXPORT);
  reference = JSON.parse(execFileSync(TORCH_PYTHON, [join(dir, 'export.py'), dir], { encoding: 'utf8', timeout: 120_000 })) as typeof reference;
  const zoo = createClassifier('simple-cnn', { channels: 1, height: 28, width: 28, numClasses: 10 });
  await saveModel(join(dir, 'zoo'), zoo);
  zoo.dispose();
});

function bastion(...args: string[]): Promise<CliRun> {
  return runBastion(args, { threads: 1, dataDir: join(dir, 'data') });
}

const lastJson = (stdout: string): Record<string, any> => JSON.parse(stdout.trim().split('\n').at(-1) as string);

it('import prints what the ONNX file holds and decides, measures accuracy as PyTorch does, and writes a model folder', { skip }, async () => {
  const r = await bastion('import', onnxFile, '--class-names', join(dir, 'classes.txt'), '--data', 'mnist', '--limit', String(TEST_IMAGES), '--out', folder, '--json', '-q');
  assert.equal(r.code, 0, r.stderr);
  const result = lastJson(r.stdout);
  assert.equal(result['format'], 'onnx');
  assert.equal(result['irVersion'] >= 7, true);
  assert.match(result['producer'], /pytorch/);
  assert.deepEqual(result['opsets'], { 'ai.onnx': 13 });
  assert.equal(result['parameterCount'], reference.parameters);
  assert.equal(result['parameterTensors'], 6);
  assert.deepEqual(result['ops'], { Conv: 2, MaxPool: 2, Relu: 2, Flatten: 1, Gemm: 1 });
  assert.equal(result['nodes'].total, 8);
  // The batch dim is dynamic: its symbolic name, or null where the parser cannot tell it from an unset dim.
  const [batch, ...imageDims] = result['inputs'][0].shape;
  assert.ok(batch === null || batch === 'batch', `dynamic batch dim, got ${JSON.stringify(batch)}`);
  assert.deepEqual({ ...result['inputs'][0], shape: imageDims }, { name: 'image', elementType: 'float32', shape: [1, 28, 28] });
  assert.equal(result['outputs'][0].name, 'logits');
  assert.deepEqual(result['decided'], {
    layout: 'nchw', channels: 1, height: 28, width: 28, pixelScale: 1, mean: null, std: null,
    numClasses: 10, classNames: CLASSES, output: 0, outputKind: 'logits',
  });
  assert.equal(result['tapPoints'].length, 6, result['tapPoints'].join(', '));
  assert.ok(result['tapPoints'].includes(result['camLayer']), `default layer ${result['camLayer']} is a tap point`);
  assert.deepEqual(result['warnings'], []);
  assert.equal(result['evaluation'].samples, TEST_IMAGES);
  assert.equal(Math.round(result['evaluation'].accuracy * TEST_IMAGES), Math.round(reference.accuracy * TEST_IMAGES), `accuracy ${result['evaluation'].accuracy} vs PyTorch ${reference.accuracy}`);
  // The human-readable lines name the same facts.
  const text = await bastion('import', onnxFile);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /ONNX model, IR version \d+, produced by pytorch [\d.]+, opsets ai\.onnx 13/);
  assert.match(text.stdout, /input {3}image: float32 \[(\?|batch),1,28,28\]/);
  assert.match(text.stdout, new RegExp(`${reference.parameters.toLocaleString('en-US')} parameters in 6 tensors; 8 nodes`));
  assert.match(text.stdout, /ops: Conv 2, MaxPool 2, Relu 2, Flatten 1, Gemm 1/);
  assert.match(text.stdout, /decided: NCHW input 1x28x28, pixel scale 1/);
  assert.match(text.stdout, /tap points: 6, Grad-CAM default \S+/);
  // The folder: model file, options, weights; the options are what was decided.
  for (const f of ['model.json', 'model.onnx', 'model.safetensors']) assert.ok(existsSync(join(folder, f)), `${f} written`);
  const meta = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
  assert.equal(meta.architecture, 'imported');
  assert.equal(meta.config.layout, 'nchw');
  assert.deepEqual(meta.classNames, CLASSES);
  assert.equal(meta.training.testAccuracy, result['evaluation'].accuracy);
});

it('predict on the ONNX file matches PyTorch\'s probabilities; the folder needs no flags', { skip }, async () => {
  const expected = reference.probabilities;
  const top = expected.indexOf(Math.max(...expected));
  const r = await bastion('predict', '--model', onnxFile, '--class-names', CLASSES.join(','), '--top', '10', png, '--json');
  assert.equal(r.code, 0, r.stderr);
  const predictions = lastJson(r.stdout)['results'][0].predictions as { class: string; index: number; probability: number }[];
  assert.equal(predictions[0]!.index, top);
  assert.equal(predictions[0]!.class, CLASSES[top]);
  for (const p of predictions) assert.ok(Math.abs(p.probability - (expected[p.index] as number)) < 1e-5, `class ${p.index}: ${p.probability} vs ${expected[p.index]}`);
  const again = await bastion('predict', '--model', folder, png, '--json');
  assert.equal(again.code, 0, again.stderr);
  const first = lastJson(again.stdout)['results'][0].predictions[0];
  assert.equal(first.class, CLASSES[top], 'the folder keeps the class names');
  assert.ok(Math.abs(first.probability - (expected[top] as number)) < 1e-5);
});

it('a TorchScript file imports too: parameters and ops from its archive, no tap points, the same probabilities', { skip }, async () => {
  const pt = join(dir, 'm.pt');
  const flags = ['--input-size', '28x28', '--channels', '1'];
  const r = await bastion('import', pt, ...flags, '--json');
  assert.equal(r.code, 0, r.stderr);
  const result = lastJson(r.stdout);
  assert.equal(result['format'], 'torchscript');
  assert.equal(result['parameterCount'], reference.parameters);
  assert.ok(Object.keys(result['ops']).some((op) => op.startsWith('aten::')), JSON.stringify(result['ops']));
  assert.deepEqual(result['methods'], ['forward']);
  assert.deepEqual([result['decided'].channels, result['decided'].height, result['decided'].width], [1, 28, 28]);
  assert.deepEqual(result['tapPoints'], []);
  assert.equal(result['camLayer'], null);
  const predicted = await bastion('predict', '--model', pt, ...flags, '--top', '1', png, '--json');
  assert.equal(predicted.code, 0, predicted.stderr);
  const top = lastJson(predicted.stdout)['results'][0].predictions[0];
  assert.ok(Math.abs(top.probability - Math.max(...reference.probabilities)) < 1e-5);
  const gradcam = await bastion('gradcam', '--model', pt, ...flags, '--out', join(dir, 'gradcam-pt'), png);
  assert.equal(gradcam.code, 2);
  assert.match(gradcam.stderr, /exposes no 4-D activation for Grad-CAM .*export the model to ONNX/);
});

it('attack runs on the imported folder and records the import in summary.json', { skip }, async () => {
  const out = join(dir, 'attack');
  const r = await bastion('attack', '--model', folder, '--data', 'mnist', '--attack', 'pgd', '--eps', '0,0.1', '--steps', '3', '--limit', '16', '--grid', '2', '--save-examples', '0', '--out', out, '-q');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.samples, 16);
  assert.equal(summary.model.architecture, 'imported');
  assert.equal(summary.model.imported.format, 'onnx');
  assert.ok(summary.perEpsilon[1].accuracy <= summary.perEpsilon[0].accuracy);
  // Data of another size: the one-line error names both shapes and suggests the flags.
  for (const split of ['train', 't10k'] as const) writeIdxPair(join(dir, 'data', 'kmnist'), split, 8, 12, 12, { gzip: false });
  const wrong = await bastion('attack', '--model', onnxFile, '--data', 'kmnist', '--eps', '0.1', '--out', join(dir, 'attack-kmnist'), '-q');
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /has 1x12x12 images but the model at .*m\.onnx expects 1x28x28 \(imported onnx, NCHW input\) \(try --input-size 12x12 .*--layout nhwc/);
});

it('gradcam and eval-aad read the tap point --layer names', { skip }, async () => {
  const imported = lastJson((await bastion('import', onnxFile, '--json')).stdout);
  const layer = imported['tapPoints'][3] as string;
  const out = join(dir, 'gradcam');
  const r = await bastion('gradcam', '--model', onnxFile, '--layer', layer, '--out', out, png, '--json');
  assert.equal(r.code, 0, r.stderr);
  const result = lastJson(r.stdout);
  assert.equal(result['layer'], layer);
  const overlay = decodeImage(readFileSync(join(out, 'x-gradcam.png')));
  assert.deepEqual([overlay.width, overlay.height], [28, 28]);
  const byDefault = lastJson((await bastion('gradcam', '--model', folder, '--out', out, png, '--json')).stdout);
  assert.equal(byDefault['layer'], imported['camLayer']);
  const bad = await bastion('gradcam', '--model', onnxFile, '--layer', 'no-such-layer', '--out', out, png);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /no tap point 'no-such-layer' \(choose one of .*\/conv1\/Conv/);

  const file = join(dir, 'attention.json');
  const aad = await bastion('eval-aad', 'attention', '--model', folder, '--data', 'mnist', '--eps', '0.1', '--limit', '8', '--cells', '2', '--layer', layer, '--out', file, '-q');
  assert.equal(aad.code, 0, aad.stderr);
  const record = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(record.result.layer, layer);
  assert.equal(record.imported.format, 'onnx');
});

it('warnings of an imported model go to stderr; the flags override a folder\'s stored options', { skip }, async () => {
  const r = await bastion('predict', '--model', folder, '--output-kind', 'probabilities', png);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /^warning: .*outputs probabilities, not logits/m);
});

it('bad import flags and non-model files fail in one line with a non-zero exit code', { skip }, async () => {
  const cases: [string[], RegExp][] = [
    [['predict', '--model', onnxFile, '--layout', 'nwhc', png], /--layout must be one of nchw, nhwc; got 'nwhc'/],
    [['predict', '--model', onnxFile, '--mean', '0.1,0.2', png], /--mean has 2 values, the model takes 1 channels/],
    [['predict', '--model', onnxFile, '--mean', '0.1,,0.2', png], /--mean expects the per-channel mean as comma-separated numbers/],
    [['predict', '--model', onnxFile, '--channels', '3', '--std', '0.2,0.2', png], /--std has 2 values but --channels is 3/],
    [['predict', '--model', onnxFile, '--pixel-scale', '2', png], /--pixel-scale must be 1 .* or 255/],
    [['predict', '--model', onnxFile, '--input-size', '28x', png], /--input-size expects HxW or N/],
    [['predict', '--model', onnxFile, '--output', '5', png], /no graph output #5 \(choose --output from 0 \(logits\)\)/],
    [['predict', '--model', onnxFile, '--class-names', 'cat', png], /--class-names: 'cat' is neither a file nor a comma-separated list/],
    [['predict', '--model', join(dir, 'notes.txt'), png], /--model: .*notes\.txt is neither an ONNX \(\.onnx\) nor a TorchScript/],
    [['import', join(dir, 'notes.txt')], /notes\.txt is neither an ONNX \(\.onnx\) nor a TorchScript/],
    [['import', join(dir, 'zoo')], /is a Bastion simple-cnn classifier folder, not a model to import/],
    [['import'], /name the model file to import/],
    [['predict', '--model', join(dir, 'zoo'), '--layout', 'nhwc', png], /--layout describes imported models, but .* is a Bastion simple-cnn checkpoint/],
  ];
  for (const [args, message] of cases) {
    const r = await bastion(...args);
    assert.notEqual(r.code, 0, `${args.join(' ')} fails`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line for ${args.join(' ')}: ${r.stderr}`);
    assert.match(lines[0] as string, message);
  }
  const badOnnx = put(join(dir, 'broken.onnx'), 'garbage');
  const r = await bastion('import', badOnnx);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /broken\.onnx/);
});

it('the dashboard lists the imported folder as a classifier and attacks it in the playground', { skip }, async () => {
  const dashboard = await startDashboard({ runsDir: join(dir, 'runs'), port: 0, modelRoots: [] });
  try {
    const models = (await (await fetch(`${dashboard.url}api/models`)).json()) as { models: { id: string; kind: string; architecture: string; testAccuracy: number | null; data: string | null }[] };
    const entry = models.models.find((m) => m.id === 'imported');
    assert.ok(entry, JSON.stringify(models));
    assert.equal(entry.kind, 'classifier');
    assert.equal(entry.architecture, 'imported');
    assert.equal(entry.data, 'mnist');
    assert.ok(entry.testAccuracy !== null);
    const response = await fetch(`${dashboard.url}api/attack?classifier=imported&attack=fgsm&eps=0.1`, { method: 'POST', headers: { [REQUEST_HEADER]: '1' }, body: readFileSync(png) });
    const body = (await response.json()) as Record<string, any>;
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body['clean'].top[0].name, CLASSES[reference.probabilities.indexOf(Math.max(...reference.probabilities))]);
    assert.ok(body['gradcam'] !== null, 'Grad-CAM at the default layer');
  } finally {
    await dashboard.close();
  }
});
