/**
 * Small learnable data for defense tests: 28x28 grayscale images of `classes` classes, class k
 * showing a bright 8x8 patch at its own position over faint noise, written as MNIST-style IDX
 * files (train and t10k) so the real loaders read them.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdx } from '../../src/data/index.js';
import { Random } from '../../src/util/random.js';

const POSITIONS = [[2, 2], [2, 18], [18, 2], [18, 18], [10, 10]] as const;

function images(n: number, classes: number, seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  const random = new Random(seed);
  const pixels = new Uint8Array(n * 28 * 28);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const label = i % classes;
    labels[i] = label;
    const [r0, c0] = POSITIONS[label % POSITIONS.length] as readonly [number, number];
    for (let p = 0; p < 28 * 28; p++) pixels[i * 784 + p] = Math.floor(random.next() * 40);
    for (let r = 0; r < 8; r++) for (let c = 0; c < 8; c++) pixels[i * 784 + (r0 + r) * 28 + c0 + c] = 200 + Math.floor(random.next() * 55);
  }
  return { pixels, labels };
}

/** Writes train (n) and test (n/4) IDX files into `dir`; returns `dir` (a data-set path). */
export function writePatchDataset(dir: string, n = 400, classes = 4, seed = 1): string {
  mkdirSync(dir, { recursive: true });
  for (const [prefix, count, s] of [['train', n, seed], ['t10k', Math.max(classes, Math.floor(n / 4)), seed + 1]] as const) {
    const { pixels, labels } = images(count, classes, s);
    writeFileSync(join(dir, `${prefix}-images-idx3-ubyte`), encodeIdx([count, 28, 28], pixels));
    writeFileSync(join(dir, `${prefix}-labels-idx1-ubyte`), encodeIdx([count], labels));
  }
  return dir;
}
