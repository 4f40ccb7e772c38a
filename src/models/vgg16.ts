/**
 * VGG-16 (Simonyan & Zisserman 2015), the classifier of papers 000 (Animal Faces) and 002
 * (MNIST / Fashion-MNIST): 13 convolutions 3x3 (64,64 | 128,128 | 256,256,256 | 512,512,512 |
 * 512,512,512, max-pool 2 after each group) and 3 dense layers.
 *
 * Adapted to small inputs and to a CPU budget, all configurable:
 * - inputs smaller than 32 pixels are zero-padded to 32 inside the model (MNIST 28 -> 32), since
 *   five pools need at least 32 pixels;
 * - the head is torchvision's (adaptive average pool to 7x7, 4096, 4096) for 224-pixel inputs
 *   and a compact one (pool to 1x1, `hidden`=512, 512) for small inputs — the usual CIFAR VGG;
 * - `widthFactor` scales every channel count (1 = the paper's network; 0.25 trains 16x faster);
 * - `batchNorm` adds BatchNorm after each convolution (torchvision's vgg16_bn layout).
 * The papers fine-tune ImageNet weights ("transfer learning"); no machine here can download
 * them, so Bastion trains VGG-16 from scratch. State names follow torchvision (features.N,
 * classifier.N) so PyTorch weights of the same configuration load directly.
 */
import type { Tensor } from '../tensor/index.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Dropout, Linear, MaxPool2d, Module, ReLU, Sequential } from '../nn/index.js';
import { pad } from '../nn/functional.js';
import { Classifier, type ClassifierShape, type Tap } from './classifier.js';

/** Hyper-parameters of {@link VGG16}. */
export interface VGG16Config extends ClassifierShape {
  batchNorm?: boolean;
  /** Channel multiplier (default 1). */
  widthFactor?: number;
  /** Width of the two hidden dense layers (default 4096 for inputs >= 224, else 512). */
  hidden?: number;
  /** Spatial size of the adaptive pool before the head (default 7 for inputs >= 224, else 1). */
  poolSize?: number;
  /** Dropout in the head during training (default 0.5, as VGG). */
  dropout?: number;
}

const GROUPS = [[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]] as const;

/** VGG-16 with the adaptations described in the file comment. */
export class VGG16 extends Classifier {
  readonly tapPoints = ['stage1', 'stage2', 'stage3', 'stage4', 'conv5', 'stage5'] as const;
  readonly camLayer = 'conv5';
  readonly features: Sequential;
  readonly avgpool: AdaptiveAvgPool2d;
  readonly classifier: Sequential;
  /** Zero padding that brings small inputs to 32 pixels: [left, right, top, bottom]. */
  readonly inputPad: readonly number[];
  /** Indices in `features` after which each stage ends (the pools) and where conv5 ends. */
  readonly #stageEnds: number[] = [];
  #conv5End = 0;

  /** The full configuration, defaults resolved (what checkpoints record). */
  readonly config: Required<VGG16Config>;

  constructor(config: VGG16Config) {
    super(config);
    const width = config.widthFactor ?? 1;
    const large = Math.min(config.height, config.width) >= 224;
    this.config = {
      ...config, batchNorm: config.batchNorm ?? false, widthFactor: width, hidden: config.hidden ?? (large ? 4096 : 512),
      poolSize: config.poolSize ?? (large ? 7 : 1), dropout: config.dropout ?? 0.5, normalization: config.normalization ?? null,
    };
    const padH = Math.max(0, 32 - config.height);
    const padW = Math.max(0, 32 - config.width);
    this.inputPad = [Math.floor(padW / 2), Math.ceil(padW / 2), Math.floor(padH / 2), Math.ceil(padH / 2)];
    const layers: Module[] = [];
    let inChannels = config.channels;
    GROUPS.forEach((group, g) => {
      for (const c of group) {
        const out = Math.max(1, Math.round(c * width));
        layers.push(new Conv2d(inChannels, out, 3, { padding: 1 }));
        if (config.batchNorm) layers.push(new BatchNorm2d(out));
        layers.push(new ReLU({ inplace: true }));
        inChannels = out;
      }
      if (g === GROUPS.length - 1) this.#conv5End = layers.length - 1;
      layers.push(new MaxPool2d(2));
      this.#stageEnds.push(layers.length - 1);
    });
    this.features = this.registerModule('features', new Sequential(...layers));
    const poolSize = this.config.poolSize;
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(poolSize));
    const hidden = this.config.hidden;
    const p = this.config.dropout;
    this.classifier = this.registerModule('classifier', new Sequential(
      new Linear(inChannels * poolSize * poolSize, hidden), new ReLU({ inplace: true }), new Dropout(p),
      new Linear(hidden, hidden), new ReLU({ inplace: true }), new Dropout(p),
      new Linear(hidden, config.numClasses),
    ));
  }

  protected network(x: Tensor, tap: Tap | null): Tensor {
    let h = this.inputPad.some((v) => v > 0) ? pad(x, this.inputPad).channelsLast() : x;
    const layers = this.features.children();
    let stage = 0;
    layers.forEach((layer, i) => {
      h = layer.forward(h);
      if (i === this.#conv5End) tap?.('conv5', h);
      if (i === this.#stageEnds[stage]) {
        tap?.(`stage${stage + 1}`, h);
        stage++;
      }
    });
    return this.classifier.forward(this.avgpool.forward(h).flatten(1));
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
