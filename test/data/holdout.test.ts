/** Split-less image folders get a fixed, stratified, disjoint train/test holdout. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { HOLDOUT_FRACTION, loadDataset, classCounts, SubsetDataset } from '../../src/data/index.js';
import { tempDir, gradientImage, writeImage } from './helpers.js';

it('holds out a stratified share of a split-less folder as test, disjoint from train', async () => {
  const { dir, cleanup } = tempDir('holdout');
  try {
    for (const [cls, n] of [['a', 10], ['b', 5]] as const) {
      for (let i = 0; i < n; i++) writeImage(join(dir, cls, `${i}.png`), gradientImage(8, 8, 1, i));
    }
    const train = await loadDataset(dir, { split: 'train', size: 8, channels: 1, cache: false });
    const test = await loadDataset(dir, { split: 'test', size: 8, channels: 1, cache: false });
    assert.equal(train.length + test.length, 15);
    assert.equal(test.length, Math.round(15 * HOLDOUT_FRACTION));
    assert.deepEqual(classCounts(test), [2, 1], 'stratified');
    const trainIdx = new Set((train as SubsetDataset).indices);
    assert.ok([...(test as SubsetDataset).indices].every((i) => !trainIdx.has(i)), 'disjoint');
    const again = await loadDataset(dir, { split: 'test', size: 8, channels: 1, cache: false });
    assert.deepEqual([...(again as SubsetDataset).indices], [...(test as SubsetDataset).indices], 'fixed');
    for (const d of [train, test, again]) d.dispose();
  } finally {
    cleanup();
  }
});
