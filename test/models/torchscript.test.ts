/**
 * TorchScript import: files saved by torch.jit.trace and torch.jit.script (PyTorch 1.13, made by
 * test/fixtures/torchscript_reference.py) load as differentiable Bastion modules with PyTorch's
 * logits and input gradients; tuple and dict outputs; and every bad file (random bytes, a
 * truncated archive, a torch.save state dict, a missing path, a newer format version) is a clear
 * BastionError, never a crash.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grad, noGrad, scope, tensor, tensorStats, type Tensor } from '../../src/tensor/index.js';
import { native, packageRoot } from '../../src/tensor/native.js';
import * as F from '../../src/nn/functional.js';
import { SGD } from '../../src/optim/index.js';
import { TorchScriptNetwork, TorchScriptSubmodule } from '../../src/models/index.js';
import { BastionError } from '../../src/util/errors.js';
import { TORCH_PYTHON, torchUnavailableReason } from '../fixtures/torch.js';

interface Reference {
  torch: string;
  inputShape: number[];
  labels: number[];
  parameters: number;
  parameterNames: string[];
  bufferNames: string[];
  numel: number;
}

const skipReason = torchUnavailableReason();
const dir = mkdtempSync(join(tmpdir(), 'bastion-torchscript-'));
let ref: Reference;

before(() => {
  if (skipReason !== null) return;
  const script = join(packageRoot, 'test', 'fixtures', 'torchscript_reference.py');
  ref = JSON.parse(execFileSync(TORCH_PYTHON, [script, dir], { encoding: 'utf8', timeout: 120_000 })) as Reference;
});
after(() => rmSync(dir, { recursive: true, force: true }));

function readF32(name: string): Float32Array {
  const bytes = readFileSync(join(dir, name));
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function input(): Tensor {
  return tensor(readF32('input.f32'), { shape: ref.inputShape });
}

function labels(): Tensor {
  return tensor(ref.labels, { dtype: 'int64' });
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

function maxAbs(a: Float32Array): number {
  return a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
}

/** Logits (no grad) and the input gradient of the summed cross-entropy. */
function predictAndGrad(net: TorchScriptNetwork): { logits: Float32Array; inputGrad: Float32Array } {
  return scope(() => {
    const x = input();
    const logits = noGrad(() => net.forward(x)).toFloat32Array();
    const xg = x.clone().requiresGrad_(true);
    const loss = F.crossEntropy(net.forward(xg), labels(), { reduction: 'sum' });
    const [g] = grad(loss, xg);
    return { logits, inputGrad: g!.toFloat32Array() };
  });
}

function rejects(path: string, message: RegExp, hint?: RegExp): void {
  assert.throws(() => TorchScriptNetwork.load(path), (error: unknown) => {
    assert.ok(error instanceof BastionError, `expected a BastionError, got ${String(error)}`);
    assert.match(error.message, message);
    if (hint !== undefined) assert.match(error.hint ?? '', hint);
    return true;
  });
}

