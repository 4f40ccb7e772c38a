/**
 * The `Dataset` contract of Bastion and its two workhorses: `TensorDataset` (a whole data set held
 * as one uint8 [N,C,H,W] tensor plus int64 labels, the in-memory form every reader produces for
 * MNIST-sized sets) and `SubsetDataset` (a view through a list of indices: splits, K-fold folds,
 * first-N and per-class subsets, all without copying pixels).
 */
import { scope, tensor, type Tensor } from '../tensor/index.js';

/** Image shape [channels, height, width]. */
export type ImageShape = readonly [channels: number, height: number, width: number];

/** One sample: a [C,H,W] float32 image in [0,1] (owned by the caller: dispose it) and its class index. */
export interface Sample {
  image: Tensor;
  label: number;
}

/**
 * The in-memory tensors behind a data set and which of their rows it uses (`null`: all rows, in
 * order). The loader batches such sets with one indexSelect per batch.
 */
export interface MemoryView {
  /** uint8 [N,C,H,W], pixel values 0..255. */
  images: Tensor;
  /** int64 [N]. */
  labels: Tensor;
  rows: Int32Array | null;
}

/** A labelled image classification data set. */
export interface Dataset {
  /** Human-readable name, e.g. `mnist/train` or `afhq-sample[fold 3 train]`. */
  readonly name: string;
  /** Number of samples. */
  readonly length: number;
  /** Class names; labels index into this list. */
  readonly classNames: readonly string[];
  /** [C,H,W] of every image. */
  readonly imageShape: ImageShape;
  /** The class index of sample `i` (cheap: no image is decoded). */
  label(i: number): number;
  /** Sample `i`: a new [C,H,W] float32 tensor in [0,1] (dispose it, or create it inside scope()). */
  get(i: number): Sample;
  /** The in-memory tensors behind this set, or null when samples are decoded on demand. */
  memory(): MemoryView | null;
  /**
   * Optional asynchronous bulk access for sets decoded on demand: the uint8 CHW pixels of these
   * samples, concatenated. The loader uses it to decode batches ahead, off the main thread.
   */
  readPixels?(indices: Int32Array): Promise<Uint8Array>;
  /** Frees what this set owns (tensors, worker threads). Views over another set own nothing. */
  dispose(): void;
}

/** Throws a RangeError unless `i` is a valid sample index of a set of `length` samples. */
export function checkIndex(i: number, length: number, name: string): void {
  if (!Number.isInteger(i) || i < 0 || i >= length) throw new RangeError(`${name}: sample index ${i} is out of range [0, ${length})`);
}

/** Options of {@link TensorDataset.fromArrays}. */
export interface TensorDatasetArrays {
  name: string;
  /** N*C*H*W bytes, planar per image (CHW), images one after the other. */
  pixels: Uint8Array;
  shape: readonly [number, number, number, number];
  labels: Uint8Array | Int32Array;
  classNames: readonly string[];
  /** Source files, one per sample (image folders), for reports. */
  files?: readonly string[];
}

/**
 * A data set held in memory as a uint8 [N,C,H,W] tensor and int64 [N] labels (both kept: they
 * live until {@link TensorDataset.dispose}). MNIST train takes 47 MB this way, CIFAR-10 150 MB.
 */
export class TensorDataset implements Dataset {
  readonly name: string;
  readonly classNames: readonly string[];
  readonly imageShape: ImageShape;
  readonly length: number;
  /** uint8 [N,C,H,W]. */
  readonly images: Tensor;
  /** int64 [N]. */
  readonly labels: Tensor;
  /** The labels as a JavaScript array (for splits and statistics). */
  readonly labelArray: Int32Array;
  /** Source file of each sample, when the set was read from an image folder. */
  readonly files: readonly string[] | undefined;

