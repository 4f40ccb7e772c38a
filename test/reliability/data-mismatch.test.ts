/**
 * A model evaluated on another data set than it was made for (issue #27, finding 5): `attack` and
 * `eval` warn, naming model.json's training.data (or an imported model's evaluatedOn) and --data.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataMismatchWarning } from '../../src/cli/import-options.js';
import type { CheckpointMeta } from '../../src/io/checkpoint.js';
import { createClassifier, createPurifier, modelConfig, saveModel } from '../../src/models/index.js';
import { runBastion } from '../helpers/cli.js';
import { writePatchDataset } from '../defenses/fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'bastion-data-mismatch-'));
after(() => rmSync(root, { recursive: true, force: true }));

const meta = (training?: Record<string, unknown>): CheckpointMeta =>
  ({ format: 'bastion-checkpoint', version: 1, architecture: 'simple-cnn', config: {}, ...(training ? { training } : {}), provenance: { createdAt: 'now' } }) as unknown as CheckpointMeta;

describe('data set mismatch warning', () => {
  it('names the recorded data set and --data, and stays quiet when they agree', () => {
    assert.match(dataMismatchWarning(meta({ data: 'fashion-mnist' }), 'runs/m', 'mnist') ?? '', /the model at runs\/m was trained on 'fashion-mnist' \(model\.json\), but --data is 'mnist'/);
    assert.match(dataMismatchWarning(meta({ evaluatedOn: 'cifar10' }), 'm.onnx', 'mnist') ?? '', /was measured on 'cifar10' when imported .* --data is 'mnist'/);
    assert.equal(dataMismatchWarning(meta({ data: 'fashion-mnist' }), 'm', 'FashionMNIST'), null, 'an alias of the same data set');
    assert.equal(dataMismatchWarning(meta({ data: join(root, 'x', '..', 'data') }), 'm', join(root, 'data')), null, 'the same folder');
    assert.equal(dataMismatchWarning(meta(), 'm', 'mnist'), null, 'nothing recorded (an imported model without --data)');
  });

  it('is printed by `bastion attack` and `bastion eval`', async () => {
    const data = writePatchDataset(join(root, 'data'), 16, 4);
    const shape = { channels: 1, height: 28, width: 28, numClasses: 4 };
    const classifier = createClassifier('simple-cnn', modelConfig('simple-cnn', shape));
    await saveModel(join(root, 'cnn'), classifier, { training: { data: 'fashion-mnist' } });
    classifier.dispose();
    const purifier = createPurifier('dae', modelConfig('dae', shape));
    await saveModel(join(root, 'dae'), purifier, { training: { data } });
    purifier.dispose();
    const options = { threads: 1, dataDir: root };
    const attack = await runBastion(['attack', '--model', join(root, 'cnn'), '--data', data, '--attack', 'fgsm', '--eps', '0.1', '--limit', '4', '--out', join(root, 'out-attack')], options);
    assert.equal(attack.code, 0, attack.stderr);
    assert.match(attack.stderr, /warning: the model at .*cnn was trained on 'fashion-mnist' \(model\.json\), but --data is '.*data'/);
    const evaluation = await runBastion(['eval', '--classifier', join(root, 'cnn'), '--purifier', join(root, 'dae'), '--data', data, '--attack', 'fgsm', '--eps', '0.1', '--modes', 'gray-box', '--limit', '4', '--out', join(root, 'out-eval')], options);
    assert.equal(evaluation.code, 0, evaluation.stderr);
    const warnings = evaluation.stderr.split('\n').filter((l) => l.startsWith('warning:'));
    assert.equal(warnings.length, 1, `only the classifier's data differs:\n${evaluation.stderr}`);
    assert.match(warnings[0] ?? '', /cnn was trained on 'fashion-mnist'/);
  });
});
