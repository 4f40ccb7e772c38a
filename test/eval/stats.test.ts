/** The statistics helpers of src/eval/stats.ts against values worked out by hand. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { comparePaired, formatPairedComparison, mcnemarExact, median, wilsonInterval } from '../../src/eval/stats.js';

test('median of odd and even lists', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
});

test('Wilson interval contains the proportion and narrows with n', () => {
  const [lo, hi] = wilsonInterval(90, 100);
  assert.ok(lo < 0.9 && hi > 0.9);
  const [lo2, hi2] = wilsonInterval(900, 1000);
  assert.ok(hi2 - lo2 < hi - lo);
});

test('exact McNemar p-values', () => {
  assert.equal(mcnemarExact(0, 0), 1);
  assert.equal(mcnemarExact(5, 5), 1); // capped at 1
  assert.ok(Math.abs(mcnemarExact(10, 0) - 2 / 1024) < 1e-12); // 2 * 0.5^10
  assert.ok(Math.abs(mcnemarExact(1, 3) - 0.625) < 1e-12); // 2 * (1 + 4) / 16
  assert.equal(mcnemarExact(3, 1), mcnemarExact(1, 3)); // two-sided
  // Large counts stay finite and ordered: an even split is not significant, a 60/40 split of 5,000 is.
  assert.ok(mcnemarExact(2500, 2500) > 0.9);
  const uneven = mcnemarExact(3000, 2000);
  assert.ok(uneven > 0 && uneven < 1e-40);
  assert.throws(() => mcnemarExact(-1, 2), RangeError);
  assert.throws(() => mcnemarExact(1.5, 2), RangeError);
});

test('paired comparison counts the discordant images', () => {
  const first = [true, true, false, false, true];
  const second = [true, false, true, true, true];
  const c = comparePaired(first, second);
  assert.deepEqual([c.onlySecond, c.onlyFirst], [2, 1]);
  assert.equal(c.pValue, 1);
  assert.equal(formatPairedComparison(c), '2 / 1, p 1.000');
  assert.equal(formatPairedComparison(comparePaired(new Array(12).fill(false), new Array(12).fill(true))), '12 / 0, p 4.9e-4');
  // 2 * 0.5^3000 is below the double range: the p rounds to 0 and must not print as "p 0.0e+0".
  const extreme = comparePaired(new Array(3000).fill(false), new Array(3000).fill(true));
  assert.equal(extreme.pValue, 0);
  assert.equal(formatPairedComparison(extreme), '3000 / 0, p < 1e-300');
  assert.throws(() => comparePaired([true], [true, false]), RangeError);
});
