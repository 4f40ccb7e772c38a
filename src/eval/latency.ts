/**
 * Inference latency of a model (typically purifier + classifier), as paper 002's Table 3 reports
 * it (0.008 s per image for its CAE): per image at batch 1 (the interactive case) and amortised
 * per image at a large batch (the throughput case). Medians over repeated timed runs after a
 * warm-up; no gradients; the same number of threads as everything else.
 */
import { noGrad, rand, scope, type Tensor } from '../tensor/index.js';
import type { Model } from '../attacks/types.js';
import { median } from './stats.js';

/** Latency figures in seconds. */
export interface Latency {
  /** Median seconds for one image at batch 1. */
  perImageBatch1: number;
  /** Median seconds per image when `batchSize` images go through at once. */
  perImageAmortised: number;
  batchSize: number;
  /** Timed runs behind each median. */
  runs: { batch1: number; batched: number };
}

/** Seconds to classify `x`: forward pass and the predicted classes copied out to JavaScript. */
function timeForward(model: Model, x: Tensor): number {
  const start = performance.now();
  noGrad(() => scope(() => model.forward(x).argmax(1).toArray()));
  return (performance.now() - start) / 1000;
}

/** Measures {@link Latency} of `model` on random inputs of shape [C,H,W]. */
export function measureLatency(model: Model, shape: readonly [number, number, number], options: { batchSize?: number; runs?: number; warmup?: number } = {}): Latency {
  const batchSize = options.batchSize ?? 256;
  const runs = options.runs ?? 50;
  const warmup = options.warmup ?? 5;
  return scope(() => {
    const one = rand([1, ...shape]);
    const many = rand([batchSize, ...shape]);
    for (let i = 0; i < warmup; i++) {
      timeForward(model, one);
      timeForward(model, many);
    }
    const single = Array.from({ length: runs }, () => timeForward(model, one));
    const batchedRuns = Math.max(5, Math.round(runs / 5));
    const batched = Array.from({ length: batchedRuns }, () => timeForward(model, many) / batchSize);
    return { perImageBatch1: median(single), perImageAmortised: median(batched), batchSize, runs: { batch1: runs, batched: batchedRuns } };
  });
}

/**
 * Revision of this module's results: bump it when a change alters the numbers it produces. Cached
 * models and experiment evaluations are keyed by it (src/eval/code-version.ts); test/eval/revisions.test.ts
 * fails when the module's code changed without a bump.
 */
export const REVISION = 1;