  /** Wraps existing tensors (uint8 [N,C,H,W] images, integer [N] labels); takes ownership and keeps them. */
  constructor(options: { name: string; images: Tensor; labels: Tensor; classNames: readonly string[]; files?: readonly string[] }) {
    const { images, labels, classNames, name } = options;
    if (images.dtype !== 'uint8' || images.ndim !== 4) {
      throw new TypeError(`TensorDataset ${name}: images must be a uint8 [N,C,H,W] tensor, got [${images.shape.join(',')}] ${images.dtype}`);
    }
    const n = images.shape[0] as number;
    if (labels.ndim !== 1 || labels.shape[0] !== n || labels.isFloatingPoint) {
      throw new TypeError(`TensorDataset ${name}: labels must be an integer [${n}] tensor, got [${labels.shape.join(',')}] ${labels.dtype}`);
    }
    if (options.files !== undefined && options.files.length !== n) throw new TypeError(`TensorDataset ${name}: ${options.files.length} file names for ${n} samples`);
    this.name = name;
    this.classNames = Object.freeze([...classNames]);
    this.images = images.keep();
    this.labels = (labels.dtype === 'int64' ? labels : scope(() => labels.to('int64'))).keep();
    if (this.labels !== labels) labels.dispose();
    this.labelArray = Int32Array.from(this.labels.toArray() as BigInt64Array, (v) => Number(v));
    for (let i = 0; i < n; i++) {
      const l = this.labelArray[i] as number;
      if (l < 0 || l >= classNames.length) {
        this.dispose();
        throw new RangeError(`TensorDataset ${name}: sample ${i} has label ${l}, outside the ${classNames.length} classes`);
      }
    }
    this.length = n;
    this.imageShape = Object.freeze([images.shape[1], images.shape[2], images.shape[3]]) as unknown as ImageShape;
    this.files = options.files === undefined ? undefined : Object.freeze([...options.files]);
  }

  /** Builds a set from planar pixel bytes and labels (copied into native tensors). */
  static fromArrays(arrays: TensorDatasetArrays): TensorDataset {
    const [n, c, h, w] = arrays.shape;
    if (arrays.pixels.length !== n * c * h * w) {
      throw new RangeError(`TensorDataset ${arrays.name}: [${arrays.shape.join(',')}] needs ${n * c * h * w} pixel bytes, got ${arrays.pixels.length}`);
    }
    if (arrays.labels.length !== n) throw new RangeError(`TensorDataset ${arrays.name}: ${arrays.labels.length} labels for ${n} images`);
    const images = tensor(arrays.pixels, { shape: arrays.shape });
    let labels: Tensor;
    try {
      labels = tensor(arrays.labels instanceof Int32Array ? arrays.labels : Int32Array.from(arrays.labels), { dtype: 'int64' });
    } catch (error) {
      images.dispose();
      throw error;
    }
    return new TensorDataset({ name: arrays.name, images, labels, classNames: arrays.classNames, ...(arrays.files ? { files: arrays.files } : {}) });
  }

  label(i: number): number {
    checkIndex(i, this.length, this.name);
    return this.labelArray[i] as number;
  }

  get(i: number): Sample {
    checkIndex(i, this.length, this.name);
    const image = scope(() => this.images.select(0, i).float().div_(255));
    return { image, label: this.labelArray[i] as number };
  }

  memory(): MemoryView {
    return { images: this.images, labels: this.labels, rows: null };
  }

  /** Frees the image and label tensors. */
  dispose(): void {
    this.images.dispose();
    this.labels.dispose();
  }
}

/** A view of another data set through a list of its indices (no pixels are copied). */
export class SubsetDataset implements Dataset {
  readonly name: string;
  readonly base: Dataset;
  /** Indices into `base`, in the order of this view. */
  readonly indices: Int32Array;

  readonly #ownsBase: boolean;

