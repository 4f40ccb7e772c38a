/**
 * Ctrl-C keeps what finished (issue #27, finding 10): an attack evaluation and a defense evaluation
 * stopped by their signal between batches return the batches done, marked `interrupted`, with
 * numbers equal to a run over just those images; stopped before any batch, they throw.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { firstN } from '../../src/data/index.js';
import { TensorDataset } from '../../src/data/index.js';
import { rand, tensor, manualSeed } from '../../src/tensor/index.js';
import { createClassifier, createPurifier, modelConfig } from '../../src/models/index.js';
import { createAttack } from '../../src/attacks/registry.js';
import { evaluateRobustness } from '../../src/eval/robustness.js';
import { evaluateDefenses } from '../../src/eval/defense.js';
import { DefendedClassifier } from '../../src/defenses/defended.js';

const shape = { channels: 1, height: 28, width: 28, numClasses: 4 };
manualSeed(5);
const data = new TensorDataset({
  name: 'tiny', images: rand([12, 1, 28, 28]).mul_(255).to('uint8'),
  labels: tensor(Array.from({ length: 12 }, (_, i) => i % 4), { dtype: 'int64' }), classNames: ['a', 'b', 'c', 'd'],
});
const classifier = createClassifier('simple-cnn', modelConfig('simple-cnn', shape)).eval();
const purifier = createPurifier('dae', modelConfig('dae', shape)).eval();
after(() => {
  data.dispose();
  classifier.dispose();
  purifier.dispose();
});

/** A signal that reads as aborted from its `after + 1`-th look on: the run stops after `after` batches. */
function abortedAfter(after: number): AbortSignal {
  let looks = 0;
  return {
    get aborted() {
      looks++;
      return looks > after;
    },
    throwIfAborted() {
      throw new Error('interrupted (Ctrl-C)');
    },
  } as unknown as AbortSignal;
}

describe('an interrupted evaluation keeps the batches it finished', () => {
  it('attack evaluation', async () => {
    const options = { attack: createAttack('fgsm', {}), threat: { norm: 'linf' as const, epsilons: [0.1, 0.3] }, batchSize: 4, progress: false };
    const stopped = await evaluateRobustness(classifier, data, { ...options, signal: abortedAfter(2) });
    assert.equal(stopped.interrupted, true);
    assert.equal(stopped.samples, 8);
    const reference = await evaluateRobustness(classifier, firstN(data, 8), options);
    assert.equal(reference.interrupted, undefined);
    assert.deepEqual(stopped.perEpsilon.map((e) => e.accuracy), reference.perEpsilon.map((e) => e.accuracy));
    await assert.rejects(evaluateRobustness(classifier, data, { ...options, signal: abortedAfter(0) }), /interrupted/);
  });

  it('defense evaluation (eval)', async () => {
    const options = {
      source: classifier, defenses: [{ name: 'dae', model: new DefendedClassifier(purifier, classifier) }],
      attack: 'fgsm', threat: { norm: 'linf' as const, epsilons: [0.1] }, modes: ['gray-box', 'white-box'] as ('gray-box' | 'white-box')[], batchSize: 4, progress: false,
    };
    const stopped = await evaluateDefenses({ ...options, dataset: data, signal: abortedAfter(1) });
    assert.equal(stopped.interrupted, true);
    assert.equal(stopped.samples, 4);
    const reference = await evaluateDefenses({ ...options, dataset: firstN(data, 4) });
    assert.equal(reference.interrupted, undefined);
    assert.deepEqual(stopped.clean, reference.clean);
    assert.deepEqual(stopped.grayBox, reference.grayBox);
    assert.deepEqual(stopped.adaptive, reference.adaptive);
    await assert.rejects(evaluateDefenses({ ...options, dataset: data, signal: abortedAfter(0) }), /interrupted/);
  });
});
