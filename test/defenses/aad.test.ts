/** AAD (paper 004 eq. 7-10): masks, losses against hand-computed values, double backward, combination with Madry. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { grad, manualSeed, noGrad, rand, scope, setNumThreads, tensor, tensorStats, type Tensor } from '../../src/tensor/index.js';
import { Conv2d, Linear } from '../../src/nn/index.js';
import { crossEntropy } from '../../src/nn/functional.js';
import { Classifier, type Tap } from '../../src/models/index.js';
import { aadTerms, maskAttention, preservationLoss, rectificationLoss, resolveAAD, softmaxDistance } from '../../src/defenses/aad.js';
import { adversarialTraining } from '../../src/defenses/adversarial-training.js';
import { PGD } from '../../src/attacks/pgd.js';
import { assertClose, assertTensor } from '../helpers/assert.js';
import { patternData, trainedTinyCam } from '../helpers/tiny-cam.js';

setNumThreads(1);

/** conv 1x1 (tap 'feat'), global average pool, linear: Grad-CAM in closed form, ReLU(sum_k W_ck/(hw) A^k). */
class GapNet extends Classifier {
  readonly tapPoints = ['feat'] as const;
  readonly camLayer = 'feat';
  readonly conv = this.registerModule('conv', new Conv2d(1, 2, 1));
  readonly fc = this.registerModule('fc', new Linear(2, 3));
  constructor() {
    super({ channels: 1, height: 4, width: 4, numClasses: 3 });
  }
  protected network(x: Tensor, tap: Tap | null): Tensor {
    const feat = this.conv.forward(x);
    tap?.('feat', feat);
    return this.fc.forward(feat.mean([2, 3]));
  }
  /** The Grad-CAM maps written out with the weights (differentiable the ordinary way). */
  closedFormMaps(x: Tensor, classes: Tensor): Tensor {
    return scope(() => {
      const feat = this.forwardWithActivation(x).activation;
      const w = this.fc.weight.indexSelect(0, classes).div(16);
      return feat.mul(w.reshape(-1, 2, 1, 1)).sum(1).relu();
    });
  }
}

