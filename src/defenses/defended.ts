/**
 * `DefendedClassifier`: a purifier (or a chain of preprocessors) followed by a classifier — the
 * defended systems of papers 000, 001 and 002. It is itself a differentiable x -> logits model,
 * so every attack runs through it end to end without special cases (DESIGN.md), and `bpda()`
 * gives the view in which the preprocessors are treated as the identity on the backward pass
 * (Athalye et al. 2018).
 */
import type { Tensor } from '../tensor/index.js';
import { Module } from '../nn/index.js';
import { BPDA } from '../attacks/bpda.js';

/** What can stand behind the purifiers: a zoo classifier, an ensemble — any module giving logits. */
export type ClassifierLike = Module & { readonly numClasses: number };

/** Preprocessors (purifiers) applied in order, then a classifier. */
export class DefendedClassifier extends Module {
  readonly preprocessors: readonly Module[];
  readonly classifier: ClassifierLike;

  constructor(preprocessors: Module | readonly Module[], classifier: ClassifierLike) {
    super();
    this.preprocessors = (Array.isArray(preprocessors) ? preprocessors : [preprocessors]) as readonly Module[];
    this.preprocessors.forEach((p, i) => this.registerModule(this.preprocessors.length === 1 ? 'purifier' : `purifier${i}`, p));
    this.classifier = this.registerModule('classifier', classifier);
  }

  get numClasses(): number {
    return this.classifier.numClasses;
  }

  /** The preprocessors alone: purified images. */
  purify(x: Tensor): Tensor {
    let h = x;
    for (const p of this.preprocessors) h = p.forward(h);
    return h;
  }

  /** Logits of the classifier on the purified input. */
  forward(x: Tensor): Tensor {
    return this.classifier.forward(this.purify(x));
  }

  /** The same model for BPDA attacks: forward through the purifiers, backward as if they were the identity. */
  bpda(): BPDA {
    return new BPDA((x) => this.purify(x), this.classifier);
  }
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
