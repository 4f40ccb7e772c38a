/**
 * Real models from another framework: torchvision classifiers (random, seeded weights; 32x32
 * inputs so the suite stays fast) exported by PyTorch 1.13 to ONNX at opsets 13 and 17 and to
 * TorchScript, imported by Bastion. Logits must agree with PyTorch eager within 1e-4 (relative to
 * the largest logit) and the input gradient of the cross-entropy within 1e-3 (relative to the
 * largest gradient entry); the ONNX files must give the same logits in onnxruntime-node.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grad, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { F } from '../../src/nn/index.js';
import { importClassifier } from '../../src/models/imported.js';
import { packageRoot } from '../../src/tensor/native.js';
import { TORCH_PYTHON, torchUnavailableReason } from '../fixtures/torch.js';

const MODELS = ['resnet18', 'mobilenet_v2', 'vgg11_bn', 'densenet121', 'efficientnet_b0', 'shufflenet_v2', 'squeezenet1_1', 'vit_small'];
const SIZE = 32;

let dir = '';
let exported: Record<string, { classes?: number; batch?: number; error?: string }> = {};
const skipReason = torchUnavailableReason();

before(() => {
  if (skipReason) return;
  dir = mkdtempSync(join(tmpdir(), 'bastion-torchvision-'));
  const script = join(packageRoot, 'test', 'fixtures', 'export_torchvision.py');
  const run = spawnSync(TORCH_PYTHON, [script, dir, String(SIZE), MODELS.join(','), '--torchscript'], { encoding: 'utf8', timeout: 300_000, maxBuffer: 16 << 20 });
  if (run.status !== 0) throw new Error(`export_torchvision.py failed: ${run.stderr}`);
  exported = JSON.parse(run.stdout.trim().split('\n').pop()!) as typeof exported;
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function readFloats(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function maxAbs(values: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < values.length; i++) m = Math.max(m, Math.abs(values[i]!));
  return m;
}

function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  assert.equal(actual.length, expected.length, 'element count');
  const scale = Math.max(maxAbs(expected), 1e-12);
  let worst = 0;
  for (let i = 0; i < actual.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / scale);
  return worst;
}

/** Logits and the input gradient of the summed cross-entropy, from Bastion. */
async function bastionLogitsAndGradient(file: string, name: string): Promise<{ logits: number[]; gradient: number[] }> {
  // TorchScript files record no input size: give it, as a user does with --input-size.
  const model = await importClassifier(file, file.endsWith('.pt') ? { channels: 3, height: SIZE, width: SIZE } : {});
  try {
    const batch = exported[name]!.batch ?? 2;
    const pixels = readFloats(join(dir, `${name}.input.bin`));
    const labels = Array.from({ length: batch }, (_, i) => i % (exported[name]!.classes ?? 10));
    return scope(() => {
      const x = tensor(pixels, { shape: [batch, 3, SIZE, SIZE] }).requiresGrad_(true);
      const logits: Tensor = model.forward(x);
      const loss = F.crossEntropy(logits, tensor(labels, { dtype: 'int64' }), { reduction: 'sum' });
      const [g] = grad(loss, x);
      return { logits: logits.toNumbers(), gradient: g!.toNumbers() };
    });
  } finally {
    model.dispose();
  }
}

for (const name of MODELS) {
  for (const variant of ['opset13.onnx', 'opset17.onnx', 'pt']) {
    test(`${name} (${variant}): logits and input gradients match PyTorch`, { skip: skipReason ?? false }, async (t) => {
      const info = exported[name];
      if (info?.error) {
        t.skip(`PyTorch ${'1.13'} cannot export ${name}: ${info.error}`);
        return;
      }
      const file = join(dir, `${name}.${variant}`);
      assert.ok(existsSync(file), `${file} was exported`);
      const { logits, gradient } = await bastionLogitsAndGradient(file, name);
      const logitError = maxRelativeError(logits, readFloats(join(dir, `${name}.logits.bin`)));
      const gradientError = maxRelativeError(gradient, readFloats(join(dir, `${name}.grad.bin`)));
      t.diagnostic(`${name} ${variant}: logits max relative error ${logitError.toExponential(2)}, input gradient ${gradientError.toExponential(2)}`);
      assert.ok(logitError <= 1e-4, `logits differ from PyTorch's by ${logitError} (relative to the largest logit)`);
      assert.ok(gradientError <= 1e-3, `input gradients differ from PyTorch's by ${gradientError} (relative to the largest entry)`);
    });
  }
}

test('the same ONNX files give the same logits in onnxruntime-node', { skip: skipReason ?? false }, async (t) => {
  const ort = await import('onnxruntime-node');
  for (const name of MODELS) {
    if (exported[name]?.error) continue;
    for (const opset of [13, 17]) {
      const session = await ort.InferenceSession.create(join(dir, `${name}.opset${opset}.onnx`), { intraOpNumThreads: 2 });
      const batch = exported[name]!.batch ?? 2;
      const pixels = readFloats(join(dir, `${name}.input.bin`));
      const result = await session.run({ pixels: new ort.Tensor('float32', pixels, [batch, 3, SIZE, SIZE]) });
      const theirs = result['logits']!.data as Float32Array;
      const ours = (await bastionLogitsAndGradient(join(dir, `${name}.opset${opset}.onnx`), name)).logits;
      const error = maxRelativeError(ours, theirs);
      t.diagnostic(`${name} opset ${opset}: Bastion vs onnxruntime max relative error ${error.toExponential(2)}`);
      assert.ok(error <= 1e-4, `${name} opset ${opset}: Bastion and onnxruntime differ by ${error}`);
      await session.release();
    }
  }
});

test('a TorchScript file that cannot be differentiated is refused at import, saying how to export it', { skip: skipReason ?? false }, async () => {
  // Traced under no_grad, torchvision's attention records libtorch's inference fast path, which has no derivative.
  const file = join(dir, 'vit_small.nograd.pt');
  const script = [
    'import sys, torch',
    `sys.path.insert(0, ${JSON.stringify(join(packageRoot, 'test', 'fixtures'))})`,
    'from export_torchvision import build',
    'm = build("vit_small", 10, 32)',
    'with torch.no_grad():',
    `    torch.jit.trace(m, torch.rand(2, 3, 32, 32), check_trace=False).save(${JSON.stringify(file)})`,
  ].join('\n');
  const run = spawnSync(TORCH_PYTHON, ['-c', script], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(run.status, 0, run.stderr);
  await assert.rejects(importClassifier(file, { channels: 3, height: SIZE, width: SIZE }), (error: Error) => {
    assert.match(error.message, /input gradient cannot be computed/);
    assert.match((error as { hint?: string }).hint ?? '', /autograd enabled|ONNX/);
    return true;
  });
});
