/**
 * Nothing silently wrong (issue #27, finding 2): weights holding NaN or infinities are refused when
 * loaded (the error names the file and the tensor), and attacks and evaluations stop with a clear
 * error when a model's logits are not finite, instead of scoring argmax(NaN).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { full, noGrad, rand, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { createClassifier, createPurifier, loadClassifier, loadPurifier, modelConfig, saveModel } from '../../src/models/index.js';
import { createAttack } from '../../src/attacks/registry.js';
import type { Model } from '../../src/attacks/types.js';
import { evaluateRobustness } from '../../src/eval/robustness.js';
import { evaluateDefenses } from '../../src/eval/defense.js';
import { DefendedClassifier } from '../../src/defenses/defended.js';
import { TensorDataset } from '../../src/data/index.js';

const root = mkdtempSync(join(tmpdir(), 'bastion-non-finite-'));
after(() => rmSync(root, { recursive: true, force: true }));

const shape = { channels: 1, height: 28, width: 28, numClasses: 4 };

/** A model whose logits are fine on clean images (all pixels <= 0.5) and `bad` (NaN or infinite) once any pixel exceeds 0.5, or always. */
function brittle(bad: number, always = false): Model {
  return {
    forward: (x: Tensor) => scope(() => {
      const flat = x.flatten(1);
      const broken = always ? full([x.shape[0] as number, 4], true, { dtype: 'bool' }) : flat.amax(1, true).gt(0.5).expand([x.shape[0] as number, 4]);
      return flat.narrow(1, 0, 4).mul(10).maskedFill(broken, bad);
    }),
  };
}

const images = (n: number): Tensor => rand([n, 1, 28, 28]).mul_(0.5);
const labels = (n: number): Tensor => tensor(Array.from({ length: n }, (_, i) => i % 4), { dtype: 'int64' });

function dataset(n: number): TensorDataset {
  return new TensorDataset({ name: 'tiny', images: images(n).mul_(255).to('uint8'), labels: labels(n), classNames: ['a', 'b', 'c', 'd'] });
}

describe('weights holding NaN or infinities', () => {
  it('are refused on load, naming the file and the tensor', async () => {
    for (const [value, what] of [[NaN, /holds 1 NaN value/], [Infinity, /holds 1 infinite value/]] as const) {
      const model = createClassifier('simple-cnn', modelConfig('simple-cnn', shape));
      const [name, weight] = model.namedParameters().find(([n]) => n.endsWith('weight')) as [string, Tensor];
      noGrad(() => scope(() => weight.flatten().narrow(0, 3, 1).fill_(value)));
      const dir = join(root, `cnn-${value}`);
      await saveModel(dir, model);
      model.dispose();
      await assert.rejects(loadClassifier(dir), (error: Error) => {
        assert.match(error.message, new RegExp(`${dir.replace(/[/\\]/g, '.')}.model\\.safetensors: tensor '${name.replace(/\./g, '\\.')}'`));
        assert.match(error.message, what);
        return true;
      });
    }
  });

  it('are refused in purifiers too (a NaN purifier must not "raise" accuracy)', async () => {
    const purifier = createPurifier('dae', modelConfig('dae', shape));
    noGrad(() => { for (const t of purifier.parameters()) t.fill_(NaN); });
    const dir = join(root, 'dae-nan');
    await saveModel(dir, purifier);
    purifier.dispose();
    await assert.rejects(loadPurifier(dir), /model\.safetensors: tensor '.*' holds \d+ NaN values/);
  });
});

describe('non-finite logits', () => {
  it('stop an attack on the clean pass and on the final adversarial examples', () => {
    scope(() => {
      const x = images(6);
      const y = labels(6);
      for (const attack of ['fgsm', 'pgd']) {
        assert.throws(() => createAttack(attack, { seed: 0 }).run(brittle(NaN, true), x, y, { norm: 'linf', epsilons: [0.1] }),
          /the model's logits on the clean images hold NaN or infinite values \(6 of 6 samples\)/);
        // Clean logits are finite; the adversarial examples (pixels pushed above 0.5) break the model.
        assert.throws(() => createAttack(attack, { seed: 0, carryOver: false }).run(brittle(Infinity), x, y, { norm: 'linf', epsilons: [0.6] }),
          new RegExp(`logits on the ${attack} adversarial examples at eps 0.6 hold NaN or infinite values`));
      }
    });
  });

  it('stop a robustness evaluation and a defense evaluation', async () => {
    const data = dataset(8);
    try {
      await assert.rejects(evaluateRobustness(brittle(NaN, true), data, { attack: createAttack('fgsm', {}), threat: { norm: 'linf', epsilons: [0.1] }, progress: false }),
        /logits on the clean images hold NaN/);
      const classifier = createClassifier('simple-cnn', modelConfig('simple-cnn', shape)).eval();
      const purifier = createPurifier('dae', modelConfig('dae', shape)).eval();
      noGrad(() => { for (const t of purifier.parameters()) t.fill_(NaN); });
      try {
        await assert.rejects(evaluateDefenses({
          source: classifier, defenses: [{ name: 'dae', model: new DefendedClassifier(purifier, classifier) }], dataset: data,
          attack: 'fgsm', threat: { norm: 'linf', epsilons: [0.1] }, modes: ['gray-box'], progress: false,
        }), /logits of defense dae|logits on the clean images hold NaN/);
      } finally {
        classifier.dispose();
        purifier.dispose();
      }
    } finally {
      data.dispose();
    }
  });
});
