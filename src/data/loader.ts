/**
 * The DataLoader: a {@link BatchSource} over any {@link Dataset}, with seeded per-epoch shuffling,
 * optional drop-last, per-batch transforms and prefetch.
 *
 * Lifetime: a yielded batch (x: NCHW float32 in [0,1], y: int64) stays valid until the next one is
 * requested; the loader then disposes it, and also disposes the last one when the loop ends or is
 * left early (`break`, `return`, a throw). Call keep() (or clone()) on a tensor to hold on to it.
 *
 * What prefetch does: for in-memory sets (every reader's default) a batch is one indexSelect on
 * the uint8 tensor plus one cast, a few microseconds for MNIST (see bench/loader.ts), so batches
 * are assembled when asked for and there is nothing worth overlapping. For sets decoded on demand
 * (image folders with `inMemory: false`) the loader keeps `prefetch` upcoming batches decoding in
 * worker threads while the consumer trains on the current one, so decoding never stalls training.
 */
import { scope, stack, tensor, type Batch, type BatchSource, type Tensor } from '../tensor/index.js';
import type { Dataset, MemoryView } from './dataset.js';
import { deriveRandom } from './seeds.js';
import { transformContext, type BatchTransform } from './transforms.js';

/** Options of {@link DataLoader}. */
export interface DataLoaderOptions {
  /** Samples per batch. */
  batchSize: number;
  /** Visit samples in a new seeded random order every epoch (default false: data-set order). */
  shuffle?: boolean;
  /** Seed of the shuffles and transforms (default 0). The order of epoch e depends only on (seed, e). */
  seed?: number;
  /** Skip the last batch when it would be smaller than batchSize (default false). */
  dropLast?: boolean;
  /** Transforms applied to every batch's images, in order. */
  transforms?: BatchTransform | readonly BatchTransform[];
  /** Batches decoded ahead for on-demand sets (default 2; see the module comment). */
  prefetch?: number;
}

/** Batches of a data set, epoch by epoch (see the module comment for lifetime and prefetch). */
export class DataLoader implements BatchSource {
  readonly dataset: Dataset;
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly prefetch: number;
  readonly #transforms: readonly BatchTransform[];

