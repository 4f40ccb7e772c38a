/** Image folders: layouts, PNG + JPEG, gray + RGB, sizes, the decoded-image cache and bad input. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { classCounts, TensorDataset } from '../../src/data/dataset.js';
import { ImageFolderDataset, loadImageFolder, scanImageFolder } from '../../src/data/folder.js';
import { DataLoader } from '../../src/data/loader.js';
import { tensorStats } from '../../src/tensor/index.js';
import { DataError } from '../../src/util/errors.js';
import { GRAY_JPEG_12x10, gradientImage, put, tempDir, writeImage } from './helpers.js';

const { dir, cleanup } = tempDir('folder');
after(cleanup);

/** root/<class>/ with PNG and JPEG, gray and RGB(A), of different sizes. */
function mixedFolder(root: string): void {
  writeImage(join(root, 'cats', 'a.png'), gradientImage(40, 30, 3, 0));
  writeImage(join(root, 'cats', 'b.JPG'), gradientImage(16, 16, 3, 40));
  put(join(root, 'cats', 'c.jpeg'), GRAY_JPEG_12x10);
  writeImage(join(root, 'dogs', 'd.png'), gradientImage(9, 33, 1, 80));
  writeImage(join(root, 'dogs', 'e.png'), gradientImage(20, 20, 4, 120));
  put(join(root, 'dogs', 'notes.txt'), 'not an image');
  put(join(root, 'README.md'), 'ignored');
}

