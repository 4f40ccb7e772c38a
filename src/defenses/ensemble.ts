/**
 * The K-fold ensemble of paper 001: K classifiers, each trained on K-1 folds of the training set
 * (the remaining fold validates it), combined by averaging their predicted probabilities (soft
 * vote) or by majority (hard vote).
 *
 * Paper 001 describes the K-fold result as "the average across all K iterations" of per-fold
 * accuracies, yet calls it an ensemble; Bastion reports all three — soft vote, hard vote and the
 * mean accuracy of the members — so the reading can be checked against its Table 1.
 *
 * As a model (x -> logits) the ensemble returns log of the averaged probabilities, so that
 * softmax(forward(x)) is the soft vote and every attack can target the whole ensemble.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { noGrad, scope, stack, type Tensor } from '../tensor/index.js';
import { Module } from '../nn/index.js';
import { kFold, loadDataset, firstN, type Dataset, type LoadDatasetOptions } from '../data/index.js';
import { loadClassifier, type Classifier } from '../models/index.js';
import { defaultRecipe, fitClassifierOn, type ClassifierRecipe } from '../models/train-classifier.js';
import { writeFileAtomic } from '../io/atomic.js';
import { collectProvenance } from '../io/provenance.js';
import { BastionError, DataError } from '../util/errors.js';
import type { FitEvent } from '../train/index.js';

/** Several classifiers combined by vote (see the module comment). */
export class Ensemble extends Module {
  readonly members: readonly Classifier[];

  constructor(members: readonly Classifier[]) {
    super();
    if (members.length === 0) throw new TypeError('Ensemble: needs at least one member');
    const first = members[0] as Classifier;
    for (const m of members) {
      if (m.numClasses !== first.numClasses || m.channels !== first.channels || m.height !== first.height || m.width !== first.width) {
        throw new TypeError('Ensemble: members must share input shape and number of classes');
      }
    }
    this.members = members;
    members.forEach((m, i) => this.registerModule(String(i), m));
  }

  get numClasses(): number {
    return (this.members[0] as Classifier).numClasses;
  }

  /** log of the members' averaged class probabilities (the soft vote, as logits). */
  forward(x: Tensor): Tensor {
    return scope(() => {
      const probs = stack(this.members.map((m) => m.forward(x).softmax(1)), 0);
      return probs.mean(0).clamp(1e-12).log();
    });
  }

  /**
   * The three readings of the ensemble's decision from one pass of the members (no gradients):
   * `soft` the class of the averaged probabilities (= forward's argmax), `hard` the majority of
   * the members' classes (ties go to the higher soft-vote score), `members` each member's class [K, N],
   * `probabilities` the averaged probabilities [N, classes].
   */
  vote(x: Tensor): { soft: Tensor; hard: Tensor; members: Tensor; probabilities: Tensor } {
    return noGrad(() => scope(() => {
      const probs = stack(this.members.map((m) => m.forward(x).softmax(1)), 0);
      const mean = probs.mean(0);
      const members = probs.argmax(2);
      const counts = members.transpose(0, 1).oneHot(this.numClasses).sum(1).to('float32');
      return { soft: mean.argmax(1), hard: counts.add(mean.mul(0.5)).argmax(1), members, probabilities: mean };
    }));
  }
}

/** The contents of `ensemble.json`. */
export interface EnsembleManifest {
  format: 'bastion-ensemble';
  version: 1;
  architecture: string;
  data: string;
  k: number;
  seed: number;
  /** Member checkpoint directories, relative to the ensemble directory. */
  members: string[];
  /** Per member: validation (held-out fold) and test accuracy. */
  memberResults: { valAccuracy: number | null; testAccuracy: number | null }[];
  recipe: ClassifierRecipe;
  provenance: ReturnType<typeof collectProvenance>;
}

