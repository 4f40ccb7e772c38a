/**
 * Readers that turn data-set files into in-memory {@link TensorDataset}s: IDX pairs (MNIST,
 * Fashion-MNIST, KMNIST, any IDX images+labels, gzipped or not) and CIFAR-10 binary batches (a
 * folder of .bin files or the official cifar-10-binary.tar.gz read in place).
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import { DataError } from '../util/errors.js';
import { TensorDataset } from './dataset.js';
import { CIFAR10_BATCH_RECORDS, CIFAR_IMAGE_BYTES, parseCifarBatch, parseCifarMeta } from './formats/cifar.js';
import { parseIdx } from './formats/idx.js';
import { readTar } from './formats/tar.js';

const gunzip = promisify(gunzipCallback);

/** True when the bytes start with the gzip magic number. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Reads a file, gunzipping it when it is gzip-compressed (detected by content, not name).
 * A missing file or a corrupt/truncated gzip stream is a {@link DataError} naming the file.
 */
export async function readMaybeGzip(path: string, hint?: string): Promise<Uint8Array> {
  let raw: Uint8Array;
  try {
    raw = await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(path, code === 'ENOENT' ? 'file not found' : `cannot read: ${(error as Error).message}`, hint);
  }
  if (!isGzip(raw)) return raw;
  try {
    return await gunzip(raw);
  } catch (error) {
    throw new DataError(path, `corrupt or truncated gzip data (${(error as Error).message})`, hint ?? 'the download was probably cut short; fetch the file again');
  }
}

/** Options of {@link loadIdxDataset}. */
export interface IdxDatasetOptions {
  /** Path of the images file: IDX [N,H,W] uint8, gzipped or not. */
  images: string;
  /** Path of the labels file: IDX [N] uint8, gzipped or not. */
  labels: string;
  /** Class names (default: "0".."K-1" for the K = max label + 1 classes found). */
  classNames?: readonly string[];
  name?: string;
  /** Hint attached to file errors (e.g. how to download the set). */
  hint?: string;
}

/** Reads an IDX images file and its labels file into an in-memory data set ([N,1,H,W] images). */
export async function loadIdxDataset(options: IdxDatasetOptions): Promise<TensorDataset> {
  const [imageBytes, labelBytes] = await Promise.all([readMaybeGzip(options.images, options.hint), readMaybeGzip(options.labels, options.hint)]);
  const images = parseIdx(imageBytes, options.images);
  const labels = parseIdx(labelBytes, options.labels);
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new DataError(options.images, `expected IDX images of shape [N,H,W] uint8, found [${images.shape.join(',')}] ${images.dtype}`,
      labels.shape.length === 3 ? 'the images and labels files may be swapped' : undefined);
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new DataError(options.labels, `expected IDX labels of shape [N] uint8, found [${labels.shape.join(',')}] ${labels.dtype}`,
      labels.shape.length === 3 ? 'the images and labels files may be swapped' : undefined);
  }
  const [n, h, w] = images.shape as [number, number, number];
  if (labels.shape[0] !== n) {
    throw new DataError(options.labels, `holds ${labels.shape[0]} labels but ${basename(options.images)} holds ${n} images`,
      'the two files come from different splits or data sets');
  }
  const labelData = labels.data as Uint8Array;
  let maxLabel = -1;
  for (const l of labelData) if (l > maxLabel) maxLabel = l;
  const classNames = options.classNames ?? Array.from({ length: maxLabel + 1 }, (_, i) => String(i));
  if (maxLabel >= classNames.length) {
    throw new DataError(options.labels, `holds label ${maxLabel}, but the data set has ${classNames.length} classes`);
  }
  return TensorDataset.fromArrays({
    name: options.name ?? basename(options.images),
    pixels: images.data as Uint8Array,
    shape: [n, 1, h, w],
    labels: labelData,
    classNames,
  });
}

/** The train/test file names of an MNIST-style IDX folder. */
export function idxFileNames(split: 'train' | 'test'): { images: string; labels: string } {
  const prefix = split === 'train' ? 'train' : 't10k';
  return { images: `${prefix}-images-idx3-ubyte`, labels: `${prefix}-labels-idx1-ubyte` };
}

/**
 * Finds an IDX file in `dir` by its base name: `<base>.gz`, `<base>`, or the `<x>.idx3-ubyte`
 * spelling some mirrors use. Returns null when none exists.
 */
export function findIdxFile(dir: string, base: string): string | null {
  const dotted = base.replace(/-(idx\d-ubyte)$/, '.$1');
  for (const name of [`${base}.gz`, base, `${dotted}.gz`, dotted]) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/** Loads the train or test split of an MNIST-style folder holding the four IDX files. */
export async function loadIdxFolder(dir: string, split: 'train' | 'test', options: { classNames?: readonly string[]; name?: string; hint?: string } = {}): Promise<TensorDataset> {
  const names = idxFileNames(split);
  const images = findIdxFile(dir, names.images);
  const labels = findIdxFile(dir, names.labels);
  const missing = [images === null ? names.images : null, labels === null ? names.labels : null].filter((x) => x !== null);
  if (images === null || labels === null) {
    throw new DataError(join(dir, missing[0] as string), `missing ${missing.map((m) => `${m}(.gz)`).join(' and ')}`, options.hint);
  }
  return loadIdxDataset({ images, labels, ...options });
}

/** The official CIFAR-10 class names (also in batches.meta.txt). */
export const CIFAR10_CLASSES: readonly string[] = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];

