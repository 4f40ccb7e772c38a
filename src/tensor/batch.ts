/**
 * The unit of data flowing from loaders (src/data) into training (src/train) and evaluation.
 * Declared here, at the bottom of the stack, so that producers and consumers agree without
 * importing each other.
 */
import type { Tensor } from './tensor.js';

/** A batch of images and labels. */
export interface Batch {
  /** Images, NCHW float32 in [0, 1] (pixel space; models normalise internally). */
  x: Tensor;
  /** Class indices, int64 [N]. */
  y: Tensor;
  /** Positions of these samples in their data set (for reproducibility and reports). */
  indices?: Int32Array;
}

/**
 * A source of batches, epoch by epoch. `batches(epoch)` must be deterministic for a given
 * epoch (shuffling seeded by seed and epoch), so that an interrupted training run can resume
 * (at an epoch boundary or from a mid-epoch checkpoint) and reproduce the uninterrupted run
 * exactly. A yielded batch stays valid until the next one is requested; the source then disposes
 * it (keep() or clone() to hold on).
 */
export interface BatchSource {
  /** Batches per epoch. */
  readonly batchCount: number;
  /** Samples per epoch. */
  readonly sampleCount: number;
  /**
   * The batches of `epoch`, from batch `start` on (default 0): the same batches the full epoch
   * yields at those positions, without assembling the ones before.
   */
  batches(epoch: number, start?: number): AsyncIterable<Batch>;
}
