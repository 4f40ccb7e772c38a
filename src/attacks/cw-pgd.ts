/**
 * CW-PGD: L-inf PGD on the Carlini-Wagner margin loss (Carlini & Wagner 2017, f6) instead of the
 * cross-entropy, the "CW10 / CW20 / CW40 / CW100" attacks of paper 004 Table 6 (eps 0.3 on MNIST,
 * 8/255 on CIFAR-10, the suffix being the number of iterations, "the same settings as Madry et al."
 * otherwise). Following Madry et al.'s MNIST challenge code (`-relu(z_y - max_{j!=y} z_j + 50)`),
 * the margin is capped at confidence kappa = 50 and the attack starts at a random point.
 */
import { PGD, type PGDOptions } from './pgd.js';

/** Options of {@link CWPGD}: PGD's, without the loss choice. */
export type CWPGDOptions = Omit<PGDOptions, 'loss'>;

/** PGD on the CW margin loss (paper 004's CW-k attacks). */
export class CWPGD extends PGD {
  override readonly name: string = 'cw-pgd';

  constructor(options: CWPGDOptions = {}) {
    super({ ...options, loss: 'cw', confidence: options.confidence ?? 50 }, 'cw-pgd');
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
