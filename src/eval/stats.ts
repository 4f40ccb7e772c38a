/** Small statistics helpers for evaluation results. */

/** Median of a non-empty list. */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** Wilson 95% confidence interval of a proportion k/n, for accuracies on finite test sets. */
export function wilsonInterval(successes: number, n: number, z = 1.959964): [number, number] {
  if (n === 0) return [0, 1];
  const p = successes / n;
  const denom = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denom;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denom;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

/** A paired comparison of two attacks on the same images (which images each one broke). */
export interface PairedComparison {
  /** Images the second attack broke and the first did not. */
  onlySecond: number;
  /** Images the first attack broke and the second did not. */
  onlyFirst: number;
  /** Exact two-sided McNemar p-value of onlySecond vs onlyFirst (1 when both are 0). */
  pValue: number;
}

/**
 * Exact two-sided McNemar test (the sign test on the discordant pairs): the probability, were the
 * two attacks equally strong, of a split of `onlySecond + onlyFirst` discordant images at least as
 * uneven as the one seen, i.e. min(1, 2 P[X <= min(b, c)]) for X ~ Binomial(b + c, 1/2). Computed in
 * log space, so it holds for any count.
 */
export function mcnemarExact(onlySecond: number, onlyFirst: number): number {
  for (const v of [onlySecond, onlyFirst]) if (!Number.isInteger(v) || v < 0) throw new RangeError(`McNemar counts must be non-negative integers, got ${v}`);
  const n = onlySecond + onlyFirst;
  if (n === 0) return 1;
  const k = Math.min(onlySecond, onlyFirst);
  // log C(n, i) built up term by term; the tail sum by log-sum-exp from its largest term (i = k).
  const logTerms: number[] = [];
  let logChoose = 0;
  for (let i = 0; i <= k; i++) {
    logTerms.push(logChoose - n * Math.LN2);
    logChoose += Math.log(n - i) - Math.log(i + 1);
  }
  const top = logTerms[k] as number;
  const tail = Math.exp(top) * logTerms.reduce((sum, t) => sum + Math.exp(t - top), 0);
  return Math.min(1, 2 * tail);
}

/** Compares two attacks' per-image "broken" flags (same images, same order) with {@link mcnemarExact}. */
export function comparePaired(first: readonly boolean[], second: readonly boolean[]): PairedComparison {
  if (first.length !== second.length) throw new RangeError(`paired comparison of ${first.length} and ${second.length} images`);
  let [onlySecond, onlyFirst] = [0, 0];
  first.forEach((a, i) => {
    const b = second[i] as boolean;
    if (b && !a) onlySecond++;
    if (a && !b) onlyFirst++;
  });
  return { onlySecond, onlyFirst, pValue: mcnemarExact(onlySecond, onlyFirst) };
}

/**
 * "b / c, p P": the discordant counts (second-only / first-only) and the McNemar p, for tables.
 * A p below 1e-300 (near or past the double range, where it may have rounded to 0) prints as
 * "p < 1e-300" rather than a misleading "p 0.0e+0".
 */
export function formatPairedComparison(c: PairedComparison): string {
  const p = c.pValue >= 0.001 ? `p ${c.pValue.toFixed(3)}` : c.pValue >= 1e-300 ? `p ${c.pValue.toExponential(1)}` : 'p < 1e-300';
  return `${c.onlySecond} / ${c.onlyFirst}, ${p}`;
}
