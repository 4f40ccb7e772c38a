/**
 * The CIFAR-10 "binary version" (https://www.cs.toronto.edu/~kriz/cifar.html): each batch file
 * is a sequence of 3073-byte records, one label byte then 3072 pixel bytes (1024 red, 1024 green,
 * 1024 blue; rows of 32), i.e. already planar CHW. batches.meta.txt names the classes, one a line.
 * Pure byte parsing (no tensors).
 */
import { DataError } from '../../util/errors.js';

/** Bytes of one CIFAR image (3 x 32 x 32). */
export const CIFAR_IMAGE_BYTES = 3 * 32 * 32;
/** Records per official CIFAR-10 batch file. */
export const CIFAR10_BATCH_RECORDS = 10_000;

/** The images and labels of one batch file. */
export interface CifarBatch {
  count: number;
  labels: Uint8Array;
  /** count x 3 x 32 x 32 bytes. */
  images: Uint8Array;
}

/**
 * Parses a CIFAR-10 binary batch. The file must hold a whole number of records and every label
 * must be below `classCount`; `expectRecords` (10,000 for the official files) is checked when given.
 */
export function parseCifarBatch(bytes: Uint8Array, file: string, options: { classCount?: number; expectRecords?: number } = {}): CifarBatch {
  const record = 1 + CIFAR_IMAGE_BYTES;
  if (bytes.length === 0) throw new DataError(file, 'empty CIFAR batch file');
  if (bytes.length % record !== 0) {
    throw new DataError(file, `not a CIFAR-10 binary batch: ${bytes.length} bytes is not a whole number of ${record}-byte records (truncated or wrong file)`,
      'use the binary version (cifar-10-binary.tar.gz), not the Python or MATLAB one');
  }
  const count = bytes.length / record;
  if (options.expectRecords !== undefined && count !== options.expectRecords) {
    throw new DataError(file, `CIFAR-10 batch holds ${count} records; the official batches hold ${options.expectRecords}`);
  }
  const classCount = options.classCount ?? 10;
  const labels = new Uint8Array(count);
  const images = new Uint8Array(count * CIFAR_IMAGE_BYTES);
  for (let i = 0; i < count; i++) {
    const at = i * record;
    const label = bytes[at] as number;
    if (label >= classCount) {
      throw new DataError(file, `corrupt CIFAR batch: record ${i} has label ${label}, but there are only ${classCount} classes`);
    }
    labels[i] = label;
    images.set(bytes.subarray(at + 1, at + record), i * CIFAR_IMAGE_BYTES);
  }
  return { count, labels, images };
}

/** Parses batches.meta.txt: the class names, one a line (blank lines ignored). */
export function parseCifarMeta(text: string, file: string): string[] {
  const names = text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '');
  if (names.length < 2) throw new DataError(file, `expected one class name a line, found ${names.length} names`);
  if (names.some((n) => /[\u0000-\u0008\u000e-\u001f]/.test(n))) throw new DataError(file, 'not a text file of class names (control characters found)');
  return names;
}

/** Encodes a CIFAR binary batch (labels + CHW images): for tests and tools. */
export function encodeCifarBatch(labels: Uint8Array, images: Uint8Array): Uint8Array {
  if (images.length !== labels.length * CIFAR_IMAGE_BYTES) throw new RangeError(`encodeCifarBatch: ${labels.length} labels need ${labels.length * CIFAR_IMAGE_BYTES} image bytes, got ${images.length}`);
  const out = new Uint8Array(labels.length * (1 + CIFAR_IMAGE_BYTES));
  for (let i = 0; i < labels.length; i++) {
    out[i * (1 + CIFAR_IMAGE_BYTES)] = labels[i] as number;
    out.set(images.subarray(i * CIFAR_IMAGE_BYTES, (i + 1) * CIFAR_IMAGE_BYTES), i * (1 + CIFAR_IMAGE_BYTES) + 1);
  }
  return out;
}
