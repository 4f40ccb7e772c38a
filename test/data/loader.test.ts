/** DataLoader: determinism, drop-last, shapes/dtypes/ranges, disposal; batch transforms. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TensorDataset, type Dataset, type Sample } from '../../src/data/dataset.js';
import { DataLoader } from '../../src/data/loader.js';
import { firstN } from '../../src/data/splits.js';
import { applyTransform, compose, gaussianNoise, horizontalFlip, normalize, randomCrop } from '../../src/data/transforms.js';
import { manualSeed, randn, scope, tensor, tensorStats } from '../../src/tensor/index.js';
import { bytes } from './helpers.js';

function tinySet(n = 10, c = 1, h = 4, w = 4): TensorDataset {
  return TensorDataset.fromArrays({
    name: 'tiny', pixels: bytes(n * c * h * w, 3), shape: [n, c, h, w],
    labels: Int32Array.from({ length: n }, (_, i) => i % 3), classNames: ['a', 'b', 'c'],
  });
}

async function epochIndices(loader: DataLoader, epoch: number): Promise<number[]> {
  const out: number[] = [];
  for await (const b of loader.batches(epoch)) out.push(...(b.indices ?? []));
  return out;
}

describe('DataLoader', () => {
  it('shuffles deterministically: same (seed, epoch) same order, other epochs and seeds differ', async () => {
    const ds = tinySet(50);
    const a = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 42 });
    const b = new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 42 });
    const e0 = await epochIndices(a, 0);
    assert.deepEqual(await epochIndices(b, 0), e0);
    assert.deepEqual(await epochIndices(a, 3), await epochIndices(new DataLoader(ds, { batchSize: 5, shuffle: true, seed: 42 }), 3));
    assert.notDeepEqual(await epochIndices(a, 1), e0);
    assert.notDeepEqual(await epochIndices(new DataLoader(ds, { batchSize: 8, shuffle: true, seed: 43 }), 0), e0);
    assert.deepEqual([...e0].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
    assert.deepEqual(await epochIndices(new DataLoader(ds, { batchSize: 8 }), 0), Array.from({ length: 50 }, (_, i) => i));
    ds.dispose();
  });

  it('yields NCHW float32 in [0,1] with int64 labels matching the data set; drop-last counts', async () => {
    const ds = tinySet(10, 3, 5, 6);
    const loader = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 1 });
    assert.deepEqual([loader.batchCount, loader.sampleCount], [3, 10]);
    const sizes: number[] = [];
    const pixels = ds.images.toArray() as Uint8Array;
    for await (const { x, y, indices } of loader.batches(0)) {
      assert.equal(x.dtype, 'float32');
      assert.equal(y.dtype, 'int64');
      assert.deepEqual([...x.shape].slice(1), [3, 5, 6]);
      sizes.push(x.shape[0] as number);
      const values = x.toFloat32Array();
      assert.ok(values.every((v) => v >= 0 && v <= 1));
      const first = (indices as Int32Array)[0] as number;
      assert.ok(Math.abs((values[0] as number) - (pixels[first * 90] as number) / 255) < 1e-6);
      assert.deepEqual(y.toNumbers(), Array.from(indices as Int32Array, (i) => i % 3));
    }
    assert.deepEqual(sizes, [4, 4, 2]);
    const dropping = new DataLoader(ds, { batchSize: 4, dropLast: true });
    assert.deepEqual([dropping.batchCount, dropping.sampleCount], [2, 8]);
    const dropSizes: number[] = [];
    for await (const { x } of dropping.batches(0)) dropSizes.push(x.shape[0] as number);
    assert.deepEqual(dropSizes, [4, 4]);
    ds.dispose();
  });

  it('frees every batch: after a full epoch, after break, and keeps what the consumer kept', async () => {
    const ds = tinySet(30);
    const live = tensorStats().live;
    const loader = new DataLoader(ds, { batchSize: 7, shuffle: true, transforms: [horizontalFlip(), gaussianNoise(0.1)] });
    let previous: { isDisposed: boolean } | null = null;
    for await (const { x } of loader.batches(0)) {
      if (previous) assert.equal(previous.isDisposed, true, 'the previous batch is freed when the next is requested');
      previous = x;
    }
    assert.equal(tensorStats().live, live);
    let held = null;
    for await (const { x } of loader.batches(1)) {
      held = x.keep();
      break;
    }
    assert.equal(tensorStats().live, live + 1);
    assert.equal(held?.isDisposed, false);
    held?.dispose();
    assert.equal(tensorStats().live, live);
    ds.dispose();
  });

  it('batches views (subsets) through the base tensors and any Dataset through get()', async () => {
    const ds = tinySet(12);
    const view = firstN(ds, 5);
    const got: number[] = [];
    for await (const { y } of new DataLoader(view, { batchSize: 2 }).batches(0)) got.push(...y.toNumbers());
    assert.deepEqual(got, [0, 1, 2, 0, 1]);
    const plain: Dataset = {
      name: 'plain', length: 3, classNames: ['a', 'b'], imageShape: [1, 2, 2],
      label: (i) => i % 2,
      get: (i): Sample => ({ image: tensor([i, i, i, i], { shape: [1, 2, 2] }).div(10), label: i % 2 }),
      memory: () => null,
      dispose: () => undefined,
    };
    const live = tensorStats().live;
    const values: number[] = [];
    for await (const { x } of new DataLoader(plain, { batchSize: 3 }).batches(0)) values.push(...x.toFloat32Array());
    assert.deepEqual(values.map((v) => Math.round(v * 10)), [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]);
    assert.equal(tensorStats().live, live);
    ds.dispose();
  });

  it('applies transforms reproducibly per (seed, epoch, batch)', async () => {
    const ds = tinySet(16, 1, 6, 6);
    const run = async (seed: number, epoch: number): Promise<number[]> => {
      const out: number[] = [];
      const loader = new DataLoader(ds, { batchSize: 8, seed, transforms: [randomCrop(6, { padding: 2 }), horizontalFlip(), gaussianNoise(0.2)] });
      for await (const { x } of loader.batches(epoch)) out.push(...x.toFloat32Array());
      return out;
    };
    const a = await run(5, 0);
    assert.deepEqual(await run(5, 0), a);
    assert.notDeepEqual(await run(5, 1), a);
    assert.notDeepEqual(await run(6, 0), a);
    ds.dispose();
  });

  it('starts an epoch at a given batch with exactly the batches (order, pixels, transforms) of the full epoch', async () => {
    const ds = tinySet(20, 1, 6, 6);
    const onDemand: Dataset = {
      name: 'on-demand', length: 20, classNames: ds.classNames, imageShape: [1, 6, 6],
      label: (i) => ds.label(i),
      get: (i) => ds.get(i),
      memory: () => null,
      readPixels: async (indices) => {
        const all = ds.images.toArray() as Uint8Array;
        const out = new Uint8Array(indices.length * 36);
        indices.forEach((index, k) => out.set(all.subarray(index * 36, (index + 1) * 36), k * 36));
        return out;
      },
      dispose: () => undefined,
    };
    for (const set of [ds, onDemand]) {
      const loader = new DataLoader(set, { batchSize: 6, shuffle: true, seed: 3, transforms: [randomCrop(6, { padding: 1 }), gaussianNoise(0.1)] });
      const collect = async (start?: number): Promise<[number[], number[]][]> => {
        const out: [number[], number[]][] = [];
        for await (const { x, indices } of loader.batches(2, start)) out.push([[...(indices ?? [])], [...x.toFloat32Array()]]);
        return out;
      };
      const full = await collect();
      assert.equal(full.length, 4);
      assert.deepEqual(await collect(2), full.slice(2), `${set.name}: batches 3 and 4`);
      assert.deepEqual(await collect(4), [], `${set.name}: starting at the end yields nothing`);
      await assert.rejects(collect(5), /start batch must be an integer in \[0, 4\]/);
    }
    ds.dispose();
  });
});

describe('transforms', () => {
  const live = tensorStats().live;
  it('gaussianNoise is clip(x + factor * N(0,1), 0, 1) (paper 001), seeded, and leaves the global RNG alone', () => {
    scope(() => {
      const x = tensor(new Float32Array(4000).fill(0.5), { shape: [10, 1, 20, 20] });
      manualSeed(123);
      const expectedDraw = randn([3]);
      manualSeed(123);
      const noisy = applyTransform(gaussianNoise(0.2), x, 7);
      const noise = noisy.sub(x).toFloat32Array();
      const mean = noise.reduce((s, v) => s + v, 0) / noise.length;
      const std = Math.sqrt(noise.reduce((s, v) => s + (v - mean) ** 2, 0) / noise.length);
      assert.ok(Math.abs(mean) < 0.02 && Math.abs(std - 0.2) < 0.02, `mean ${mean}, std ${std}`);
      assert.ok(applyTransform(gaussianNoise(0.2), x, 7).equal(noisy));
      assert.equal(applyTransform(gaussianNoise(0.2), x, 8).equal(noisy), false);
      const big = applyTransform(gaussianNoise(3), x, 1).toFloat32Array();
      assert.ok(big.every((v) => v >= 0 && v <= 1) && big.some((v) => v === 0) && big.some((v) => v === 1));
      assert.ok(randn([3]).equal(expectedDraw), 'seeded noise must not advance the global generator');
    });
  });

  it('normalize, horizontalFlip and randomCrop do what they say', () => {
    scope(() => {
      const x = tensor([0, 0.25, 0.5, 1, 0.2, 0.4], { shape: [1, 2, 1, 3] });
      assert.ok(applyTransform(normalize([0.5, 0.2], [0.5, 0.1]), x).allclose(tensor([-1, -0.5, 0, 8, 0, 2], { shape: [1, 2, 1, 3] })));
      const batch = tensor(Float32Array.from({ length: 2 * 3 * 4 }, (_, i) => i / 24), { shape: [2, 1, 3, 4] });
      assert.ok(applyTransform(horizontalFlip(1), batch).equal(batch.flip(3)));
      assert.ok(applyTransform(horizontalFlip(0), batch).equal(batch));
      const crop = applyTransform(randomCrop(3, { padding: 0 }), batch, 3);
      assert.deepEqual([...crop.shape], [2, 1, 3, 3]);
      const padded = applyTransform(randomCrop([3, 4], { padding: 2 }), batch, 4);
      assert.deepEqual([...padded.shape], [2, 1, 3, 4]);
      // Every crop is a window of the zero-padded image: its non-zero values appear in the original.
      const original = new Set(batch.toFloat32Array());
      assert.ok(padded.toFloat32Array().every((v) => v === 0 || original.has(v)));
      const chained = applyTransform(compose(horizontalFlip(1), normalize(0.5, 0.5)), batch);
      assert.ok(chained.allclose(batch.flip(3).sub(0.5).div(0.5)));
    });
    assert.equal(tensorStats().live, live);
  });
});
