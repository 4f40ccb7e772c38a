/**
 * evaluateRobustness: batching does not change a deterministic attack's numbers, counts and norm
 * statistics add up, limits and targets work; and the papers' tables compare and print as expected.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scope, tensorStats, type Tensor } from '../../src/tensor/index.js';
import type { TensorDataset } from '../../src/data/index.js';
import { createAttack } from '../../src/attacks/index.js';
import { evaluateRobustness, PAPER_TABLES, compareWithPaper, formatComparison, paperTable } from '../../src/eval/index.js';
import { syntheticDataset, trainedNet, type SmallNet } from '../attacks/helpers.js';

let net: SmallNet;
let dataset: TensorDataset;
let x: Tensor;
let y: Tensor;

before(() => {
  net = trainedNet();
  ({ dataset, x, y } = syntheticDataset(100, 4));
});
after(() => {
  dataset.dispose();
  net.dispose();
  x.dispose();
  y.dispose();
});

describe('evaluateRobustness', () => {
  it('matches one whole-set FGSM run, whatever the batch size', async () => {
    const epsilons = [0, 0.2, 0.25, 0.4];
    const threat = { norm: 'linf' as const, epsilons };
    const live = tensorStats().live;
    const result = await evaluateRobustness(net, dataset, { attack: createAttack('fgsm'), threat, batchSize: 16, progress: false });
    assert.equal(tensorStats().live, live, 'the evaluation frees every tensor it made');
    assert.equal(result.samples, 100);
    assert.equal(result.batches, 7);
    assert.equal(result.gradientEvaluations, 7, 'one gradient per batch');
    const whole = createAttack('fgsm').run(net, x, y, threat);
    scope(() => {
      const clean = net.forward(x).argmax(1).eq(y);
      assert.equal(Math.round(result.cleanAccuracy * 100), clean.sum().item());
      whole.perEpsilon.forEach((e, i) => {
        const summary = result.perEpsilon[i]!;
        assert.equal(summary.epsilon, epsilons[i]);
        assert.equal(Math.round(summary.accuracy * 100), e.predictions.eq(y).sum().item());
        assert.equal(Math.round(summary.successRate * 100), e.success.sum().item());
        const counted = e.success.logicalAnd(clean);
        const norms = e.norms.maskedSelect(counted).toNumbers().sort((a, b) => a - b);
        assert.equal(summary.norms.count, norms.length);
        if (norms.length > 0) {
          assert.ok(Math.abs((summary.norms.mean as number) - norms.reduce((a, b) => a + b, 0) / norms.length) < 1e-6);
          assert.ok((summary.norms.max as number) <= e.epsilon + 1e-6);
        }
      });
      assert.ok(result.perEpsilon[2]!.successRate > 0 && result.perEpsilon[2]!.successRate < 1, 'a partial success is part of the check');
    });
    whole.dispose();
    assert.deepEqual(JSON.parse(JSON.stringify(result)), result, 'JSON-able');
  });

  it('honours limit and least-likely targets', async () => {
    const result = await evaluateRobustness(net, dataset, {
      attack: createAttack('pgd', { steps: 10, seed: 1 }), threat: { norm: 'linf', epsilons: [0.5], targeted: true }, target: 'least-likely', limit: 30, batchSize: 8, progress: false,
    });
    assert.equal(result.samples, 30);
    assert.equal(result.batches, 4);
    assert.equal(result.target, 'least-likely');
    assert.ok(result.perEpsilon[0]!.successRate > 0.9, 'PGD reaches the least likely class at eps 0.5');
    await assert.rejects(evaluateRobustness(net, dataset, { attack: createAttack('fgsm'), threat: { norm: 'linf', epsilons: [0.1], targeted: true }, progress: false }), /needs a target/);
  });
});

describe('published tables', () => {
  it('hold every table of seed-tables.md with sources and grids', () => {
    const ids = PAPER_TABLES.map((t) => t.id);
    for (const id of ['paper000-table1', 'paper000-table2', 'paper000-table3', 'paper000-table4', 'paper000-table5', 'paper001-table1', 'paper002-table1a',
      'paper002-table1b', 'paper002-table2', 'paper002-table3', 'paper004-table6-mnist', 'paper004-table6-cifar10', 'paper004-table7']) {
      assert.ok(ids.includes(id), id);
    }
    for (const t of PAPER_TABLES) {
      assert.match(t.source, /^\/work\/shared\/papers\/00\d_/);
      for (const e of t.entries) assert.ok(e.value >= 0 && (e.metric !== 'accuracy' || e.value <= 1), `${t.id}: ${JSON.stringify(e)}`);
    }
    assert.equal(paperTable('paper000-table1').entries.length, 20);
    assert.throws(() => paperTable('paper9'), /no published table 'paper9'/);
  });

  it('compare and print eps | paper | ours | diff', () => {
    const rows = compareWithPaper(paperTable('paper000-table2'), { dataset: 'mnist', attack: 'pgd' }, [{ epsilon: 0.1, value: 0.15 }, { epsilon: 0.4, value: 0 }]);
    assert.deepEqual(rows.map((r) => r.epsilon), [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4]);
    assert.ok(Math.abs((rows[2]!.diff as number) - (0.15 - 0.1947)) < 1e-12);
    assert.equal(rows[6]!.paper, null);
    assert.equal(rows[0]!.ours, null);
    const text = formatComparison(rows, 'title');
    assert.equal(text.split('\n')[0], 'title');
    assert.match(text, /\n 0\.1 \| 0\.1947 \| 0\.1500 \| -0\.0447\n/);
    const lenet = compareWithPaper(paperTable('paper004-table6-mnist'), { dataset: 'mnist', attack: 'pgd', iterations: 40 }, []);
    assert.deepEqual(lenet.map((r) => [r.epsilon, r.paper]), [[0, 0.9918], [0.3, 0.0064]]);
    const cifar = formatComparison(compareWithPaper(paperTable('paper004-table6-cifar10'), { dataset: 'cifar10', attack: 'cw-pgd', iterations: 10, defense: 'madry' }, []));
    assert.match(cifar, /8\/255 \| 0\.3721/);
    assert.throws(() => compareWithPaper(paperTable('paper000-table2'), { dataset: 'cifar10', attack: 'pgd' }, []), /has no pgd accuracy on cifar10/);
  });
});
