/**
 * ResNet-18 (He et al. 2016), the second Animal Faces classifier of paper 000: a stem, four
 * stages of two BasicBlocks (64, 128, 256, 512 channels; stride 2 from stage 2 on), global
 * average pooling and a dense layer.
 *
 * Small-input adaptation: inputs under 128 pixels use the CIFAR stem (3x3 convolution, stride 1,
 * no max-pool) instead of ImageNet's (7x7 stride 2 + max-pool), which would shrink a 32-pixel
 * image to 1x1 by stage 4. State names follow torchvision (conv1, bn1, layerK.B.conv1,
 * downsample.0/1, fc), so weights move to and from torchvision.models.resnet18 of the same stem.
 */
import { scope, type Tensor } from '../tensor/index.js';
import { AdaptiveAvgPool2d, BatchNorm2d, Conv2d, Linear, MaxPool2d, Module, Sequential } from '../nn/index.js';
import { Classifier, type ClassifierShape, type Tap } from './classifier.js';

/** Hyper-parameters of {@link ResNet18}. */
export interface ResNet18Config extends ClassifierShape {
  /** 'cifar' (3x3, stride 1, no max-pool) or 'imagenet' (7x7 stride 2 + max-pool); default by input size. */
  stem?: 'cifar' | 'imagenet';
  /** Channel multiplier (default 1). */
  widthFactor?: number;
}

/** Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN) shortcut. */
export class BasicBlock extends Module {
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly conv2: Conv2d;
  readonly bn2: BatchNorm2d;
  readonly downsample: Sequential | null;

  constructor(inChannels: number, outChannels: number, stride: number) {
    super();
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, outChannels, 3, { stride, padding: 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(outChannels));
    this.conv2 = this.registerModule('conv2', new Conv2d(outChannels, outChannels, 3, { padding: 1, bias: false }));
    this.bn2 = this.registerModule('bn2', new BatchNorm2d(outChannels));
    this.downsample = stride !== 1 || inChannels !== outChannels
      ? this.registerModule('downsample', new Sequential(new Conv2d(inChannels, outChannels, 1, { stride, bias: false }), new BatchNorm2d(outChannels)))
      : null;
  }

  forward(x: Tensor): Tensor {
    return scope(() => {
      const h = this.bn1.forward(this.conv1.forward(x)).relu_();
      const out = this.bn2.forward(this.conv2.forward(h));
      return out.add_(this.downsample ? this.downsample.forward(x) : x).relu_();
    });
  }
}

/** ResNet-18 with the small-input stem described in the file comment. */
export class ResNet18 extends Classifier {
  readonly tapPoints = ['stem', 'layer1', 'layer2', 'layer3', 'layer4'] as const;
  readonly camLayer = 'layer4';
  readonly stem: 'cifar' | 'imagenet';
  readonly conv1: Conv2d;
  readonly bn1: BatchNorm2d;
  readonly maxpool: MaxPool2d | null;
  readonly layers: Sequential[];
  readonly avgpool: AdaptiveAvgPool2d;
  readonly fc: Linear;

  /** The full configuration, defaults resolved (what checkpoints record). */
  readonly config: Required<ResNet18Config>;

  constructor(config: ResNet18Config) {
    super(config);
    const width = config.widthFactor ?? 1;
    const c = (n: number): number => Math.max(1, Math.round(n * width));
    this.stem = config.stem ?? (Math.min(config.height, config.width) >= 128 ? 'imagenet' : 'cifar');
    this.config = { ...config, stem: this.stem, widthFactor: width, normalization: config.normalization ?? null };
    const imagenet = this.stem === 'imagenet';
    this.conv1 = this.registerModule('conv1', new Conv2d(config.channels, c(64), imagenet ? 7 : 3, { stride: imagenet ? 2 : 1, padding: imagenet ? 3 : 1, bias: false }));
    this.bn1 = this.registerModule('bn1', new BatchNorm2d(c(64)));
    this.maxpool = imagenet ? new MaxPool2d(3, { stride: 2, padding: 1 }) : null;
    let inChannels = c(64);
    this.layers = [64, 128, 256, 512].map((channels, i) => {
      const out = c(channels);
      const stage = new Sequential(new BasicBlock(inChannels, out, i === 0 ? 1 : 2), new BasicBlock(out, out, 1));
      inChannels = out;
      return this.registerModule(`layer${i + 1}`, stage);
    });
    this.avgpool = this.registerModule('avgpool', new AdaptiveAvgPool2d(1));
    this.fc = this.registerModule('fc', new Linear(inChannels, config.numClasses));
  }

  protected network(x: Tensor, tap: Tap | null): Tensor {
    let h = this.bn1.forward(this.conv1.forward(x)).relu_();
    if (this.maxpool) h = this.maxpool.forward(h);
    tap?.('stem', h);
    this.layers.forEach((layer, i) => {
      h = layer.forward(h);
      tap?.(`layer${i + 1}`, h);
    });
    return this.fc.forward(this.avgpool.forward(h).flatten(1));
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
