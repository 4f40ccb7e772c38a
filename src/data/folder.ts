/**
 * Image-folder data sets (Animal Faces / AFHQ, ImageNet-style, or any user folder):
 * `root/<split>/<class>/*.{png,jpg,jpeg}` or split-less `root/<class>/*`. Images are decoded in
 * worker threads, converted to gray or RGB, resized to one size (area averaging when shrinking),
 * and by default held in memory as one uint8 tensor that is cached on disk (see cache.ts), so a
 * folder is decoded once. With `inMemory: false` images are decoded on demand instead, and the
 * DataLoader decodes upcoming batches ahead in the workers.
 */
import { readdirSync, statSync, type Dirent } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { scope, tensor } from '../tensor/index.js';
import { readImageFile, readImageFileSync } from '../io/image.js';
import { DataError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { cacheRoot, imageCacheKey, readImageCache, writeImageCache } from './cache.js';
import { checkIndex, TensorDataset, type Dataset, type ImageShape, type MemoryView, type Sample } from './dataset.js';
import { DecodePool, defaultDecodeWorkers } from './decode-pool.js';
import { decodeToSpec, type ImageSpec } from './image-decode.js';

/** File extensions read from image folders (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg'];

/** Canonical split names and the folder names accepted for each. */
const SPLIT_FOLDERS: Record<string, readonly string[]> = {
  train: ['train', 'training'],
  val: ['val', 'valid', 'validation'],
  test: ['test', 'testing'],
};

/** The structure of an image folder. */
export interface FolderLayout {
  root: string;
  /** Canonical split name (train/val/test) -> folder, or null for a split-less `root/<class>/*` folder. */
  splits: Record<string, string> | null;
  /** Class folder names, sorted; labels index into this list (the same for every split). */
  classNames: string[];
}

/** The images of one split of a folder. */
export interface FolderListing {
  /** The split read: train, val, test, or all. */
  split: string;
  files: string[];
  labels: Int32Array;
}

function subfolders(dir: string): Dirent[] {
  return readdirSync(dir, { withFileTypes: true }).filter((d) => !d.name.startsWith('.') && (d.isDirectory() || (d.isSymbolicLink() && statSync(join(dir, d.name)).isDirectory())));
}

function isImageName(name: string): boolean {
  const lower = name.toLowerCase();
  return !name.startsWith('.') && IMAGE_EXTENSIONS.some((e) => lower.endsWith(e));
}

function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Works out whether `root` is split into train/val/test folders and which classes it has.
 * Throws a {@link DataError} when the folder is missing or has no class folders.
 */
export function scanImageFolder(root: string, hint?: string): FolderLayout {
  let top: Dirent[];
  try {
    if (!statSync(root).isDirectory()) throw new DataError(root, 'not a folder (an image data set is a folder of class folders)', hint);
    top = subfolders(root);
  } catch (error) {
    if (error instanceof DataError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new DataError(root, code === 'ENOENT' ? 'folder not found' : `cannot read the folder: ${(error as Error).message}`, hint);
  }
  const splits: Record<string, string> = {};
  for (const [canonical, names] of Object.entries(SPLIT_FOLDERS)) {
    const found = top.find((d) => names.includes(d.name.toLowerCase()) && subfolders(join(root, d.name)).length > 0);
    if (found) splits[canonical] = join(root, found.name);
  }
  if (Object.keys(splits).length > 0) {
    const classes = new Set<string>();
    for (const dir of Object.values(splits)) for (const d of subfolders(dir)) classes.add(d.name);
    return { root, splits, classNames: [...classes].sort(byName) };
  }
  if (top.length === 0) {
    throw new DataError(root, 'no class folders: expected root/<class>/*.png|jpg or root/<split>/<class>/*.png|jpg', hint);
  }
  return { root, splits: null, classNames: top.map((d) => d.name).sort(byName) };
}

function listClassFolders(base: string, classNames: readonly string[], files: string[], labels: number[]): void {
  classNames.forEach((name, label) => {
    const dir = join(base, name);
    let entries: string[];
    try {
      entries = readdirSync(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return; // this split lacks the class
      throw new DataError(dir, `cannot read the class folder: ${(error as Error).message}`);
    }
    const images = entries.filter(isImageName).sort(byName);
    if (images.length === 0) {
      throw new DataError(dir, `class folder '${name}' has no ${IMAGE_EXTENSIONS.join('/')} images`, 'add images to it or remove the empty folder');
    }
    for (const image of images) {
      files.push(join(dir, image));
      labels.push(label);
    }
  });
}

/**
 * Lists the image files and labels of one split. `split` is train, val, test or all; a
 * split-less folder only has `all` (its default), a split folder defaults to train. When `test`
 * is asked for and the folder only has a validation split (as AFHQ: train/ and val/), the
 * validation split is returned and `listing.split` says `val`.
 */
export function listImageFolder(layout: FolderLayout, split?: string): FolderListing {
  const files: string[] = [];
  const labels: number[] = [];
  let chosen: string;
  if (layout.splits === null) {
    if (split !== undefined && split !== 'all') {
      throw new DataError(layout.root, `has no '${split}' folder: its sub-folders are the classes (${layout.classNames.slice(0, 5).join(', ')}${layout.classNames.length > 5 ? ', ...' : ''})`,
        "load it whole (split 'all') and split it with trainValSplit() or kFold()");
    }
    chosen = 'all';
    listClassFolders(layout.root, layout.classNames, files, labels);
  } else if (split === 'all') {
    chosen = 'all';
    for (const dir of Object.values(layout.splits)) listClassFolders(dir, layout.classNames, files, labels);
  } else {
    const wanted = split ?? 'train';
    chosen = wanted === 'test' && layout.splits['test'] === undefined && layout.splits['val'] !== undefined ? 'val' : wanted;
    const dir = layout.splits[chosen];
    if (dir === undefined) {
      throw new DataError(layout.root, `has no '${wanted}' split; it has ${Object.keys(layout.splits).join(', ')}`, `choose one of: ${[...Object.keys(layout.splits), 'all'].join(', ')}`);
    }
    listClassFolders(dir, layout.classNames, files, labels);
  }
  if (files.length === 0) throw new DataError(layout.root, `no ${IMAGE_EXTENSIONS.join('/')} images found in split '${chosen}'`);
  return { split: chosen, files, labels: Int32Array.from(labels) };
}

/** Options of {@link loadImageFolder}. */
export interface ImageFolderOptions {
  /** train, val, test or all (see {@link listImageFolder}). */
  split?: string;
  /** Target size: one number for square images, or [height, width] (default 64). */
  size?: number | readonly [number, number];
  /** 1 (gray) or 3 (RGB, default). */
  channels?: 1 | 3;
  /** 'stretch' (default) scales whole images; 'crop' takes the centred region of the target aspect ratio first. */
  fit?: 'stretch' | 'crop';
  /** Hold every image in memory as one uint8 tensor (default true); false decodes on demand. */
  inMemory?: boolean;
  /** Cache decoded in-memory sets on disk (default true). */
  cache?: boolean;
  /** Cache folder (default: `BASTION_CACHE`, else ~/.cache/bastion). */
  cacheDir?: string;
  /** Decode worker threads (default: every core, at most 4; 0 decodes on the main thread). */
  workers?: number;
  /** Data-set name for messages and reports (default `<prefix>/<split>`). */
  name?: string;
  /** The part of the default name before the split (default: the folder's name). */
  namePrefix?: string;
  /** Show a progress bar while decoding (default true). */
  progress?: boolean;
  /** Hint for error messages (e.g. how to obtain the data set). */
  hint?: string;
}

/** Everything derived from options that decides the pixels. */
function imageSpec(options: ImageFolderOptions): ImageSpec {
  const size = options.size ?? 64;
  const [height, width] = typeof size === 'number' ? [size, size] : size;
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1 || height > 4096 || width > 4096) {
    throw new RangeError(`image size must be whole numbers of pixels in [1, 4096], got ${JSON.stringify(size)}`);
  }
  const channels = options.channels ?? 3;
  if (channels !== 1 && channels !== 3) throw new RangeError(`channels must be 1 (gray) or 3 (RGB), got ${String(channels)}`);
  const fit = options.fit ?? 'stretch';
  if (fit !== 'stretch' && fit !== 'crop') throw new RangeError(`fit must be 'stretch' or 'crop', got '${String(fit)}'`);
  return { height, width, channels, fit };
}

/**
 * Reads an image folder as a data set: in memory (default; decoded once in worker threads and
 * cached) or decoded on demand (`inMemory: false`). Unreadable images, empty class folders and
 * missing folders throw a {@link DataError} naming the path; nothing is cached then.
 */
export async function loadImageFolder(root: string, options: ImageFolderOptions = {}): Promise<Dataset> {
  const spec = imageSpec(options);
  const layout = scanImageFolder(root, options.hint);
  const listing = listImageFolder(layout, options.split);
  const name = options.name ?? `${options.namePrefix ?? basename(root)}/${listing.split}`;
  const workers = options.workers ?? defaultDecodeWorkers();
  if (options.inMemory === false) return new ImageFolderDataset({ name, files: listing.files, labels: listing.labels, classNames: layout.classNames, spec, workers });

  const useCache = options.cache ?? true;
  let cachePath: string | undefined;
  let key = '';
  if (useCache) {
    const keyFiles = listing.files.map((file, i) => {
      const st = statSync(file);
      return { path: relative(root, file), size: st.size, mtimeMs: st.mtimeMs, label: listing.labels[i] as number };
    });
    key = imageCacheKey(keyFiles, { ...spec, classNames: layout.classNames });
    const slug = name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60);
    cachePath = join(options.cacheDir ?? cacheRoot(), 'images', `${slug}-${key.slice(0, 32)}.bin`);
    const hit = await readImageCache(cachePath, key);
    if (hit !== null && hit.files.length === listing.files.length) {
      return TensorDataset.fromArrays({ name, pixels: hit.pixels, shape: hit.shape, labels: hit.labels, classNames: layout.classNames, files: listing.files });
    }
  }
  const pixels = await decodeAll(listing.files, spec, workers, options.progress ?? true ? `decode ${name}` : null);
  const shape: [number, number, number, number] = [listing.files.length, spec.channels, spec.height, spec.width];
  if (cachePath !== undefined) {
    await writeImageCache(cachePath, { key, shape, classNames: layout.classNames, files: listing.files.map((f) => relative(root, f)), labels: listing.labels, pixels });
  }
  return TensorDataset.fromArrays({ name, pixels, shape, labels: listing.labels, classNames: layout.classNames, files: listing.files });
}

/** Decodes every file to `spec` (in workers unless `workers` is 0) into one planar N*C*H*W buffer. */
async function decodeAll(files: readonly string[], spec: ImageSpec, workers: number, task: string | null): Promise<Uint8Array> {
  const per = spec.channels * spec.height * spec.width;
  const pixels = new Uint8Array(files.length * per);
  const progress = task === null ? null : new Progress(task, files.length, 'img');
  try {
    if (workers === 0) {
      for (let i = 0; i < files.length; i++) {
        pixels.set(decodeToSpec(await readImageFile(files[i] as string), spec, files[i] as string), i * per);
        progress?.tick();
      }
      return pixels;
    }
    const pool = new DecodePool(Math.min(workers, files.length));
    try {
      const jobs = files.map((file, i) => pool.decode(file, spec).then((data) => {
        pixels.set(data, i * per);
        progress?.tick();
      }));
      // Fail on the first bad file (in file order among failures seen), without unhandled rejections.
      const results = await Promise.allSettled(jobs);
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      return pixels;
    } finally {
      await pool.close();
    }
  } finally {
    progress?.end();
  }
}

/**
 * An image folder decoded on demand: `get(i)` decodes one file on the main thread, while
 * `readPixels()` (used by the DataLoader to prefetch) decodes in worker threads.
 */
export class ImageFolderDataset implements Dataset {
  readonly name: string;
  readonly classNames: readonly string[];
  readonly imageShape: ImageShape;
  readonly files: readonly string[];
  readonly #labels: Int32Array;
  readonly #spec: ImageSpec;
  readonly #workers: number;
  #pool: DecodePool | null = null;

  constructor(options: { name: string; files: readonly string[]; labels: Int32Array; classNames: readonly string[]; spec: ImageSpec; workers: number }) {
    this.name = options.name;
    this.files = Object.freeze([...options.files]);
    this.#labels = options.labels;
    this.classNames = Object.freeze([...options.classNames]);
    this.#spec = options.spec;
    this.#workers = Math.max(1, options.workers);
    this.imageShape = Object.freeze([options.spec.channels, options.spec.height, options.spec.width]) as unknown as ImageShape;
  }

  get length(): number {
    return this.files.length;
  }
  label(i: number): number {
    checkIndex(i, this.files.length, this.name);
    return this.#labels[i] as number;
  }
  get(i: number): Sample {
    checkIndex(i, this.files.length, this.name);
    const file = this.files[i] as string;
    const bytes = readImageFileSync(file);
    const planar = decodeToSpec(bytes, this.#spec, file);
    const [c, h, w] = this.imageShape;
    const image = scope(() => tensor(planar, { shape: [c, h, w] }).float().div_(255));
    return { image, label: this.#labels[i] as number };
  }
  memory(): MemoryView | null {
    return null;
  }
  async readPixels(indices: Int32Array): Promise<Uint8Array> {
    this.#pool ??= new DecodePool(this.#workers);
    const pool = this.#pool;
    const [c, h, w] = this.imageShape;
    const per = c * h * w;
    const out = new Uint8Array(indices.length * per);
    const jobs = Array.from(indices, (index, k) => {
      checkIndex(index, this.files.length, this.name);
      return pool.decode(this.files[index] as string, this.#spec).then((data) => out.set(data, k * per));
    });
    const results = await Promise.allSettled(jobs);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return out;
  }
  /** Ends the decode workers (they also let the process exit when idle). */
  dispose(): void {
    void this.#pool?.close();
    this.#pool = null;
  }
}
