/** Grad-CAM (paper 004 eq. 1-2) and the attention measures (eq. 3, 5-6, top-k cells). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { grad, manualSeed, noGrad, rand, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { Conv2d, Linear } from '../../src/nn/index.js';
import { Classifier, createClassifier, modelConfig, type LeNet, type Tap } from '../../src/models/index.js';
import { attentionArea, boxMask, gradCam, maskIoU, normalizeMaps, topCells, upsampleMap } from '../../src/explain/gradcam.js';
import { heatmapOverlay, turbo } from '../../src/explain/overlay.js';
import { assertTensor } from '../helpers/assert.js';

/** conv 1x1 (tap 'feat'), global average pool, linear: Grad-CAM is known in closed form. */
class GapNet extends Classifier {
  readonly tapPoints = ['feat'] as const;
  readonly camLayer = 'feat';
  readonly conv = this.registerModule('conv', new Conv2d(1, 2, 1));
  readonly fc = this.registerModule('fc', new Linear(2, 2));
  constructor() {
    super({ channels: 1, height: 4, width: 4, numClasses: 2 });
  }
  protected network(x: Tensor, tap: Tap | null): Tensor {
    const feat = this.conv.forward(x);
    tap?.('feat', feat);
    return this.fc.forward(feat.mean([2, 3]));
  }
}

describe('Grad-CAM', () => {
  it('equals ReLU(sum_k alpha_k A^k) with alpha_k = W_ck / (h w) on a conv-GAP-linear network', () => {
    scope(() => {
      manualSeed(1);
      const net = new GapNet().eval();
      const x = rand([3, 1, 4, 4]);
      const classes = tensor([0, 1, 1], { dtype: 'int64' });
      const { maps } = gradCam(net, x, { classes });
      const expected = noGrad(() => {
        const feat = net.forwardWithActivation(x).activation; // [3,2,4,4]
        const w = net.fc.weight.indexSelect(0, classes).div(16); // [3,2]
        return feat.mul(w.reshape(3, 2, 1, 1)).sum(1).relu();
      });
      assert.deepEqual([...maps.shape], [3, 4, 4]);
      assert.ok(maps.allclose(expected, 1e-5, 1e-6));
      assert.equal(maps.requiresGrad, false, 'detached unless createGraph');
      net.dispose();
    });
  });

  it('stays differentiable with createGraph (double backward to the input and parameters)', () => {
    scope(() => {
      manualSeed(2);
      const model = createClassifier('lenet', modelConfig('lenet', { channels: 1, height: 28, width: 28, numClasses: 10 })).eval() as LeNet;
      const x = rand([2, 1, 28, 28]).requiresGrad_();
      const { maps } = gradCam(model, x, { createGraph: true });
      assert.deepEqual([...maps.shape], [2, 7, 7]);
      const [gx, gw] = grad(maps.sum(), [x, model.conv2.weight]);
      assert.ok((gx as Tensor).abs().sum().item() > 0, 'map depends on the input');
      assert.ok((gw as Tensor).abs().sum().item() > 0, 'map depends on the weights (AAD trains through it)');
      model.dispose();
    });
  });
});

describe('attention measures', () => {
  it('thresholds maps at their mean or a fixed kappa (eq. 3)', () => {
    scope(() => {
      const maps = tensor([[[0, 1], [2, 5]]]);
      assertTensor(attentionArea(maps), [1, 2, 2], [0, 0, 1, 1]); // mean 2
      assertTensor(attentionArea(maps, 1), [1, 2, 2], [0, 1, 1, 1]);
    });
  });

  it('keeps the top-k cells, measures IoU (eq. 5-6) and builds box masks', () => {
    scope(() => {
      const maps = tensor([[[0.1, 0.9, 0.3], [0.8, 0.2, 0.7]]]);
      assertTensor(topCells(maps, 3), [1, 2, 3], [0, 1, 0, 1, 0, 1]);
      const a = tensor([[[true, true], [false, false]]]);
      const b = tensor([[[true, false], [true, false]]]);
      assertTensor(maskIoU(a, b), [1], [1 / 3]);
      assertTensor(maskIoU(a, a), [1], [1]);
      const box = boxMask([[1, 0, 3, 2]], 3, 4);
      assertTensor(box.to('int32'), [1, 3, 4], [0, 1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0]);
      assert.throws(() => topCells(maps, 7), /cells must be in \[1, 6\]/);
    });
  });

  it('upsamples and normalises maps, and renders turbo overlays', () => {
    scope(() => {
      const maps = tensor([[[0, 2], [4, 8]]]);
      const up = upsampleMap(maps, 8, 8);
      assert.deepEqual([...up.shape], [1, 8, 8]);
      assertTensor(normalizeMaps(maps), [1, 2, 2], [0, 0.25, 0.5, 1]);
      assert.deepEqual(turbo(0), [48, 18, 59]);
      assert.deepEqual(turbo(1), [122, 4, 3]);
      const picture = heatmapOverlay(rand([1, 8, 8]), maps.select(0, 0));
      assert.equal(picture.width, 8);
      assert.equal(picture.channels, 3);
      assert.equal(picture.data.length, 8 * 8 * 3);
    });
  });
});