const CIFAR_TRAIN_FILES = ['data_batch_1.bin', 'data_batch_2.bin', 'data_batch_3.bin', 'data_batch_4.bin', 'data_batch_5.bin'];
const CIFAR_TEST_FILES = ['test_batch.bin'];
/** Name of the official CIFAR-10 binary archive. */
export const CIFAR10_ARCHIVE = 'cifar-10-binary.tar.gz';

/** Where the CIFAR-10 batches of a path are: a folder of .bin files or a .tar(.gz) archive. */
export function resolveCifarSource(path: string): { kind: 'folder' | 'archive'; path: string } | null {
  if (!existsSync(path)) return null;
  if (statSync(path).isFile()) return { kind: 'archive', path };
  for (const dir of [path, join(path, 'cifar-10-batches-bin')]) {
    if (existsSync(join(dir, 'data_batch_1.bin')) || existsSync(join(dir, 'test_batch.bin'))) return { kind: 'folder', path: dir };
  }
  for (const name of [CIFAR10_ARCHIVE, 'cifar-10-binary.tar', 'cifar10.tar.gz']) {
    if (existsSync(join(path, name))) return { kind: 'archive', path: join(path, name) };
  }
  return null;
}

/**
 * Loads the train (data_batch_1..5, 50,000 images) or test (test_batch, 10,000) split of CIFAR-10
 * from a folder of binary batches or straight out of cifar-10-binary.tar.gz. Class names come from
 * batches.meta.txt when present. Every official batch must hold exactly 10,000 records unless
 * `strictCounts` is false (small test fixtures).
 */
export async function loadCifar10(path: string, split: 'train' | 'test', options: { name?: string; hint?: string; strictCounts?: boolean } = {}): Promise<TensorDataset> {
  const source = resolveCifarSource(path);
  if (source === null) {
    throw new DataError(path, 'no CIFAR-10 binary batches here (expected data_batch_1.bin ... test_batch.bin, a cifar-10-batches-bin folder, or cifar-10-binary.tar.gz)', options.hint);
  }
  const wanted = split === 'train' ? CIFAR_TRAIN_FILES : CIFAR_TEST_FILES;
  const files = new Map<string, { bytes: Uint8Array; file: string }>();
  let meta: { text: string; file: string } | undefined;
  if (source.kind === 'archive') {
    const archive = await readMaybeGzip(source.path, options.hint);
    const entries = readTar(archive, source.path);
    for (const entry of entries) {
      if (entry.type !== 'file') continue;
      const base = entry.name.split('/').pop() as string;
      if (wanted.includes(base)) files.set(base, { bytes: entry.data, file: `${source.path}:${entry.name}` });
      if (base === 'batches.meta.txt') meta = { text: Buffer.from(entry.data).toString('utf8'), file: `${source.path}:${entry.name}` };
    }
  } else {
    for (const base of wanted) {
      const file = join(source.path, base);
      if (existsSync(file)) files.set(base, { bytes: await readFile(file), file });
    }
    const metaFile = join(source.path, 'batches.meta.txt');
    if (existsSync(metaFile)) meta = { text: await readFile(metaFile, 'utf8'), file: metaFile };
  }
  const missing = wanted.filter((w) => !files.has(w));
  if (missing.length > 0) {
    throw new DataError(source.kind === 'archive' ? source.path : join(source.path, missing[0] as string), `missing CIFAR-10 batch ${missing.join(', ')}`, options.hint);
  }
  const classNames = meta ? parseCifarMeta(meta.text, meta.file) : CIFAR10_CLASSES;
  const batches = wanted.map((w) => {
    const { bytes, file } = files.get(w) as { bytes: Uint8Array; file: string };
    return parseCifarBatch(bytes, file, {
      classCount: classNames.length,
      ...(options.strictCounts === false ? {} : { expectRecords: CIFAR10_BATCH_RECORDS }),
    });
  });
  const n = batches.reduce((a, b) => a + b.count, 0);
  const pixels = new Uint8Array(n * CIFAR_IMAGE_BYTES);
  const labels = new Uint8Array(n);
  let at = 0;
  for (const b of batches) {
    pixels.set(b.images, at * CIFAR_IMAGE_BYTES);
    labels.set(b.labels, at);
    at += b.count;
  }
  return TensorDataset.fromArrays({ name: options.name ?? `cifar10/${split}`, pixels, shape: [n, 3, 32, 32], labels, classNames });
}
