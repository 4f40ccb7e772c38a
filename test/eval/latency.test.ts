/**
 * measureLatency: times batch 1 and a larger batch (the larger batch failed once: the timed pass
 * read its predictions as one scalar), returns positive medians with the run counts it used, and
 * leaves no tensors behind.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { tensorStats } from '../../src/tensor/index.js';
import { measureLatency } from '../../src/eval/latency.js';
import { SmallNet } from '../attacks/helpers.js';

it('measures per-image latency at batch 1 and amortised at batch 32', () => {
  const net = new SmallNet().eval();
  const live = tensorStats().live;
  const latency = measureLatency(net, [1, 8, 8], { batchSize: 32, runs: 10, warmup: 1 });
  assert.equal(tensorStats().live, live);
  assert.equal(latency.batchSize, 32);
  assert.deepEqual(latency.runs, { batch1: 10, batched: 5 });
  assert.ok(latency.perImageBatch1 > 0 && Number.isFinite(latency.perImageBatch1));
  assert.ok(latency.perImageAmortised > 0 && Number.isFinite(latency.perImageAmortised));
  net.dispose();
});
