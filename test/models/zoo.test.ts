/** The model zoo: every architecture builds, trains a step, saves and reloads to identical outputs. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grad, manualSeed, noGrad, rand, randint, scope, tensorStats, type Tensor } from '../../src/tensor/index.js';
import * as F from '../../src/nn/functional.js';
import { Conv2d, init, Linear, type Module } from '../../src/nn/index.js';
import {
  architectures, Classifier, createClassifier, createModel, createPurifier, loadModel, modelConfig, Purifier, saveModel, SimpleCNN, type DataShape,
} from '../../src/models/index.js';

const dir = mkdtempSync(join(tmpdir(), 'bastion-zoo-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Small but architecture-faithful shapes, so the whole zoo runs in seconds. */
function testShape(name: string): { shape: DataShape; overrides: Record<string, unknown> } {
  const base = architectures.find((a) => a.name === name)!.base;
  if (base === 'vgg16') return { shape: { channels: 3, height: 32, width: 32, numClasses: 3 }, overrides: { widthFactor: 0.125, hidden: 32 } };
  if (base === 'resnet18' || base === 'resnet9') return { shape: { channels: 3, height: 32, width: 32, numClasses: 3 }, overrides: { widthFactor: 0.125 } };
  return { shape: { channels: 1, height: 28, width: 28, numClasses: 10 }, overrides: {} };
}

describe('every architecture of the zoo', () => {
  for (const arch of architectures) {
    it(`${arch.name}: builds, runs forward/backward, saves and reloads to identical outputs`, async () => {
      manualSeed(11);
      const { shape, overrides } = testShape(arch.name);
      const model = createModel(arch.name, modelConfig(arch.name, shape, overrides));
      const before = tensorStats().live;
      const x = rand([2, shape.channels, shape.height, shape.width]).keep();
      try {
        scope(() => {
          model.train();
          const out = model.forward(x);
          if (model instanceof Classifier) {
            assert.deepEqual([...out.shape], [2, shape.numClasses]);
            F.crossEntropy(out, randint(0, shape.numClasses as number, [2])).backward();
          } else {
            assert.deepEqual([...out.shape], [...x.shape]);
            const values = out.toNumbers();
            assert.ok(values.every((v) => v >= 0 && v <= 1), 'purifier output in [0,1]');
            F.mseLoss(out, x).backward();
          }
          for (const [name, p] of model.namedParameters()) {
            const g = p.grad;
            assert.ok(g !== null, `${name} has no gradient`);
            assert.ok(g.isfinite().all(), `${name} has a non-finite gradient`);
          }
          const withGrad = model.namedParameters().filter(([, p]) => (p.grad as Tensor).abs().sum().item() > 0).length;
          assert.ok(withGrad >= model.parameters().length - 2, `only ${withGrad} of ${model.parameters().length} parameters got a non-zero gradient`);
          model.zeroGrad();
        });
        assert.equal(tensorStats().live, before + 1, 'forward/backward left tensors behind');
        model.eval();
        const expected = noGrad(() => model.forward(x)).keep();
        const where = join(dir, arch.name);
        await saveModel(where, model, { classNames: shape.numClasses ? Array.from({ length: shape.numClasses }, (_, i) => `c${i}`) : [] });
        const loaded = await loadModel(where);
        assert.equal(loaded.kind, arch.kind);
        assert.equal(loaded.meta.architecture, arch.base);
        const again = noGrad(() => loaded.model.forward(x));
        assert.ok(again.equal(expected), `${arch.name}: reloaded model gives different outputs`);
        again.dispose();
        expected.dispose();
        loaded.model.dispose();
      } finally {
        x.dispose();
        model.dispose();
      }
    });
  }
});

/** Re-draws every convolution and linear weight with He (Kaiming-normal, ReLU gain) initialisation, biases zero. */
function heInitialise(model: Module): void {
  for (const m of model.modules()) {
    if (m instanceof Conv2d || m instanceof Linear) {
      init.kaimingNormal_(m.weight, { nonlinearity: 'relu' });
      if (m.bias !== null) init.zeros_(m.bias);
    }
  }
}

describe('input gradients of every architecture agree with finite differences', () => {
  // What attacks and purifier training rely on. A dense NCHW-contiguous weighting of the output
  // sends an NCHW gradient into the channels-last network: the case where libtorch 1.13's oneDNN
  // GELU backward used to read the gradient in the wrong order (src/nn/functional.ts gelu).
  for (const arch of architectures) {
    it(`${arch.name}: directional derivatives of the input gradient`, () => {
      manualSeed(5);
      const { shape, overrides } = testShape(arch.name);
      const model = createModel(arch.name, modelConfig(arch.name, shape, overrides)).eval();
      // At PyTorch's default initialisation an untrained deep VGG maps noise images to almost the
      // same logits (input gradient ~1e-7, a change below float32's resolution of the output that
      // no finite difference can measure). He initialisation (what torchvision's VGG uses) keeps
      // the signal alive through the 16 layers; the gradient being checked is the same code path.
      if (arch.base === 'vgg16') heInitialise(model);
      try {
        scope(() => {
          const x = rand([2, shape.channels, shape.height, shape.width]).mul(0.8).add(0.1);
          const out = noGrad(() => model.forward(x));
          const weight = rand([...out.shape]).sub(0.5).to('float64');
          const objective = (input: Tensor): Tensor => model.forward(input).to('float64').mul(weight).sum();
          const xr = x.clone().requiresGrad_();
          const [g] = grad(objective(xr), [xr]);
          const norm = (g as Tensor).to('float64').pow(2).sum().sqrt().item();
          assert.ok(norm > 1e-4, `${arch.name}: input gradient norm ${norm} is too small for float32 finite differences to check`);
          // Along the gradient itself (a wrong gradient points elsewhere), then a random direction.
          const random = rand([...x.shape]).sub(0.5);
          for (const [what, direction] of [['gradient', g as Tensor], ['random', random]] as const) {
            const v = direction.div(direction.pow(2).sum().sqrt());
            const h = 1e-2;
            const numerical = noGrad(() => (objective(x.add(v.mul(h))).item() - objective(x.sub(v.mul(h))).item()) / (2 * h));
            const analytical = (g as Tensor).mul(v).to('float64').sum().item();
            assert.ok(Math.abs(analytical - numerical) <= 0.05 * norm,
              `${arch.name}, ${what} direction: <grad, v> = ${analytical}, finite difference ${numerical}, |grad| ${norm}`);
          }
        });
      } finally {
        model.dispose();
      }
    });
  }
});

