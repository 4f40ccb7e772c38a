/** Shared fixtures of the data-layer tests: temp folders and small files the tests write themselves. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { encodeCifarBatch } from '../../src/data/formats/cifar.js';
import { encodeIdx } from '../../src/data/formats/idx.js';
import { encodeJpeg, encodePng, type Channels, type RawImage } from '../../src/io/image.js';
import { setProgressOutput } from '../../src/util/progress.js';

setProgressOutput(null);

/** A fresh temporary folder, removed by the returned cleanup. */
export function tempDir(tag: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `bastion-${tag}-`));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a file, creating parent folders. */
export function put(path: string, data: Uint8Array | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}

/** Deterministic pseudo-random bytes. */
export function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes an MNIST-style IDX pair (n images of h x w) and returns its pixels and labels. */
export function writeIdxPair(dir: string, prefix: 'train' | 't10k', n: number, h: number, w: number, options: { gzip?: boolean; classes?: number; seed?: number } = {}): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = bytes(n * h * w, options.seed ?? 7);
  const labels = Uint8Array.from({ length: n }, (_, i) => i % (options.classes ?? 10));
  const images = encodeIdx([n, h, w], pixels);
  const labelFile = encodeIdx([n], labels);
  const gz = options.gzip ?? true;
  put(join(dir, `${prefix}-images-idx3-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(images) : images);
  put(join(dir, `${prefix}-labels-idx1-ubyte${gz ? '.gz' : ''}`), gz ? gzipSync(labelFile) : labelFile);
  return { pixels, labels };
}

/** CIFAR-style records: n labels (i % 10) and n x 3072 pixel bytes. */
export function cifarRecords(n: number, seed: number): { labels: Uint8Array; images: Uint8Array; file: Uint8Array } {
  const labels = Uint8Array.from({ length: n }, (_, i) => (i + seed) % 10);
  const images = bytes(n * 3072, seed);
  return { labels, images, file: encodeCifarBatch(labels, images) };
}

/** A synthetic image: smooth gradients per channel, so resizing and JPEG behave. */
export function gradientImage(width: number, height: number, channels: Channels, phase = 0): RawImage {
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        data[(y * width + x) * channels + c] = c === 3 ? 255 : Math.round(((x / Math.max(1, width - 1)) * 160 + (y / Math.max(1, height - 1)) * 60 + c * 30 + phase) % 256);
      }
    }
  }
  return { width, height, channels, data };
}

/** Writes an image as PNG or JPEG. */
export function writeImage(path: string, image: RawImage): string {
  return put(path, path.toLowerCase().endsWith('.png') ? encodePng(image) : encodeJpeg(image, 95));
}

/**
 * A 12x10 one-component (grayscale) baseline JPEG: pixel (x, y) = 18x + 5y. Made once with
 * libjpeg-turbo's `cjpeg -grayscale -quality 95` from that PGM; decoding it with `djpeg` gives
 * values within 1 of the source. (jpeg-js can only write three-component JPEGs.)
 */
export const GRAY_JPEG_12x10 = Buffer.from('/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQECAgICAgQDAgICAgUEBAMEBgUGBgYFBgYGBwkIBgcJBwYGCAsICQoKCgoKBggLDAsKDAkKCgr/wAALCAAKAAwBAREA/8QAHwAAAQUBAQEBAQEAAAAAAAAAAAECAwQFBgcICQoL/8QAtRAAAgEDAwIEAwUFBAQAAAF9AQIDAAQRBRIhMUEGE1FhByJxFDKBkaEII0KxwRVS0fAkM2JyggkKFhcYGRolJicoKSo0NTY3ODk6Q0RFRkdISUpTVFVWV1hZWmNkZWZnaGlqc3R1dnd4eXqDhIWGh4iJipKTlJWWl5iZmqKjpKWmp6ipqrKztLW2t7i5usLDxMXGx8jJytLT1NXW19jZ2uHi4+Tl5ufo6erx8vP09fb3+Pn6/9oACAEBAAA/APkH/glv8JP+Qd/ov9ztX7zfs9/CT/i19j/ovr29hX5Cf8Et4IP+Jd+5T+D+EV+8/wCz3BB/wq+x/cp3/hHoK//Z', 'base64');
