/**
 * The base of every classifier in the model zoo.
 *
 * A classifier is a differentiable function from images in [0,1] pixel space, NCHW, to logits.
 * It owns its input normalisation, so attacks (which work in pixel space with pixel-space
 * epsilons) never need to know about it. It also names "tap points" — activations inside the
 * network — that Grad-CAM (src/explain) and the attention-based defense (paper 004) read.
 */
import { noGrad, scope, tensor, type Tensor } from '../tensor/index.js';
import { Module } from '../nn/index.js';

/** Per-channel normalisation applied by the model: (x - mean) / std. */
export interface Normalization {
  mean: readonly number[];
  std: readonly number[];
}

/** Receives the activation at a named tap point during a forward pass. */
export type Tap = (name: string, activation: Tensor) => void;

/** Hyper-parameters every classifier shares. */
export interface ClassifierShape {
  /** Image channels (1 grayscale, 3 colour). */
  channels: number;
  /** Image height and width the network is built for. */
  height: number;
  width: number;
  numClasses: number;
  /** Input normalisation; null or absent: none (the network sees [0,1] pixels). */
  normalization?: Normalization | null;
}

/** A model mapping [N,C,H,W] images in [0,1] to [N,numClasses] logits. */
export abstract class Classifier extends Module {
  readonly channels: number;
  readonly height: number;
  readonly width: number;
  readonly numClasses: number;
  readonly normalization: Normalization | null;
  /** Tap points in forward order; Grad-CAM may read any of them. */
  abstract readonly tapPoints: readonly string[];
  /** The tap point Grad-CAM uses by default (the last convolutional feature map). */
  abstract readonly camLayer: string;
  readonly #mean: Tensor | null;
  readonly #invStd: Tensor | null;

  constructor(shape: ClassifierShape) {
    super();
    this.channels = shape.channels;
    this.height = shape.height;
    this.width = shape.width;
    this.numClasses = shape.numClasses;
    this.normalization = shape.normalization ?? null;
    if (this.normalization) {
      const { mean, std } = this.normalization;
      if (mean.length !== shape.channels || std.length !== shape.channels || std.some((s) => !(s > 0))) {
        throw new TypeError(`${this.constructor.name}: normalization needs ${shape.channels} means and ${shape.channels} positive stds`);
      }
      // Non-persistent: the sidecar JSON records normalisation, so the state dict matches torch.nn.
      this.#mean = this.registerBuffer('input_mean', tensor([...mean], { shape: [1, mean.length, 1, 1] }), { persistent: false });
      this.#invStd = this.registerBuffer('input_inv_std', tensor(std.map((s) => 1 / s), { shape: [1, std.length, 1, 1] }), { persistent: false });
    } else {
      this.#mean = null;
      this.#invStd = null;
    }
  }

  /**
   * The network proper, on a normalised channels-last input; calls `tap` (when given) at each of
   * {@link tapPoints}.
   */
  protected abstract network(x: Tensor, tap: Tap | null): Tensor;

  /** Checks the input, normalises it and converts it to channels-last (a new tensor). */
  protected prepare(x: Tensor): Tensor {
    if (x.ndim !== 4 || x.shape[1] !== this.channels) {
      throw new TypeError(
        `${this.constructor.name}: expected images [N,${this.channels},${this.height},${this.width}] in [0,1], got [${x.shape.join(',')}]`,
      );
    }
    const y = x.channelsLast();
    if (this.#mean && this.#invStd) y.sub_(this.#mean).mul_(this.#invStd);
    return y;
  }

  /** Logits [N, numClasses] for images [N,C,H,W] in [0,1]. */
  forward(x: Tensor): Tensor {
    return this.network(this.prepare(x), null);
  }

  /** Logits and the activation at tap point `layer` (default {@link camLayer}), both in the graph. */
  forwardWithActivation(x: Tensor, layer: string = this.camLayer): { logits: Tensor; activation: Tensor } {
    if (!this.tapPoints.includes(layer)) {
      throw new TypeError(`${this.constructor.name}: no tap point '${layer}'; choose one of ${this.tapPoints.join(', ')}`);
    }
    let activation: Tensor | null = null;
    const logits = this.network(this.prepare(x), (name, t) => {
      if (name === layer) activation = t;
    });
    if (activation === null) throw new Error(`${this.constructor.name}: tap point '${layer}' was not reached`);
    return { logits, activation };
  }

  /** Predicted classes (int64 [N]) without recording gradients. */
  predict(x: Tensor): Tensor {
    return noGrad(() => scope(() => this.forward(x).argmax(1)));
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