describe('model details', () => {
  it('has the parameter counts the papers state or imply', () => {
    const mnist = { channels: 1, height: 28, width: 28, numClasses: 10 };
    const count = (name: string, shape: DataShape = mnist): number => {
      const m = createModel(name, modelConfig(name, shape));
      const n = m.numParameters();
      m.dispose();
      return n;
    };
    assert.equal(count('simple-cnn-fig1'), 1_087_106, 'paper 000 Fig. 1 total');
    assert.equal(count('simple-cnn'), 225_034);
    assert.equal(count('kfold-cnn'), 34_826);
    assert.equal(count('lenet'), 3_274_634);
    assert.equal(count('dae'), 3_217);
    assert.equal(count('resnet9', { channels: 3, height: 32, width: 32, numClasses: 10 }), 6_573_130);
    const csaae = createPurifier('csaae', modelConfig('csaae', mnist));
    assert.equal((csaae as unknown as { latentSize: number }).latentSize, 288, 'paper 000: latent flattened to 1x288');
    csaae.dispose();
  });

  it('computes relu(maxpool(conv)) exactly like the textbook maxpool(relu(conv)) order', () => {
    scope(() => {
      manualSeed(5);
      const model = new SimpleCNN({ channels: 1, height: 28, width: 28, numClasses: 10 }).eval();
      const x = rand([4, 1, 28, 28]);
      const ours = noGrad(() => model.forward(x));
      const textbook = noGrad(() => {
        let h = F.maxPool2d(F.relu(F.conv2d(x, model.conv1.weight, model.conv1.bias)), 2);
        h = F.maxPool2d(F.relu(F.conv2d(h, model.conv2.weight, model.conv2.bias)), 2);
        return F.linear(F.relu(F.linear(h.flatten(1), model.fc1.weight, model.fc1.bias)), model.fc2.weight, model.fc2.bias);
      });
      assert.ok(ours.allclose(textbook, 1e-5, 1e-5));
      model.dispose();
    });
  });

  it('owns its input normalisation: normalised model on pixels = plain model on normalised pixels', () => {
    scope(() => {
      manualSeed(6);
      const shape = { channels: 1, height: 28, width: 28, numClasses: 10 };
      const plain = createClassifier('simple-cnn', modelConfig('simple-cnn', shape)).eval();
      const normed = createClassifier('simple-cnn', modelConfig('simple-cnn', shape, { normalization: { mean: [0.2], std: [0.4] } })).eval();
      normed.loadStateDict(plain.stateDict());
      const x = rand([3, 1, 28, 28]);
      const a = noGrad(() => normed.forward(x));
      const b = noGrad(() => plain.forward(x.sub(0.2).div(0.4)));
      assert.ok(a.allclose(b, 1e-5, 1e-5));
      assert.ok(!normed.stateDict().has('input_mean'), 'normalisation is not part of the torch-compatible state dict');
      plain.dispose();
      normed.dispose();
    });
  });

  it('exposes tap-point activations inside the autograd graph (for Grad-CAM)', () => {
    scope(() => {
      const model = createClassifier('lenet', modelConfig('lenet', { channels: 1, height: 28, width: 28, numClasses: 10 })).eval();
      const { logits, activation } = model.forwardWithActivation(rand([2, 1, 28, 28]));
      assert.deepEqual([...activation.shape], [2, 64, 7, 7]);
      const [g] = grad(logits.select(1, 3).sum(), activation);
      assert.deepEqual([...(g as Tensor).shape], [2, 64, 7, 7]);
      assert.throws(() => model.forwardWithActivation(rand([1, 1, 28, 28]), 'nope'), /no tap point 'nope'; choose one of block1, block2, hidden/);
      assert.throws(() => model.forward(rand([1, 3, 28, 28])), /expected images \[N,1,28,28\] in \[0,1\], got \[1,3,28,28\]/);
      model.dispose();
    });
  });

  it('adds latent noise in training only, unless the purifier is stochastic', () => {
    scope(() => {
      manualSeed(8);
      const cae = createPurifier('cae', modelConfig('cae', { channels: 1, height: 28, width: 28 }, { latentNoise: 0.5 })) as Purifier;
      const x = rand([2, 1, 28, 28]);
      const differ = (): boolean => noGrad(() => !cae.forward(x).equal(cae.forward(x)));
      cae.train();
      assert.ok(differ(), 'training mode adds noise');
      cae.eval();
      assert.ok(!differ(), 'evaluation mode is deterministic');
      cae.stochastic = true;
      assert.ok(differ(), 'a stochastic purifier adds noise at inference (for EOT)');
      cae.dispose();
    });
  });
});