  /** With `ownsBase`, disposing the view disposes `base` too (for views that are the only handle on it). */
  constructor(base: Dataset, indices: ArrayLike<number>, name?: string, options: { ownsBase?: boolean } = {}) {
    this.#ownsBase = options.ownsBase ?? false;
    const copy = Int32Array.from(indices);
    for (let i = 0; i < copy.length; i++) {
      const v = copy[i] as number;
      if (v < 0 || v >= base.length || v !== (indices[i] as number)) {
        throw new RangeError(`subset of ${base.name}: index ${indices[i]} is out of range [0, ${base.length})`);
      }
    }
    this.base = base;
    this.indices = copy;
    this.name = name ?? `${base.name}[${copy.length}]`;
  }

  get length(): number {
    return this.indices.length;
  }
  get classNames(): readonly string[] {
    return this.base.classNames;
  }
  get imageShape(): ImageShape {
    return this.base.imageShape;
  }
  label(i: number): number {
    checkIndex(i, this.indices.length, this.name);
    return this.base.label(this.indices[i] as number);
  }
  get(i: number): Sample {
    checkIndex(i, this.indices.length, this.name);
    return this.base.get(this.indices[i] as number);
  }
  memory(): MemoryView | null {
    const view = this.base.memory();
    if (view === null) return null;
    const rows = view.rows === null ? this.indices : Int32Array.from(this.indices, (i) => (view.rows as Int32Array)[i] as number);
    return { images: view.images, labels: view.labels, rows };
  }
  readPixels(indices: Int32Array): Promise<Uint8Array> {
    if (this.base.readPixels === undefined) return Promise.reject(new Error(`${this.base.name} has no bulk pixel access`));
    return this.base.readPixels(Int32Array.from(indices, (i) => this.indices[i] as number));
  }
  /** Disposes the base set if this view owns it (see the constructor); otherwise nothing. */
  dispose(): void {
    if (this.#ownsBase) this.base.dispose();
  }
}

/** The labels of every sample of a set, in order (fast for in-memory sets and views of them). */
export function datasetLabels(dataset: Dataset): Int32Array {
  if (dataset instanceof TensorDataset) return dataset.labelArray;
  if (dataset instanceof SubsetDataset) {
    const base = datasetLabels(dataset.base);
    return Int32Array.from(dataset.indices, (i) => base[i] as number);
  }
  return Int32Array.from({ length: dataset.length }, (_, i) => dataset.label(i));
}

/** Number of samples of each class. */
export function classCounts(dataset: Dataset): number[] {
  const counts = new Array<number>(dataset.classNames.length).fill(0);
  for (const l of datasetLabels(dataset)) counts[l] = (counts[l] as number) + 1;
  return counts;
}

/**
 * Copies any data set into a new in-memory {@link TensorDataset} (e.g. to hold a small subset of a
 * large set, or a lazily decoded image folder, as one tensor). The result is independent of `dataset`.
 */
export function materialize(dataset: Dataset, name = dataset.name): TensorDataset {
  const view = dataset.memory();
  const [c, h, w] = dataset.imageShape;
  if (view !== null) {
    const { images, labels } = scope(() => {
      if (view.rows === null) return { images: view.images.clone(), labels: view.labels.clone() };
      const index = tensor(view.rows, { dtype: 'int64' });
      return { images: view.images.indexSelect(0, index), labels: view.labels.indexSelect(0, index) };
    });
    return new TensorDataset({ name, images, labels, classNames: dataset.classNames });
  }
  const pixels = new Uint8Array(dataset.length * c * h * w);
  const labels = new Int32Array(dataset.length);
  for (let i = 0; i < dataset.length; i++) {
    const sample = dataset.get(i);
    try {
      const bytes = scope(() => sample.image.mul(255).round().to('uint8').toArray() as Uint8Array);
      pixels.set(bytes, i * c * h * w);
    } finally {
      sample.image.dispose();
    }
    labels[i] = sample.label;
  }
  return TensorDataset.fromArrays({ name, pixels, shape: [dataset.length, c, h, w], labels, classNames: dataset.classNames });
}