describe('image folders', () => {
  const root = join(dir, 'mixed');
  mixedFolder(root);
  const cacheDir = join(dir, 'cache');

  it('reads a split-less root/<class>/* folder of mixed PNG/JPEG into one size, RGB and gray', async () => {
    const live = tensorStats().live;
    const rgb = (await loadImageFolder(root, { size: 8, cacheDir, workers: 2, progress: false })) as TensorDataset;
    assert.ok(rgb instanceof TensorDataset);
    assert.equal(rgb.name, 'mixed/all');
    assert.deepEqual(rgb.classNames, ['cats', 'dogs']);
    assert.deepEqual(rgb.imageShape, [3, 8, 8]);
    assert.deepEqual(classCounts(rgb), [3, 2]);
    assert.deepEqual(rgb.files?.map((f) => f.slice(root.length + 1)), ['cats/a.png', 'cats/b.JPG', 'cats/c.jpeg', 'dogs/d.png', 'dogs/e.png']);
    const gray = (await loadImageFolder(root, { size: [6, 10], channels: 1, cacheDir, workers: 0, progress: false })) as TensorDataset;
    assert.deepEqual([...gray.images.shape], [5, 1, 6, 10]);
    // The gray JPEG's RGB version repeats its gray plane.
    const pixels = rgb.images.toArray() as Uint8Array;
    const c = pixels.subarray(2 * 192, 3 * 192);
    assert.deepEqual(c.subarray(0, 64), c.subarray(64, 128));
    const s = rgb.get(0);
    const values = s.image.toFloat32Array();
    assert.ok(values.every((v) => v >= 0 && v <= 1));
    s.image.dispose();
    rgb.dispose();
    gray.dispose();
    assert.equal(tensorStats().live, live);
  });

  it('caches decoded pixels atomically and reuses them; a changed file invalidates the cache', async () => {
    const cache = join(dir, 'cache2');
    const first = (await loadImageFolder(root, { size: 8, cacheDir: cache, progress: false })) as TensorDataset;
    const files = readdirSync(join(cache, 'images'));
    assert.equal(files.length, 1);
    assert.ok(files[0]?.endsWith('.bin'));
    const second = (await loadImageFolder(root, { size: 8, cacheDir: cache, progress: false })) as TensorDataset;
    assert.ok(second.images.equal(first.images));
    assert.deepEqual(readdirSync(join(cache, 'images')), files);
    await loadImageFolder(root, { size: 9, cacheDir: cache, progress: false }).then((d) => d.dispose());
    assert.equal(readdirSync(join(cache, 'images')).length, 2);
    writeImage(join(root, 'cats', 'a.png'), gradientImage(40, 30, 3, 99));
    const third = (await loadImageFolder(root, { size: 8, cacheDir: cache, progress: false })) as TensorDataset;
    assert.equal(third.images.equal(first.images), false);
    assert.equal(readdirSync(join(cache, 'images')).length, 3);
    for (const d of [first, second, third]) d.dispose();
  });

  it('reads root/<split>/<class>/* layouts; test falls back to val; class lists agree across splits', async () => {
    const split = join(dir, 'split');
    writeImage(join(split, 'train', 'cat', '1.png'), gradientImage(10, 10, 3));
    writeImage(join(split, 'train', 'dog', '2.png'), gradientImage(10, 10, 3, 50));
    writeImage(join(split, 'train', 'wild', '3.png'), gradientImage(10, 10, 3, 90));
    writeImage(join(split, 'val', 'wild', '4.png'), gradientImage(10, 10, 3, 10));
    assert.deepEqual(scanImageFolder(split).classNames, ['cat', 'dog', 'wild']);
    const train = await loadImageFolder(split, { size: 4, cache: false, progress: false });
    assert.equal(train.name, 'split/train');
    assert.equal(train.length, 3);
    const test = await loadImageFolder(split, { split: 'test', size: 4, cache: false, progress: false });
    assert.equal(test.name, 'split/val');
    assert.deepEqual([test.length, test.label(0)], [1, 2]);
    const all = await loadImageFolder(split, { split: 'all', size: 4, cache: false, progress: false });
    assert.equal(all.length, 4);
    for (const d of [train, test, all]) d.dispose();
    await assert.rejects(loadImageFolder(root, { split: 'train', cache: false }), (e: unknown) => e instanceof DataError && /has no 'train' folder: its sub-folders are the classes \(cats, dogs\)/.test(e.message) && /trainValSplit/.test(e.hint ?? ''));
  });

  it('decodes on demand with inMemory: false, and the loader prefetches in workers', async () => {
    const live = tensorStats().live;
    const lazy = await loadImageFolder(root, { size: 8, inMemory: false, workers: 2 });
    assert.ok(lazy instanceof ImageFolderDataset);
    assert.equal(lazy.memory(), null);
    const eager = (await loadImageFolder(root, { size: 8, cache: false, progress: false })) as TensorDataset;
    const loader = new DataLoader(lazy, { batchSize: 2, prefetch: 2 });
    const seen: number[] = [];
    for await (const batch of loader.batches(0)) {
      const index = Array.from(batch.indices ?? []);
      const expected = (eager.images.toArray() as Uint8Array).subarray((index[0] as number) * 192, ((index.at(-1) as number) + 1) * 192);
      const got = Array.from(batch.x.toFloat32Array(), (v) => Math.round(v * 255));
      assert.deepEqual(got, [...expected]);
      seen.push(...index);
    }
    assert.deepEqual(seen, [0, 1, 2, 3, 4]);
    const one = lazy.get(4);
    assert.deepEqual([...one.image.shape], [3, 8, 8]);
    one.image.dispose();
    lazy.dispose();
    eager.dispose();
    assert.equal(tensorStats().live, live);
  });

  it('reports unreadable images, empty class folders and missing folders; nothing is cached', async () => {
    const bad = join(dir, 'bad');
    mixedFolder(bad);
    put(join(bad, 'dogs', 'broken.png'), new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]));
    const cache = join(dir, 'cache-bad');
    await assert.rejects(loadImageFolder(bad, { size: 8, cacheDir: cache, progress: false }), (e: unknown) =>
      e instanceof DataError && e.message.includes(join(bad, 'dogs', 'broken.png')) && /truncated PNG/.test(e.message));
    assert.equal(existsSync(join(cache, 'images')) ? readdirSync(join(cache, 'images')).length : 0, 0);

    const empty = join(dir, 'empty');
    mixedFolder(empty);
    mkdirSync(join(empty, 'birds'));
    writeFileSync(join(empty, 'birds', 'list.txt'), 'no images');
    await assert.rejects(loadImageFolder(empty, { cache: false }), /birds: class folder 'birds' has no \.png\/\.jpg\/\.jpeg images/);
    await assert.rejects(loadImageFolder(join(dir, 'absent'), { cache: false, hint: 'see NOTICE' }), (e: unknown) => e instanceof DataError && /absent: folder not found/.test(e.message) && e.hint === 'see NOTICE');
    mkdirSync(join(dir, 'flat'));
    writeImage(join(dir, 'flat', 'x.png'), gradientImage(4, 4, 3));
    await assert.rejects(loadImageFolder(join(dir, 'flat'), { cache: false }), /flat: no class folders/);
  });
});