describe('AAD masks and losses', () => {
  it('masks the attention area (map >= its mean) out of every channel, eq. 7', () => {
    scope(() => {
      const x = tensor([1, 2, 3, 4, 5, 6, 7, 8], { shape: [1, 2, 2, 2] });
      const maps = tensor([1, 3, 0, 4], { shape: [1, 2, 2] }); // mean 2: cells (0,1) and (1,1) are attention
      assertTensor(maskAttention(x, maps), [1, 2, 2, 2], [1, 0, 3, 0, 5, 0, 7, 0]);
      assertTensor(maskAttention(x, maps, 0.5), [1, 2, 2, 2], [0, 0, 3, 0, 0, 0, 7, 0], 1e-6, 'fixed kappa 0.5');
      // A 2x2 map over a 4x4 image is upsampled first (bilinear, half-pixel centres): rows
      // [0 .25 .75 1], [0 .1875 .5625 .75], [0 .0625 .1875 .25], [0 0 0 0], mean .25, so the six
      // cells >= .25 around the top-right corner are masked.
      const big = maskAttention(tensor(new Float32Array(16).fill(1), { shape: [1, 1, 4, 4] }), tensor([0, 1, 0, 0], { shape: [1, 2, 2] }));
      assertTensor(big, [1, 1, 4, 4], [1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1]);
    });
  });

  it('rectification loss is minus the summed mean L2 distances of the softmax outputs, eq. 8', () => {
    scope(() => {
      const a = tensor([[0, 0], [Math.log(3), 0]]); // softmax: [.5,.5], [.75,.25]
      const b = tensor([[Math.log(3), 0], [Math.log(3), 0]]);
      assertTensor(softmaxDistance(a, b), [2], [Math.sqrt(2 * 0.25 * 0.25), 1e-6], 1e-6);
      const lr = rectificationLoss(a, b, b, a).item();
      assertClose(lr, -(Math.sqrt(0.125) / 2) * 2, 1e-5);
    });
  });

  it('preservation loss is the batch mean of the per-image L1 distance of the maps, eq. 9', () => {
    scope(() => {
      const g = tensor([1, 2, 3, 4, 0, 0, 0, 0], { shape: [2, 2, 2] });
      const h = tensor([1, 0, 3, 5, 1, 1, 1, 1], { shape: [2, 2, 2] });
      assertClose(preservationLoss(g, h).item(), (3 + 4) / 2, 1e-6);
      assert.throws(() => preservationLoss(g, h.narrow(1, 0, 1)), /differ in shape/);
    });
  });

  it('combines to alpha L_r + beta L_p and differentiates the preservation loss through Grad-CAM (double backward)', () => {
    scope(() => {
      manualSeed(3);
      const net = new GapNet().train();
      const x = rand([3, 1, 4, 4]);
      const xAdv = x.add(rand([3, 1, 4, 4]).sub(0.5).mul(0.2)).clamp(0, 1);
      const y = tensor([0, 2, 1], { dtype: 'int64' });
      const options = resolveAAD({ alpha: 0.3, beta: 0.7 });
      const terms = aadTerms(net, x, xAdv, y, options);
      assertClose(terms.penalty.item(), 0.3 * terms.rectification.item() + 0.7 * terms.preservation.item(), 1e-6);
      // The logits of the Grad-CAM pass are the model's logits.
      assert.ok(terms.cleanLogits.allclose(noGrad(() => net.forward(x)), 1e-5, 1e-6));
      // L_p against the same loss written in closed form: equal values and equal weight gradients.
      const expected = preservationLoss(net.closedFormMaps(x, y), net.closedFormMaps(xAdv, y));
      assertClose(terms.preservation.item(), expected.item(), 1e-5);
      const [viaCam] = grad(terms.preservation, net.fc.weight, { retainGraph: true }) as [Tensor];
      const [closed] = grad(expected, net.fc.weight) as [Tensor];
      assert.ok(closed.abs().sum().item() > 0, 'the maps depend on the classifier weights');
      assert.ok(viaCam.allclose(closed, 1e-4, 1e-6), `double-backward gradient ${viaCam.toNumbers()} vs closed form ${closed.toNumbers()}`);
      // The rectification loss trains the network too (through f(x) and f(x^m)).
      const [gr] = grad(terms.rectification, net.conv.weight) as [Tensor];
      assert.ok(gr.abs().sum().item() > 0);
      net.dispose();
    });
  });

  it('Madry + AAD = CE on the PGD example + alpha L_r + beta L_p, without leaking tensors', () => {
    const net = trainedTinyCam(4);
    const data = patternData(32, 5);
    const at = adversarialTraining({ method: 'madry', eps: 0.2, steps: 3, stepSize: 0.1, randomStart: false, aad: { alpha: 0.5, beta: 0.25 } });
    const settings = resolveAAD({ alpha: 0.5, beta: 0.25 });
    scope(() => {
      net.train();
      const { loss, output } = at.loss(net, { x: data.x, y: data.y }) as { loss: Tensor; output: Tensor };
      assert.equal(net.training, true, 'back in training mode after the attack');
      net.eval();
      const result = new PGD({ steps: 3, stepSize: 0.1, randomStart: false, earlyStop: false, carryOver: false }).run(net, data.x, data.y, { norm: 'linf', epsilons: [0.2] });
      const xAdv = result.perEpsilon[0]!.adversarial;
      const terms = aadTerms(net, data.x, xAdv, data.y, settings);
      const expected = crossEntropy(terms.adversarialLogits, data.y).add(terms.penalty);
      assertClose(loss.item(), expected.item(), 1e-5);
      assert.ok(output.allclose(terms.adversarialLogits, 1e-5, 1e-6), 'output = logits of the adversarial examples');
      result.dispose();
      assert.ok(Number.isFinite(at.metrics['l_r']!(output, { x: data.x, y: data.y })));
      assert.ok(at.metrics['attack_ms']!(output, { x: data.x, y: data.y }) > 0);
    });
    const before = tensorStats().live;
    for (let i = 0; i < 3; i++) scope(() => { at.loss(net.train(), { x: data.x, y: data.y }); });
    assert.equal(tensorStats().live, before, 'live tensors after three AAD losses');
    data.x.dispose();
    data.y.dispose();
    net.dispose();
  });

  it('rejects models without Grad-CAM tap points and bad weights', () => {
    const at = adversarialTraining({ method: 'madry', eps: 0.1, steps: 1, aad: true });
    const plain = { training: false, train() { return this; }, eval() { return this; }, forward: (x: Tensor) => x.flatten(1).narrow(1, 0, 4) };
    scope(() => {
      const data = patternData(4, 1);
      assert.throws(() => at.loss(plain as never, { x: data.x, y: data.y }), /AAD needs a zoo classifier with Grad-CAM tap points/);
      data.x.dispose();
      data.y.dispose();
    });
    assert.throws(() => resolveAAD({ alpha: -1 }), /alpha must be a number >= 0/);
  });
});
