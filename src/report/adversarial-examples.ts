/**
 * Keeping the first adversarial examples of an evaluation for inspection: a safetensors dump
 * (originals, adversarials and predictions per epsilon, labels) and a PNG grid of original /
 * adversarial / perturbation per epsilon with the predicted classes.
 */
import { cat, scope, type Tensor } from '../tensor/index.js';
import { writeSafetensors } from '../io/safetensors.js';
import { encodePng } from '../io/image.js';
import { tensorToImage } from '../io/image-tensor.js';
import type { RobustnessBatch } from '../eval/robustness.js';
import { composeGrid, type GridCell } from './image-grid.js';

const RED = [200, 30, 30] as const;
const GREEN = [20, 140, 40] as const;

interface Part {
  x: Tensor;
  y: Tensor;
  targets: Tensor | null;
  clean: Tensor;
  adversarial: Tensor[];
  predictions: Tensor[];
  success: Tensor[];
}

/** Collects (copies of) the first `capacity` samples of an evaluation, batch by batch. */
export class ExampleCollector {
  readonly #parts: Part[] = [];
  #count = 0;

  constructor(
    readonly capacity: number,
    readonly epsilons: readonly number[],
  ) {}

  /** Samples collected so far. */
  get count(): number {
    return this.#count;
  }

  /** Copies the rows of `batch` still needed (use as `evaluateRobustness`'s onBatch). */
  add(batch: RobustnessBatch): void {
    const take = Math.min(this.capacity - this.#count, batch.x.shape[0] as number);
    if (take <= 0) return;
    const rows = (t: Tensor): Tensor => t.narrow(0, 0, take).clone().keep();
    const part = scope(() => ({
      x: rows(batch.x), y: rows(batch.y), targets: batch.targets === null ? null : rows(batch.targets), clean: rows(batch.cleanPredictions),
      adversarial: batch.result.perEpsilon.map((e) => rows(e.adversarial)),
      predictions: batch.result.perEpsilon.map((e) => rows(e.predictions)),
      success: batch.result.perEpsilon.map((e) => rows(e.success)),
    }));
    this.#parts.push(part);
    this.#count += take;
  }

  /** The first `limit` samples as named tensors: original, label, (target), clean_prediction, and adversarial/prediction/success@EPS. */
  tensors(limit = this.#count): Map<string, Tensor> {
    const n = Math.min(limit, this.#count);
    const join = (pick: (p: Part) => Tensor): Tensor => scope(() => cat(this.#parts.map(pick)).narrow(0, 0, n).contiguous());
    const out = new Map<string, Tensor>([['original', join((p) => p.x)], ['label', join((p) => p.y)]]);
    if (this.#parts[0]?.targets) out.set('target', join((p) => p.targets as Tensor));
    out.set('clean_prediction', join((p) => p.clean));
    this.epsilons.forEach((eps, i) => {
      out.set(`adversarial@${eps}`, join((p) => p.adversarial[i] as Tensor));
      out.set(`prediction@${eps}`, join((p) => p.predictions[i] as Tensor));
      out.set(`success@${eps}`, join((p) => p.success[i] as Tensor));
    });
    return out;
  }

  /** Writes the first `limit` samples to a safetensors file (atomically), with `meta` and the epsilons as metadata. */
  async writeSafetensors(path: string, limit: number, meta: Record<string, unknown> = {}): Promise<void> {
    const tensors = this.tensors(limit);
    try {
      const metadata = Object.fromEntries(Object.entries({ ...meta, epsilons: this.epsilons }).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)]));
      await writeSafetensors(path, tensors, metadata);
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  /**
   * A PNG grid of the first `limit` samples: the original (caption: true label, and target if any),
   * then per epsilon the adversarial (caption: predicted class, red when the attack succeeded,
   * green when not) and its perturbation, amplified to the tile's largest change, mid-grey = 0.
   */
  gridPng(limit: number): Uint8Array {
    const tensors = this.tensors(limit);
    try {
      const rows = scope(() => {
        const x = tensors.get('original') as Tensor;
        const labels = (tensors.get('label') as Tensor).toNumbers();
        const targets = tensors.get('target')?.toNumbers() ?? null;
        return labels.map((label, r) => {
          const original = x.select(0, r);
          const cells: GridCell[] = [{ image: tensorToImage(original), caption: targets ? `Y${label}>T${targets[r]}` : `Y ${label}` }];
          for (const eps of this.epsilons) {
            const adv = (tensors.get(`adversarial@${eps}`) as Tensor).select(0, r);
            const success = (tensors.get(`success@${eps}`) as Tensor).select(0, r).itemBool();
            const predicted = (tensors.get(`prediction@${eps}`) as Tensor).select(0, r).item();
            const delta = adv.sub(original);
            const scale = Math.max(delta.abs().max().item(), 1e-12);
            cells.push({ image: tensorToImage(adv), caption: `P ${predicted}`, color: success ? RED : GREEN });
            cells.push({ image: tensorToImage(delta.mul(0.5 / scale).add(0.5)) });
          }
          return cells;
        });
      });
      const header = ['ORIGINAL', ...this.epsilons.flatMap((eps) => [`E ${Number(eps.toFixed(4))}`, 'DELTA'])];
      return encodePng(composeGrid(rows, { header }));
    } finally {
      for (const t of tensors.values()) t.dispose();
    }
  }

  /** Frees the collected copies. */
  dispose(): void {
    for (const p of this.#parts) for (const t of [p.x, p.y, p.targets, p.clean, ...p.adversarial, ...p.predictions, ...p.success]) t?.dispose();
    this.#parts.length = 0;
    this.#count = 0;
  }
}
