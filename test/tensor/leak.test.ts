/**
 * Memory stays flat in a training loop: 2,000 steps of a small CNN, each inside scope(), with
 * resident memory compared at step 100 and step 2,000 (growth must stay under 5%) and the count
 * of live tensor handles unchanged. Nothing here waits for the garbage collector.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { manualSeed, noGrad, rand, randint, scope, tensorStats, type Tensor } from '../../src/tensor/index.js';
import * as F from '../../src/nn/functional.js';

it('keeps resident memory flat over 2,000 training steps of a small CNN', (t) => {
  manualSeed(0);
  const param = (shape: number[], fanIn: number): Tensor => rand(shape).sub(0.5).mul(2 / Math.sqrt(fanIn)).keep().requiresGrad_();
  const params = [param([8, 1, 3, 3], 9), param([8], 9), param([16, 8, 3, 3], 72), param([16], 72), param([10, 400], 400), param([10], 400)];
  const [w1, b1, w2, b2, w3, b3] = params as [Tensor, Tensor, Tensor, Tensor, Tensor, Tensor];
  const x = rand([32, 1, 28, 28]).keep();
  const y = randint(0, 10, [32]).keep();
  const step = (): number =>
    scope(() => {
      let h = F.relu(F.maxPool2d(F.conv2d(x, w1, b1), 2));
      h = F.relu(F.maxPool2d(F.conv2d(h, w2, b2), 2));
      const loss = F.crossEntropy(F.linear(h.flatten(1), w3, b3), y);
      for (const p of params) p.setGrad(null);
      loss.backward();
      noGrad(() => {
        for (const p of params) p.sub_(p.grad as Tensor, 0.05);
      });
      return loss.item();
    });
  let rssAt100 = 0;
  let liveAt100 = 0;
  let firstLoss = 0;
  let lastLoss = 0;
  for (let i = 1; i <= 2000; i++) {
    const loss = step();
    if (i === 1) firstLoss = loss;
    if (i === 100) {
      rssAt100 = process.memoryUsage().rss;
      liveAt100 = tensorStats().live;
    }
    lastLoss = loss;
  }
  const rssAt2000 = process.memoryUsage().rss;
  const growth = (rssAt2000 - rssAt100) / rssAt100;
  t.diagnostic(`RSS at step 100: ${(rssAt100 / 2 ** 20).toFixed(1)} MiB, at step 2000: ${(rssAt2000 / 2 ** 20).toFixed(1)} MiB, growth ${(growth * 100).toFixed(2)}%`);
  t.diagnostic(`live tensor handles at step 100: ${liveAt100}, at step 2000: ${tensorStats().live}; loss ${firstLoss.toFixed(3)} -> ${lastLoss.toFixed(3)}`);
  assert.ok(growth < 0.05, `resident memory grew ${(growth * 100).toFixed(2)}% between step 100 and 2000`);
  assert.equal(tensorStats().live, liveAt100, 'live tensor handles changed');
  assert.ok(lastLoss < firstLoss, 'the loop really trained');
  for (const p of [...params, x, y]) p.dispose();
});