/** Options of {@link trainKFoldEnsemble}. */
export interface TrainKFoldOptions {
  architecture: string;
  data: string;
  out: string;
  /** Folds (paper 001: 10). */
  k?: number;
  recipe?: Partial<ClassifierRecipe>;
  seed?: number;
  dataOptions?: Omit<LoadDatasetOptions, 'split'>;
  limit?: number;
  /** Skip members whose checkpoint already exists and continue an interrupted member from its last epoch. */
  resume?: boolean;
  onEvent?: (event: FitEvent) => void;
  progress?: boolean;
}

/**
 * Trains K classifiers, member i on every fold but fold i (stratified, seeded), validating on
 * fold i, and writes the ensemble directory (members in member-<i>/, manifest ensemble.json).
 */
export async function trainKFoldEnsemble(options: TrainKFoldOptions): Promise<EnsembleManifest> {
  const k = options.k ?? 10;
  if (!Number.isInteger(k) || k < 2) throw new BastionError(`K-fold needs k >= 2, got ${k}`, { exitCode: 2 });
  const seed = options.seed ?? 0;
  const recipe: ClassifierRecipe = { ...defaultRecipe(options.architecture, options.data), ...options.recipe };
  const dataOptions = options.dataOptions ?? {};
  const base = await loadDataset(options.data, { ...dataOptions, split: 'train' });
  const test = await loadDataset(options.data, { ...dataOptions, split: 'test' });
  try {
    const train: Dataset = options.limit !== undefined && options.limit < base.length ? firstN(base, options.limit) : base;
    await mkdir(options.out, { recursive: true });
    const folds = kFold(train, k, { seed, stratified: true });
    const members: string[] = [];
    const memberResults: EnsembleManifest['memberResults'] = [];
    for (const fold of folds) {
      const name = `member-${fold.index}`;
      const dir = join(options.out, name);
      members.push(name);
      const existing = options.resume ? await loadClassifier(dir).catch(() => null) : null;
      if (existing) {
        const t = existing.meta.training ?? {};
        memberResults.push({ valAccuracy: (t['bestValAccuracy'] as number | null) ?? null, testAccuracy: (t['testAccuracy'] as number | null) ?? null });
        existing.model.dispose();
        continue;
      }
      const result = await fitClassifierOn(
        { train: fold.train, val: fold.val, test, testSplit: 'test' },
        {
          architecture: options.architecture, data: `${options.data} fold ${fold.index + 1}/${k}`, out: dir, recipe, seed: seed + fold.index,
          resume: options.resume ?? false,
          ...(options.onEvent ? { onEvent: options.onEvent } : {}), progress: options.progress ?? true,
        },
      );
      memberResults.push({ valAccuracy: result.bestValAccuracy, testAccuracy: result.testAccuracy });
    }
    const manifest: EnsembleManifest = {
      format: 'bastion-ensemble', version: 1, architecture: options.architecture, data: options.data, k, seed, members, memberResults, recipe,
      provenance: collectProvenance({ seed }),
    };
    await writeFileAtomic(join(options.out, 'ensemble.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    return manifest;
  } finally {
    base.dispose();
    test.dispose();
  }
}

/** Loads an ensemble directory written by {@link trainKFoldEnsemble} (members in evaluation mode). */
export async function loadEnsemble(dir: string): Promise<{ ensemble: Ensemble; manifest: EnsembleManifest }> {
  const file = join(dir, 'ensemble.json');
  let manifest: EnsembleManifest;
  try {
    manifest = JSON.parse(await readFile(file, 'utf8')) as EnsembleManifest;
  } catch (error) {
    throw new DataError(file, `cannot read the ensemble manifest: ${(error as Error).message}`, 'train one with `bastion train-ensemble`');
  }
  if (manifest.format !== 'bastion-ensemble' || !Array.isArray(manifest.members) || manifest.members.length === 0) {
    throw new DataError(file, 'is not a Bastion ensemble manifest (format bastion-ensemble with members)');
  }
  const members: Classifier[] = [];
  try {
    for (const m of manifest.members) members.push((await loadClassifier(join(dir, m))).model);
  } catch (error) {
    for (const m of members) m.dispose();
    throw error;
  }
  return { ensemble: new Ensemble(members).eval(), manifest };
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