  constructor(dataset: Dataset, options: DataLoaderOptions) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`DataLoader: batchSize must be a positive integer, got ${batchSize}`);
    const seed = options.seed ?? 0;
    if (!Number.isSafeInteger(seed)) throw new RangeError(`DataLoader: seed must be an integer, got ${seed}`);
    const prefetch = options.prefetch ?? 2;
    if (!Number.isInteger(prefetch) || prefetch < 0) throw new RangeError(`DataLoader: prefetch must be a non-negative integer, got ${prefetch}`);
    if (dataset.length === 0) throw new RangeError(`DataLoader: data set ${dataset.name} is empty`);
    this.dataset = dataset;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? false;
    this.seed = seed;
    this.dropLast = options.dropLast ?? false;
    this.prefetch = prefetch;
    const t = options.transforms;
    this.#transforms = t === undefined ? [] : typeof t === 'function' ? [t] : [...t];
  }

  /** Batches per epoch. */
  get batchCount(): number {
    const n = this.dataset.length;
    return this.dropLast ? Math.floor(n / this.batchSize) : Math.ceil(n / this.batchSize);
  }

  /** Samples per epoch (fewer than the data set's when dropLast cuts the last batch). */
  get sampleCount(): number {
    return this.dropLast ? this.batchCount * this.batchSize : this.dataset.length;
  }

  /** The order in which epoch `epoch` visits the data set (indices into it); depends only on (seed, epoch). */
  order(epoch: number): Int32Array {
    if (!Number.isInteger(epoch) || epoch < 0) throw new RangeError(`DataLoader: epoch must be a non-negative integer, got ${epoch}`);
    const n = this.dataset.length;
    if (this.shuffle) return deriveRandom(this.seed, epoch).permutation(n);
    return Int32Array.from({ length: n }, (_, i) => i);
  }

  /**
   * The batches of one epoch from batch `start` on (default 0; a resumed epoch skips the batches
   * already trained on without assembling them). See the module comment for how long each stays valid.
   */
  async *batches(epoch: number, start = 0): AsyncGenerator<Batch> {
    const order = this.order(epoch);
    const count = this.batchCount;
    if (!Number.isInteger(start) || start < 0 || start > count) throw new RangeError(`DataLoader: start batch must be an integer in [0, ${count}], got ${start}`);
    const slice = (b: number): Int32Array => order.subarray(b * this.batchSize, Math.min(order.length, (b + 1) * this.batchSize));
    const view = this.dataset.memory();
    const readPixels = this.dataset.readPixels?.bind(this.dataset);
    const pending: Promise<Uint8Array>[] = [];
    let requested = start;
    const requestAhead = (): void => {
      if (view !== null || readPixels === undefined) return;
      while (requested < count && pending.length <= this.prefetch) {
        const job = readPixels(slice(requested++));
        job.catch(() => undefined); // awaited in order below; avoid unhandled rejections if the loop stops early
        pending.push(job);
      }
    };
    let previous: Batch | null = null;
    try {
      requestAhead();
      for (let b = start; b < count; b++) {
        releaseBatch(previous);
        previous = null;
        const indices = slice(b);
        let batch: Batch;
        if (view !== null) batch = assembleFromMemory(view, indices);
        else if (readPixels !== undefined) {
          const pixels = await (pending.shift() as Promise<Uint8Array>);
          requestAhead();
          batch = this.#assembleFromPixels(pixels, indices);
        } else batch = this.#assembleFromSamples(indices);
        batch.indices = Int32Array.from(indices);
        this.#applyTransforms(batch, epoch, b);
        previous = batch;
        yield batch;
      }
    } finally {
      releaseBatch(previous);
    }
  }

  #applyTransforms(batch: Batch, epoch: number, b: number): void {
    this.#transforms.forEach((transform, position) => {
      const x = batch.x;
      let next: Tensor;
      try {
        next = scope(() => transform(x, transformContext(this.seed, epoch, b, position)));
      } catch (error) {
        releaseBatch(batch);
        throw error;
      }
      if (next !== x && !x.kept) x.dispose();
      batch.x = next;
    });
  }

  #assembleFromPixels(pixels: Uint8Array, indices: Int32Array): Batch {
    const [c, h, w] = this.dataset.imageShape;
    const labels = Int32Array.from(indices, (i) => this.dataset.label(i));
    return scope(() => ({
      x: tensor(pixels, { shape: [indices.length, c, h, w] }).float().div_(255),
      y: tensor(labels, { dtype: 'int64' }),
    }));
  }

  #assembleFromSamples(indices: Int32Array): Batch {
    return scope(() => {
      const images: Tensor[] = [];
      const labels = new Int32Array(indices.length);
      indices.forEach((index, k) => {
        const sample = this.dataset.get(index);
        images.push(sample.image);
        labels[k] = sample.label;
      });
      return { x: stack(images, 0), y: tensor(labels, { dtype: 'int64' }) };
    });
  }
}

/** One indexSelect on the uint8 images and labels, then a cast to [0,1] floats. */
function assembleFromMemory(view: MemoryView, indices: Int32Array): Batch {
  const rows = view.rows === null ? indices : Int32Array.from(indices, (i) => (view.rows as Int32Array)[i] as number);
  return scope(() => {
    const index = tensor(rows);
    return { x: view.images.indexSelect(0, index).float().div_(255), y: view.labels.indexSelect(0, index) };
  });
}

/** Disposes a batch's tensors unless the consumer kept them. */
function releaseBatch(batch: Batch | null): void {
  if (batch === null) return;
  if (!batch.x.kept) batch.x.dispose();
  if (!batch.y.kept) batch.y.dispose();
}
