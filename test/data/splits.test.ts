/** Splits: stratified K-fold (paper 001, K=10), train/val, subsets. */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { classCounts, datasetLabels, TensorDataset } from '../../src/data/dataset.js';
import { firstN, kFold, kFoldIndices, perClass, randomSubset, subsetByIndices, trainValSplit } from '../../src/data/splits.js';

// 3 classes, unbalanced: 50 / 30 / 23 samples, interleaved.
const labels = Int32Array.from({ length: 103 }, (_, i) => (i < 69 ? i % 3 : i < 96 ? 0 : 1));
const ds = TensorDataset.fromArrays({ name: 'set', pixels: new Uint8Array(103 * 4), shape: [103, 1, 2, 2], labels, classNames: ['a', 'b', 'c'] });
after(() => ds.dispose());

function counts(indices: Int32Array): number[] {
  const c = [0, 0, 0];
  for (const i of indices) c[labels[i] as number]! += 1;
  return c;
}

describe('K-fold', () => {
  it('stratified folds are disjoint, cover every sample, and keep class balance (K=10)', () => {
    const total = counts(Int32Array.from({ length: 103 }, (_, i) => i));
    const folds = kFoldIndices(labels, 10, { seed: 3 });
    assert.equal(folds.length, 10);
    const seen = new Int32Array(103);
    for (const { train, val } of folds) {
      for (const i of val) seen[i]! += 1;
      assert.equal(train.length + val.length, 103);
      const inVal = new Set(val);
      assert.ok(train.every((i) => !inVal.has(i)), 'train and val overlap');
      assert.ok(val.length === 10 || val.length === 11);
      counts(val).forEach((c, k) => assert.ok(Math.abs(c - (total[k] as number) / 10) < 1, `class ${k}: ${c} in a fold`));
    }
    assert.ok(seen.every((s) => s === 1), 'every sample is in exactly one validation fold');
    // Each fold's train part is exactly the other K-1 folds.
    const fold3 = folds[3]!;
    const others = folds.filter((_, f) => f !== 3).flatMap((f) => [...f.val]).sort((a, b) => a - b);
    assert.deepEqual([...fold3.train], others);
  });

  it('is seeded and also works unstratified and unshuffled', () => {
    assert.deepEqual(kFoldIndices(labels, 5, { seed: 1 }), kFoldIndices(labels, 5, { seed: 1 }));
    assert.notDeepEqual(kFoldIndices(labels, 5, { seed: 1 }), kFoldIndices(labels, 5, { seed: 2 }));
    const plain = kFoldIndices(labels, 4, { stratified: false, shuffle: false });
    assert.deepEqual([...plain[0]!.val], Array.from({ length: 26 }, (_, i) => i));
    assert.deepEqual(plain.map((f) => f.val.length), [26, 26, 26, 25]);
    assert.throws(() => kFoldIndices(labels, 1), /K must be an integer in \[2, 103\]/);
  });

  it('kFold returns views of the data set', () => {
    const folds = kFold(ds, 10, { seed: 0 });
    assert.equal(folds[0]!.train.name, 'set[fold 1/10 train]');
    assert.equal(folds[0]!.val.length + folds[0]!.train.length, 103);
    assert.equal(folds[0]!.val.memory()?.images, ds.images);
  });
});

describe('train/val split and subsets', () => {
  it('stratified split hits the exact size and class proportions', () => {
    const { train, val } = trainValSplit(ds, { valFraction: 0.2, seed: 9 });
    assert.equal(val.length, 21);
    assert.equal(train.length, 82);
    const valCounts = classCounts(val);
    // Quotas 21 * [50, 30, 23] / 103 = [10.19, 6.12, 4.69]: floors [10, 6, 4] plus the largest remainder.
    assert.deepEqual(valCounts, [10, 6, 5]);
    const all = new Set([...train.indices, ...val.indices]);
    assert.equal(all.size, 103);
    assert.deepEqual(trainValSplit(ds, { valCount: 10, seed: 9 }).val.indices, trainValSplit(ds, { valCount: 10, seed: 9 }).val.indices);
    assert.equal(trainValSplit(ds, { valCount: 10, stratified: false, seed: 1 }).val.length, 10);
  });

  it('firstN, perClass, randomSubset and index lists', () => {
    assert.deepEqual([...firstN(ds, 4).indices], [0, 1, 2, 3]);
    assert.equal(firstN(ds, 1000).length, 103);
    const five = perClass(ds, 5, { seed: 2 });
    assert.deepEqual(classCounts(five), [5, 5, 5]);
    assert.deepEqual(perClass(ds, 5, { seed: 2 }).indices, five.indices);
    assert.notDeepEqual(perClass(ds, 5, { seed: 3 }).indices, five.indices);
    assert.deepEqual(classCounts(perClass(ds, 40)), [40, 30, 23]);
    const r = randomSubset(ds, 20, { seed: 4 });
    assert.equal(new Set(r.indices).size, 20);
    const picked = subsetByIndices(ds, [5, 1, 5]);
    assert.deepEqual([...datasetLabels(picked)], [labels[5], labels[1], labels[5]]);
    const nested = subsetByIndices(picked, [2, 0]);
    assert.deepEqual([...(nested.memory()?.rows ?? [])], [5, 5]);
    assert.throws(() => subsetByIndices(ds, [103]), /index 103 is out of range \[0, 103\)/);
  });
});