describe('TorchScriptNetwork', { skip: skipReason ?? false }, () => {
  for (const kind of ['trace', 'script'] as const) {
    describe(`torch.jit.${kind}`, () => {
      it('has PyTorch\'s parameters and buffers, under PyTorch\'s names', () => {
        const net = TorchScriptNetwork.load(join(dir, `${kind}.pt`));
        try {
          assert.equal(net.parameters().length, ref.parameters);
          assert.deepEqual(net.namedParameters().map(([n]) => n), ref.parameterNames);
          assert.deepEqual(net.namedBuffers().map(([n]) => n), ref.bufferNames);
          assert.equal(net.numParameters(), ref.numel);
          assert.ok(net.children().every((c) => c instanceof TorchScriptSubmodule));
          assert.equal(net.training, false, 'eval mode after load');
          const d = net.describe();
          assert.equal(d.parameterCount, ref.numel);
          assert.equal(d.parameterTensors, ref.parameters);
          assert.deepEqual(d.methods, ['forward']);
          assert.equal(d.producerVersion, 3);
          for (const op of ['aten::linear', 'aten::max_pool2d', 'aten::relu']) assert.ok(d.opsUsed?.includes(op), `${op} in ${d.opsUsed?.join(', ')}`);
        } finally {
          net.dispose();
        }
      });

      it('gives PyTorch\'s logits and input gradients, the same on alternating no-grad and grad calls', () => {
        const net = TorchScriptNetwork.load(join(dir, `${kind}.pt`));
        try {
          const before = tensorStats().live;
          const first = predictAndGrad(net);
          const logitsDiff = maxAbsDiff(first.logits, readF32('logits.f32'));
          assert.ok(logitsDiff <= 1e-4, `logits differ by ${logitsDiff}`);
          const reference = readF32('grad.f32');
          const gradDiff = maxAbsDiff(first.inputGrad, reference) / maxAbs(reference);
          assert.ok(gradDiff <= 1e-3, `input gradients differ by ${gradDiff} (relative)`);
          for (let i = 0; i < 3; i++) {
            const again = predictAndGrad(net);
            assert.deepEqual(again.logits, first.logits, `logits of round ${i}`);
            assert.deepEqual(again.inputGrad, first.inputGrad, `input gradient of round ${i}`);
          }
          assert.equal(tensorStats().live, before, 'forward/backward left tensors behind');
        } finally {
          net.dispose();
        }
      });

      it('sends gradients to its parameters, and in-place updates reach the TorchScript module', () => {
        const net = TorchScriptNetwork.load(join(dir, `${kind}.pt`));
        try {
          scope(() => {
            const x = input();
            F.crossEntropy(net.forward(x), labels()).backward();
            for (const [name, p] of net.namedParameters()) {
              assert.ok(p.grad !== null, `${name} has no gradient`);
            }
            const conv = net.namedParameters().find(([n]) => n === 'features.0.weight')![1];
            assert.ok(conv.grad!.abs().sum().item() > 0, 'first conv weight gradient is zero');

            const beforeStep = noGrad(() => net.forward(x)).toFloat32Array();
            new SGD(net.parameters(), { lr: 0.1 }).step();
            const afterStep = noGrad(() => net.forward(x)).toFloat32Array();
            assert.ok(maxAbsDiff(beforeStep, afterStep) > 1e-3, 'an optimizer step did not change the output');

            const bias = net.namedParameters().find(([n]) => n === 'head.bias')![1];
            noGrad(() => bias.add_(1));
            const shifted = noGrad(() => net.forward(x)).toFloat32Array();
            assert.ok(maxAbsDiff(shifted.map((v) => v - 1), afterStep) < 1e-5, 'bias += 1 did not shift every logit by 1');
          });
        } finally {
          net.dispose();
        }
      });
    });
  }

  it('supports double backward (a gradient penalty through the TorchScript graph)', () => {
    const net = TorchScriptNetwork.load(join(dir, 'script.pt'));
    try {
      scope(() => {
        const x = input().requiresGrad_(true);
        const [g] = grad(F.crossEntropy(net.forward(x), labels()), x, { createGraph: true });
        const [gg] = grad(g!.square().sum(), x);
        assert.ok(gg!.abs().sum().item() > 0, 'second-order gradient is zero');
      });
    } finally {
      net.dispose();
    }
  });

  it('switches the TorchScript module between train and eval (BatchNorm batch statistics)', () => {
    const net = TorchScriptNetwork.load(join(dir, 'script.pt'));
    try {
      scope(() => {
        const x = input();
        const evalOut = noGrad(() => net.forward(x)).toFloat32Array();
        net.train();
        assert.ok(net.modules().every((m) => m.training));
        const trainOut = noGrad(() => net.forward(x)).toFloat32Array();
        assert.ok(maxAbsDiff(evalOut, trainOut) > 1e-3, 'train() did not reach the BatchNorm layers');
        net.eval();
        assert.ok(net.modules().every((m) => !m.training));
      });
    } finally {
      net.dispose();
    }
  });

  it('picks an element of a tuple output by index, and a dict output by key', () => {
    scope(() => {
      const x = input();
      const reference = readF32('logits.f32');
      const first = TorchScriptNetwork.load(join(dir, 'tuple.pt'));
      const second = TorchScriptNetwork.load(join(dir, 'tuple.pt'), { outputIndex: 1 });
      const outOfRange = TorchScriptNetwork.load(join(dir, 'tuple.pt'), { outputIndex: 2 });
      const dictNoKey = TorchScriptNetwork.load(join(dir, 'dict.pt'));
      const dictLogits = TorchScriptNetwork.load(join(dir, 'dict.pt'), { outputKey: 'logits' });
      try {
        assert.deepEqual([...noGrad(() => first.forward(x)).shape], [ref.inputShape[0]]);
        assert.ok(maxAbsDiff(noGrad(() => second.forward(x)).toFloat32Array(), reference) <= 1e-4);
        assert.throws(() => outOfRange.forward(x), (e: unknown) => e instanceof BastionError && /tuple of 2 outputs; outputIndex 2 is out of range/.test(e.message));
        assert.throws(() => dictNoKey.forward(x), (e: unknown) => e instanceof BastionError && /dict with keys \[logits, probs\]; choose one with outputKey/.test(e.message));
        assert.ok(maxAbsDiff(noGrad(() => dictLogits.forward(x)).toFloat32Array(), reference) <= 1e-4);
      } finally {
        for (const n of [first, second, outOfRange, dictNoKey, dictLogits]) n.dispose();
      }
    });
  });

  it('reports a wrong input and use after dispose as BastionErrors', () => {
    const net = TorchScriptNetwork.load(join(dir, 'trace.pt'));
    scope(() => {
      const wrong = tensor(new Float32Array(2 * 3 * 16 * 16), { shape: [2, 3, 16, 16] });
      assert.throws(() => net.forward(wrong), (e: unknown) => e instanceof BastionError && /forward failed on a \[2,3,16,16\] float32 cpu input: .*channels/i.test(e.message));
      net.dispose();
      net.dispose();
      assert.throws(() => net.forward(input()), (e: unknown) => e instanceof BastionError && /used after dispose/.test(e.message));
    });
  });

  it('rejects files that are not TorchScript, saying what they seem to be', () => {
    rejects(join(dir, 'random.bin'), /random\.bin is neither a ZIP archive nor a pickle .*not a TorchScript module/);
    rejects(join(dir, 'truncated.pt'), /truncated\.pt is a damaged ZIP archive: .*truncated/, /incomplete/);
    rejects(join(dir, 'state_dict.pt'), /state_dict\.pt is a torch\.save\(\) checkpoint .*not a TorchScript module/, /torch\.jit\.trace/);
    rejects(join(dir, 'missing.pt'), /missing\.pt: no such file/);
    rejects(dir, /is a directory/);
  });

  it('names both versions and what to do when the file comes from a newer PyTorch', () => {
    const linked = native.version().replace(/\./g, '\\.');
    rejects(
      join(dir, 'newer.pt'),
      new RegExp(`newer\\.pt was saved by a newer PyTorch \\(file format version 99\\) than Bastion's linked libtorch ${linked} can read, which reads file format versions up to \\d+`),
      /torch\.onnx\.export.*LIBTORCH=\/path\/to\/newer\/libtorch npm run build:native/,
    );
  });
});
