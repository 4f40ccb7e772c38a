/**
 * Target labels for targeted threat models: a fixed class, a random other class per sample, or the
 * class the model finds least likely on the clean image (Kurakin et al. 2017's "least likely").
 */
import { scope, tensor, type Tensor } from '../tensor/index.js';
import { Random } from '../util/random.js';
import { BastionError } from '../util/errors.js';

/** How targets are chosen: a class index, `random` (uniform over the other classes) or `least-likely`. */
export type TargetMode = number | 'random' | 'least-likely';

/**
 * Targets (int64 [n]) for samples with true labels `y` and clean `logits` [n,K]; `eligible` (bool [n])
 * is false for samples whose target would be their own class (a fixed target equal to the label),
 * which a targeted evaluation should leave out. `random` draws from `rng` (JavaScript-side, so the
 * choice depends only on its seed), never the true class.
 */
export function chooseTargets(mode: TargetMode, y: Tensor, logits: Tensor, rng: Random = new Random(0)): { targets: Tensor; eligible: Tensor } {
  const classes = logits.shape[1] as number;
  return scope(() => {
    if (typeof mode === 'number') {
      if (!Number.isInteger(mode) || mode < 0 || mode >= classes) {
        throw new BastionError(`target class ${mode} is out of range: the model has ${classes} classes (0..${classes - 1})`, { exitCode: 2 });
      }
      const targets = y.mul(0).add(mode);
      return { targets, eligible: y.ne(mode) };
    }
    if (mode === 'least-likely') {
      const targets = logits.argmin(1);
      return { targets, eligible: targets.ne(y) };
    }
    if (mode !== 'random') throw new BastionError(`unknown target mode '${String(mode)}'`, { hint: 'use a class index, random or least-likely', exitCode: 2 });
    if (classes < 2) throw new BastionError('random targets need at least two classes');
    const labels = y.toNumbers();
    const targets = tensor(labels.map((l) => (l + 1 + rng.int(classes - 1)) % classes), { dtype: 'int64' });
    return { targets, eligible: targets.ne(y) };
  });
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
