/**
 * The decoded-image cache: an image folder is decoded once and its uint8 pixels and labels are
 * stored in one file under the cache folder (`BASTION_CACHE`, else `~/.cache/bastion`), named by a
 * hash of everything the pixels depend on (file list, sizes, modification times, target size,
 * channels, fit). The file is written atomically, so the cache is never partial: a crash or a
 * bad image leaves no cache file at all.
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AtomicFile } from '../io/atomic.js';

const MAGIC = Buffer.from('BSTNIMG\u0001', 'latin1');
const FORMAT_VERSION = 1;

/** Bastion's cache folder: `BASTION_CACHE`, else `~/.cache/bastion`. */
export function cacheRoot(): string {
  const fromEnv = process.env['BASTION_CACHE'];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'bastion');
}

/** One source file as the cache key sees it. */
export interface CacheKeyFile {
  /** Path relative to the data-set root. */
  path: string;
  size: number;
  mtimeMs: number;
  label: number;
}

/** A hex SHA-256 over the file list (paths, sizes, mtimes, labels) and the decoding parameters. */
export function imageCacheKey(files: readonly CacheKeyFile[], params: Record<string, unknown>): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ version: FORMAT_VERSION, params }));
  for (const f of files) hash.update(`\n${f.path}\u0000${f.size}\u0000${f.mtimeMs}\u0000${f.label}`);
  return hash.digest('hex');
}

/** What a cache file holds. */
export interface ImageCacheContent {
  key: string;
  shape: [number, number, number, number];
  classNames: string[];
  files: string[];
  labels: Int32Array;
  pixels: Uint8Array;
}

function headerBytes(content: Omit<ImageCacheContent, 'labels' | 'pixels'>): { prefix: Buffer; padded: number } {
  const json = Buffer.from(JSON.stringify({ key: content.key, shape: content.shape, classNames: content.classNames, files: content.files }), 'utf8');
  const length = Buffer.alloc(4);
  length.writeUInt32LE(json.length);
  const unpadded = MAGIC.length + 4 + json.length;
  const padded = Math.ceil(unpadded / 8) * 8;
  return { prefix: Buffer.concat([MAGIC, length, json, Buffer.alloc(padded - unpadded)]), padded };
}

/** Writes a cache file atomically (nothing appears under `path` unless all of it was written). */
export async function writeImageCache(path: string, content: ImageCacheContent): Promise<void> {
  const { prefix } = headerBytes(content);
  const labels = Buffer.alloc(content.labels.length * 4);
  content.labels.forEach((l, i) => labels.writeInt32LE(l, i * 4));
  const file = await AtomicFile.open(path);
  try {
    await file.write(prefix);
    await file.write(labels);
    const chunk = 64 * 2 ** 20;
    for (let at = 0; at < content.pixels.length; at += chunk) await file.write(content.pixels.subarray(at, at + chunk));
    await file.commit();
  } finally {
    await file.abort();
  }
}

/**
 * Reads a cache file if it exists, is complete and was made for `key`; otherwise null (a stale or
 * damaged cache is simply rebuilt).
 */
export async function readImageCache(path: string, key: string): Promise<ImageCacheContent | null> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(12);
    if ((await handle.read(head, 0, 12, 0)).bytesRead !== 12 || !head.subarray(0, 8).equals(MAGIC)) return null;
    const jsonLength = head.readUInt32LE(8);
    if (jsonLength > size) return null;
    const json = Buffer.alloc(jsonLength);
    await handle.read(json, 0, jsonLength, 12);
    const header = JSON.parse(json.toString('utf8')) as Omit<ImageCacheContent, 'labels' | 'pixels'>;
    if (header.key !== key || !Array.isArray(header.shape) || header.shape.length !== 4) return null;
    const [n, c, h, w] = header.shape;
    const { padded } = headerBytes(header);
    if (size !== padded + n * 4 + n * c * h * w) return null;
    const labelBytes = Buffer.alloc(n * 4);
    await readFully(handle, labelBytes, padded);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) labels[i] = labelBytes.readInt32LE(i * 4);
    const pixels = new Uint8Array(n * c * h * w);
    await readFully(handle, pixels, padded + n * 4);
    return { ...header, labels, pixels };
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

async function readFully(handle: import('node:fs/promises').FileHandle, into: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, Math.min(into.length - done, 256 * 2 ** 20), position + done);
    if (bytesRead === 0) throw new Error('unexpected end of cache file');
    done += bytesRead;
  }
}
