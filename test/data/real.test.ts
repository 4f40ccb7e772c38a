/**
 * The real data sets on this machine, when present (skipped with a message otherwise): MNIST in
 * ../shared/data/mnist, Debian's Fashion-MNIST in /usr/share/datasets/fashion-mnist, and the
 * 41-photo AFHQ sample in ../shared/data/afhq-sample.
 *
 * The first-image SHA-256 values were computed independently, once, with
 *   /usr/bin/python3 -c "import gzip,hashlib; d=gzip.open(PATH/'{train,t10k}-images-idx3-ubyte.gz').read(); print(hashlib.sha256(d[16:16+784]).hexdigest())"
 * (the 784 bytes after the 16-byte IDX header).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it, type TestContext } from 'node:test';
import { classCounts, TensorDataset } from '../../src/data/dataset.js';
import { loadDataset, sharedDataDir } from '../../src/data/locate.js';
import { loadIdxFolder } from '../../src/data/readers.js';
import { tensorStats } from '../../src/tensor/index.js';
import { tempDir } from './helpers.js';

const MNIST = join(sharedDataDir(), 'mnist');
const FASHION = '/usr/share/datasets/fashion-mnist';
const AFHQ_SAMPLE = join(sharedDataDir(), 'afhq-sample');
const { dir: cacheDir, cleanup } = tempDir('real-cache');
after(cleanup);

function present(t: TestContext, path: string, what: string): boolean {
  if (existsSync(path)) return true;
  t.skip(`${what} not present at ${path}`);
  return false;
}

function firstImageSha256(ds: TensorDataset): string {
  const first = ds.images.select(0, 0);
  try {
    return createHash('sha256').update(first.toArray() as Uint8Array).digest('hex');
  } finally {
    first.dispose();
  }
}

const cases = [
  {
    what: 'MNIST', path: MNIST, name: 'mnist',
    train: { count: 60_000, histogram: [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949], sha: '23ceaef5eb61f0e70d64ac18fdf0f60df3d5971cf30bbadac7b6ebf07f782d2c', label: 5 },
    test: { count: 10_000, histogram: [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009], sha: '8f6a418c9a639f9e14e96feca47a97df2a35a0a68ae2875431c5c80e05536941', label: 7 },
  },
  {
    what: 'Fashion-MNIST (Debian)', path: FASHION, name: 'fashion-mnist',
    train: { count: 60_000, histogram: new Array(10).fill(6000), sha: '5bd44e331a6d6998daf675700cd0c13dcd7af8ab954b7585124124da61459e7b', label: 9 },
    test: { count: 10_000, histogram: new Array(10).fill(1000), sha: 'ffc7351ed0f8bae542820866086177fa4e0b366b97bf9d998dffdb8dbe138787', label: 9 },
  },
] as const;

describe('real IDX data sets', () => {
  for (const c of cases) {
    for (const split of ['train', 'test'] as const) {
      it(`${c.what} ${split}: count, label histogram, first image`, async (t) => {
        if (!present(t, c.path, c.what)) return;
        const live = tensorStats().live;
        const ds = await loadIdxFolder(c.path, split);
        const expected = c[split];
        assert.equal(ds.length, expected.count);
        assert.deepEqual(ds.imageShape, [1, 28, 28]);
        assert.deepEqual(classCounts(ds), [...expected.histogram]);
        assert.equal(ds.label(0), expected.label);
        assert.equal(firstImageSha256(ds), expected.sha);
        ds.dispose();
        assert.equal(tensorStats().live, live);
      });
    }
  }

  it('finds Fashion-MNIST by name in the Debian location and names its classes', async (t) => {
    if (!present(t, FASHION, 'Fashion-MNIST (Debian)')) return;
    const saved = process.env['BASTION_DATA'];
    delete process.env['BASTION_DATA'];
    try {
      const ds = await loadDataset('fashion-mnist', { split: 'test' });
      assert.equal(ds.classNames[9], 'Ankle boot');
      ds.dispose();
    } finally {
      if (saved !== undefined) process.env['BASTION_DATA'] = saved;
    }
  });
});

describe('real AFHQ sample', () => {
  it('reads the 41 JPEGs (15 cat, 11 dog, 15 wild) at 32x32 RGB and 16x16 gray', async (t) => {
    if (!present(t, AFHQ_SAMPLE, 'AFHQ sample')) return;
    const rgb = await loadDataset('afhq-sample', { size: 32, cacheDir, progress: false });
    assert.equal(rgb.name, 'afhq-sample/all');
    assert.deepEqual(rgb.classNames, ['cat', 'dog', 'wild']);
    assert.deepEqual(classCounts(rgb), [15, 11, 15]);
    assert.deepEqual(rgb.imageShape, [3, 32, 32]);
    const sample = rgb.get(0);
    const values = sample.image.toFloat32Array();
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    assert.ok(mean > 0.1 && mean < 0.9, `a photo, not a blank: mean ${mean}`);
    sample.image.dispose();
    const gray = await loadDataset('afhq-sample', { size: 16, channels: 1, cacheDir, progress: false });
    assert.deepEqual(gray.imageShape, [1, 16, 16]);
    rgb.dispose();
    gray.dispose();
  });
});
