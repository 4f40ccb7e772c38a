/**
 * Splitting data sets: train/validation splits (optionally stratified), K-fold cross-validation
 * (paper 001 trains K=10 models, each on the other K-1 folds, and ensembles them), and subsets by
 * index list, first N, random N, or N per class. All seeded, all views (no pixels copied).
 */
import { Random } from '../util/random.js';
import { datasetLabels, SubsetDataset, type Dataset } from './dataset.js';
import { deriveRandom } from './seeds.js';

/** Indices of each class, in data-set order. */
function indicesByClass(labels: Int32Array, classCount: number): number[][] {
  const groups: number[][] = Array.from({ length: classCount }, () => []);
  labels.forEach((l, i) => {
    while (groups.length <= l) groups.push([]);
    (groups[l] as number[]).push(i);
  });
  return groups;
}

function sorted(values: number[]): Int32Array {
  return Int32Array.from(values).sort();
}

/** Options of {@link trainValSplit}. */
export interface TrainValSplitOptions {
  /** Fraction of samples for validation (default 0.1), or give valCount. */
  valFraction?: number;
  /** Exact number of validation samples. */
  valCount?: number;
  /** Keep class proportions in both parts (default true). */
  stratified?: boolean;
  seed?: number;
}

/**
 * Splits a set into train and validation views. Stratified splits give every class its share of
 * the validation samples (largest-remainder rounding, so the total is exact).
 */
