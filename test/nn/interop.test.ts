/**
 * PyTorch interop, both directions, through safetensors files: a Bastion model using every layer
 * type is loaded into the equivalent torch.nn model and gives the same logits, a torch.nn model
 * (with torch's own init, trained a few steps) is loaded into Bastion and gives the same logits,
 * state names and order are torch's, and the same seed gives bit-identical initial weights.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AdaptiveAvgPool2d, AvgPool2d, BatchNorm2d, Conv2d, ConvTranspose2d, Dropout, Flatten, GELU, GroupNorm, Identity, LayerNorm,
  LeakyReLU, Linear, MaxPool2d, ReLU, SelfAttention2d, Sequential, Sigmoid, Tanh, Upsample, F,
} from '../../src/nn/index.js';
import { SGD } from '../../src/optim/index.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { manualSeed, noGrad, rand, randint, scope } from '../../src/tensor/index.js';
import { runTorchReference, torchUnavailableReason } from '../fixtures/torch.js';

/** Must match build_model() in test/fixtures/torch_reference.py layer for layer. */
function interopModel(): Sequential {
  return new Sequential(
    new Conv2d(3, 8, 3, { padding: 1 }), new BatchNorm2d(8), new ReLU({ inplace: true }), new MaxPool2d(2),
    new Conv2d(8, 16, 3, { padding: 1 }), new GroupNorm(4, 16), new GELU(), new SelfAttention2d(16, { heads: 2 }),
    new ConvTranspose2d(16, 8, 3, { stride: 2, padding: 1, outputPadding: 1 }), new LeakyReLU({ negativeSlope: 0.1 }),
    new AvgPool2d(2), new Upsample({ scaleFactor: 2, mode: 'bilinear' }), new Conv2d(8, 8, 3, { stride: 2, padding: 1 }),
    new Tanh(), new Upsample({ scaleFactor: 2, mode: 'nearest' }), new AdaptiveAvgPool2d(4), new Sigmoid(),
    new Dropout(0.3), new Flatten(), new Linear(128, 32), new LayerNorm(32), new Identity(), new Linear(32, 10),
  );
}

test('Bastion <-> PyTorch: same init from the same seed, same state names, same logits both ways', async (t) => {
  const reason = torchUnavailableReason();
  if (reason !== null) {
    t.skip(`python3 with torch not found: ${reason}`);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'bastion-interop-'));
  try {
    manualSeed(1234);
    const model = interopModel();
    await writeSafetensors(join(dir, 'bastion-init.safetensors'), model.stateDict());
    // A few training steps so that weights, biases and BatchNorm statistics all move away from init.
    const optimizer = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
    for (let i = 0; i < 3; i++) {
      scope(() => {
        optimizer.zeroGrad();
        F.crossEntropy(model.forward(rand([4, 3, 16, 16]).channelsLast()), randint(0, 10, [4])).backward();
        optimizer.step();
      });
    }
    model.eval();
    const x = rand([2, 3, 16, 16]);
    const logits = scope(() => noGrad(() => model.forward(x.channelsLast())));
    await writeSafetensors(join(dir, 'bastion-io.safetensors'), { x, logits });
    x.dispose();
    logits.dispose();
    await writeSafetensors(join(dir, 'bastion-trained.safetensors'), model.stateDict());

    const report = await runTorchReference('model', dir);

    assert.deepEqual(report['stateNames'], [...model.stateDict().keys()], 'state dict names and order equal torch.nn');
    const initDiffs = report['initDiffs'] as Record<string, number>;
    assert.equal(Object.keys(initDiffs).length, model.stateDict().size);
    for (const [name, diff] of Object.entries(initDiffs)) assert.equal(diff, 0, `initial '${name}' differs from torch's by ${diff}`);
    assert.ok((report['forwardDiff'] as number) < 1e-5, `Bastion -> torch logits differ by ${report['forwardDiff'] as number}`);

    // torch -> Bastion
    manualSeed(7);
    const fromTorch = interopModel();
    const trained = await readSafetensors(join(dir, 'torch-trained.safetensors'));
    const io = await readSafetensors(join(dir, 'torch-io.safetensors'));
    try {
      const result = fromTorch.loadStateDict(trained.tensors);
      assert.deepEqual(result, { missing: [], unexpected: [] });
      fromTorch.eval();
      scope(() => {
        const x = io.tensors.get('x')!;
        const expected = io.tensors.get('logits')!;
        for (const input of [x, x.channelsLast()]) {
          const diff = noGrad(() => fromTorch.forward(input).sub(expected).abs().max().item());
          assert.ok(diff < 1e-5, `torch -> Bastion logits differ by ${diff}`);
        }
      });
    } finally {
      for (const tensor of [...trained.tensors.values(), ...io.tensors.values()]) tensor.dispose();
      fromTorch.dispose();
      model.dispose();
      optimizer.dispose();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
