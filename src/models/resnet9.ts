/**
 * ResNet-9, paper 004's CIFAR-10 classifier: the compact residual network popularised by the
 * DAWNBench CIFAR-10 entries (Page 2018) — prep conv 64; layer1: conv 128 + max-pool, plus a
 * residual of two conv 128; layer2: conv 256 + max-pool; layer3: conv 512 + max-pool, plus a
 * residual of two conv 512; global max-pool; dense. Every convolution is 3x3 without bias,
 * followed by BatchNorm and ReLU. 6,573,130 parameters for CIFAR-10. Paper 004 does not list the
 * layers; this is the standard network of that name, which its schedule (batch 100, 200 epochs)
 * fits.
 */
import { scope, type Tensor } from '../tensor/index.js';
import { BatchNorm2d, Conv2d, Linear, Module, Sequential } from '../nn/index.js';
import { maxPool2d } from '../nn/functional.js';
import { Classifier, type ClassifierShape, type Tap } from './classifier.js';

/** 3x3 convolution (no bias), BatchNorm, ReLU. */
export class ConvBNReLU extends Module {
  readonly conv: Conv2d;
  readonly bn: BatchNorm2d;

  constructor(inChannels: number, outChannels: number) {
    super();
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, 3, { padding: 1, bias: false }));
    this.bn = this.registerModule('bn', new BatchNorm2d(outChannels));
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.bn.forward(this.conv.forward(x)).relu_());
  }
}

/** Hyper-parameters of {@link ResNet9}. */
export interface ResNet9Config extends ClassifierShape {
  /** Channel multiplier (default 1). */
  widthFactor?: number;
}

/** ResNet-9 as described in the file comment. */
export class ResNet9 extends Classifier {
  readonly tapPoints = ['prep', 'layer1', 'layer2', 'layer3'] as const;
  readonly camLayer = 'layer3';
  readonly prep: ConvBNReLU;
  readonly layer1: ConvBNReLU;
  readonly res1: Sequential;
  readonly layer2: ConvBNReLU;
  readonly layer3: ConvBNReLU;
  readonly res3: Sequential;
  readonly fc: Linear;

  /** The full configuration, defaults resolved (what checkpoints record). */
  readonly config: Required<ResNet9Config>;

  constructor(config: ResNet9Config) {
    super(config);
    this.config = { ...config, widthFactor: config.widthFactor ?? 1, normalization: config.normalization ?? null };
    const c = (n: number): number => Math.max(1, Math.round(n * (config.widthFactor ?? 1)));
    if (Math.min(config.height, config.width) < 8) throw new RangeError(`ResNet9: ${config.height}x${config.width} input is too small (three 2x pools)`);
    this.prep = this.registerModule('prep', new ConvBNReLU(config.channels, c(64)));
    this.layer1 = this.registerModule('layer1', new ConvBNReLU(c(64), c(128)));
    this.res1 = this.registerModule('res1', new Sequential(new ConvBNReLU(c(128), c(128)), new ConvBNReLU(c(128), c(128))));
    this.layer2 = this.registerModule('layer2', new ConvBNReLU(c(128), c(256)));
    this.layer3 = this.registerModule('layer3', new ConvBNReLU(c(256), c(512)));
    this.res3 = this.registerModule('res3', new Sequential(new ConvBNReLU(c(512), c(512)), new ConvBNReLU(c(512), c(512))));
    this.fc = this.registerModule('fc', new Linear(c(512), config.numClasses));
  }

  protected network(x: Tensor, tap: Tap | null): Tensor {
    const prep = this.prep.forward(x);
    tap?.('prep', prep);
    const a = maxPool2d(this.layer1.forward(prep), 2);
    const l1 = a.add(this.res1.forward(a));
    tap?.('layer1', l1);
    const l2 = maxPool2d(this.layer2.forward(l1), 2);
    tap?.('layer2', l2);
    const b = maxPool2d(this.layer3.forward(l2), 2);
    const l3 = b.add(this.res3.forward(b));
    tap?.('layer3', l3);
    return this.fc.forward(l3.amax([2, 3]));
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