export function trainValSplit(dataset: Dataset, options: TrainValSplitOptions = {}): { train: SubsetDataset; val: SubsetDataset } {
  const n = dataset.length;
  const valCount = options.valCount ?? Math.round(n * (options.valFraction ?? 0.1));
  if (!Number.isInteger(valCount) || valCount < 0 || valCount > n) throw new RangeError(`trainValSplit: validation size ${valCount} is not in [0, ${n}]`);
  const random = deriveRandom(options.seed ?? 0, 0x5911);
  const val: number[] = [];
  if (options.stratified ?? true) {
    const groups = indicesByClass(datasetLabels(dataset), dataset.classNames.length);
    const quotas = groups.map((g) => (valCount * g.length) / n);
    const counts = quotas.map(Math.floor);
    let left = valCount - counts.reduce((a, b) => a + b, 0);
    const byRemainder = quotas.map((q, c) => [q - Math.floor(q), c] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
    for (const [, c] of byRemainder) {
      if (left === 0) break;
      if ((counts[c] as number) < (groups[c] as number[]).length) {
        counts[c] = (counts[c] as number) + 1;
        left--;
      }
    }
    groups.forEach((g, c) => val.push(...random.shuffle([...g]).slice(0, counts[c])));
  } else {
    val.push(...random.permutation(n).subarray(0, valCount));
  }
  const isVal = new Uint8Array(n);
  for (const i of val) isVal[i] = 1;
  const train: number[] = [];
  for (let i = 0; i < n; i++) if (!isVal[i]) train.push(i);
  return {
    train: new SubsetDataset(dataset, Int32Array.from(train), `${dataset.name}[train split]`),
    val: new SubsetDataset(dataset, sorted(val), `${dataset.name}[val split]`),
  };
}

/** Options of {@link kFold} and {@link kFoldIndices}. */
export interface KFoldOptions {
  /** Keep class proportions in every fold (default true; needs labels). */
  stratified?: boolean;
  /** Shuffle before assigning folds (default true). Without it, folds are contiguous runs. */
  shuffle?: boolean;
  seed?: number;
}

/** Train and validation indices of one fold. */
export interface FoldIndices {
  train: Int32Array;
  val: Int32Array;
}

/**
 * K-fold assignment over samples with these labels: K disjoint validation folds covering every
 * sample once, each fold's train part being the other K-1 folds. Stratified folds hold every
 * class in proportion (fold sizes and per-class counts differ by at most one).
 */
export function kFoldIndices(labels: Int32Array, k: number, options: KFoldOptions = {}): FoldIndices[] {
  const n = labels.length;
  if (!Number.isInteger(k) || k < 2 || k > n) throw new RangeError(`kFold: K must be an integer in [2, ${n}], got ${k}`);
  const fold = new Int32Array(n);
  const shuffle = options.shuffle ?? true;
  const random: Random = deriveRandom(options.seed ?? 0, 0xf01d);
  if (options.stratified ?? true) {
    let maxLabel = 0;
    for (const l of labels) if (l > maxLabel) maxLabel = l;
    const groups = indicesByClass(labels, maxLabel + 1);
    // Deal each class's (shuffled) samples round-robin, continuing where the previous class
    // stopped, so both fold sizes and per-class counts stay within one of each other.
    let next = 0;
    for (const group of groups) {
      const members = shuffle ? random.shuffle([...group]) : group;
      for (const i of members) {
        fold[i] = next;
        next = (next + 1) % k;
      }
    }
  } else {
    const order = shuffle ? random.permutation(n) : Int32Array.from({ length: n }, (_, i) => i);
    const base = Math.floor(n / k);
    const extra = n % k;
    let at = 0;
    for (let f = 0; f < k; f++) {
      const size = base + (f < extra ? 1 : 0);
      for (let j = 0; j < size; j++) fold[order[at++] as number] = f;
    }
  }
  return Array.from({ length: k }, (_, f) => {
    const train: number[] = [];
    const val: number[] = [];
    for (let i = 0; i < n; i++) (fold[i] === f ? val : train).push(i);
    return { train: Int32Array.from(train), val: Int32Array.from(val) };
  });
}

/** One fold of a K-fold split: views of the data set. */
export interface Fold {
  index: number;
  train: SubsetDataset;
  val: SubsetDataset;
}

/** K-fold cross-validation folds of a data set (paper 001: K = 10, stratified). */
export function kFold(dataset: Dataset, k: number, options: KFoldOptions = {}): Fold[] {
  return kFoldIndices(datasetLabels(dataset), k, options).map(({ train, val }, index) => ({
    index,
    train: new SubsetDataset(dataset, train, `${dataset.name}[fold ${index + 1}/${k} train]`),
    val: new SubsetDataset(dataset, val, `${dataset.name}[fold ${index + 1}/${k} val]`),
  }));
}

/** A view of the samples at these indices, in this order. */
export function subsetByIndices(dataset: Dataset, indices: ArrayLike<number>, name?: string): SubsetDataset {
  return new SubsetDataset(dataset, indices, name);
}

/** The first `n` samples (all of them when the set is smaller). */
export function firstN(dataset: Dataset, n: number): SubsetDataset {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`firstN: n must be a non-negative integer, got ${n}`);
  const count = Math.min(n, dataset.length);
  return new SubsetDataset(dataset, Int32Array.from({ length: count }, (_, i) => i), `${dataset.name}[first ${count}]`);
}

/** `n` samples drawn at random without replacement (seeded), in data-set order. */
export function randomSubset(dataset: Dataset, n: number, options: { seed?: number } = {}): SubsetDataset {
  if (!Number.isInteger(n) || n < 0 || n > dataset.length) throw new RangeError(`randomSubset: n must be an integer in [0, ${dataset.length}], got ${n}`);
  const chosen = deriveRandom(options.seed ?? 0, 0x5eb5).permutation(dataset.length).subarray(0, n);
  return new SubsetDataset(dataset, Int32Array.from(chosen).sort(), `${dataset.name}[random ${n}]`);
}

/**
 * Up to `n` samples of every class, chosen at random (seeded), in data-set order; a class with
 * fewer samples contributes all of them.
 */
export function perClass(dataset: Dataset, n: number, options: { seed?: number } = {}): SubsetDataset {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`perClass: n must be a non-negative integer, got ${n}`);
  const random = deriveRandom(options.seed ?? 0, 0xc1a5);
  const chosen: number[] = [];
  for (const group of indicesByClass(datasetLabels(dataset), dataset.classNames.length)) {
    chosen.push(...random.shuffle([...group]).slice(0, n));
  }
  return new SubsetDataset(dataset, sorted(chosen), `${dataset.name}[${n} per class]`);
}
