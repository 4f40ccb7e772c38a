/**
 * Purification defenses: the defended pipeline and its BPDA view, purifier training modes, the
 * K-fold ensemble, and the four-mode evaluation — on small synthetic data, in seconds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { grad, manualSeed, noGrad, rand, randint, scope, tensor, tensorStats, type Tensor, type Batch } from '../../src/tensor/index.js';
import { crossEntropy } from '../../src/nn/functional.js';
import { Module } from '../../src/nn/index.js';
import { createClassifier, createPurifier, loadPurifier, modelConfig, trainClassifier, type Classifier } from '../../src/models/index.js';
import { loadDataset } from '../../src/data/index.js';
import { DefendedClassifier } from '../../src/defenses/defended.js';
import { Ensemble, loadEnsemble, trainKFoldEnsemble } from '../../src/defenses/ensemble.js';
import { defaultPurifierRecipe, makeInputs, trainPurifier } from '../../src/defenses/purifier-training.js';
import { evaluateDefenses } from '../../src/eval/defense.js';
import { Random } from '../../src/util/random.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { writePatchDataset } from './fixtures.js';
import type { FitEvent } from '../../src/train/index.js';

const MNIST = { channels: 1, height: 28, width: 28, numClasses: 4 };
const root = mkdtempSync(join(tmpdir(), 'bastion-defenses-'));
const data = join(root, 'patches');
const classifierDir = join(root, 'cnn');
/** Patch positions encode the class, so flips and crops would change labels: train without them. */
const NO_AUGMENT = { epochs: 4, valCount: 0, batchSize: 32, flip: false, cropPadding: 0 };

before(async () => {
  setProgressOutput(null);
  writePatchDataset(data, 400, 4);
  await trainClassifier({ architecture: 'kfold-cnn', data, out: classifierDir, recipe: NO_AUGMENT, progress: false });
});
after(() => rmSync(root, { recursive: true, force: true }));

describe('DefendedClassifier', () => {
  it('is classifier(purifier(x)), and its BPDA view passes the classifier gradient straight through', () => {
    scope(() => {
      manualSeed(3);
      const classifier = createClassifier('kfold-cnn', modelConfig('kfold-cnn', MNIST)).eval();
      const purifier = createPurifier('dae', modelConfig('dae', MNIST)).eval();
      const defended = new DefendedClassifier(purifier, classifier);
      const x = rand([2, 1, 28, 28]);
      const y = tensor([1, 3], { dtype: 'int64' });
      const expected = noGrad(() => classifier.forward(purifier.forward(x)));
      assert.ok(noGrad(() => defended.forward(x)).allclose(expected, 1e-6, 1e-6));
      const bpda = defended.bpda();
      assert.ok(noGrad(() => bpda.forward(x)).allclose(expected, 1e-6, 1e-6), 'BPDA forward equals the defended forward');
      const input = x.detach().requiresGrad_();
      const [g] = grad(crossEntropy(bpda.forward(input), y), input);
      const purified = noGrad(() => purifier.forward(x)).requiresGrad_();
      const [gClassifier] = grad(crossEntropy(classifier.forward(purified), y), purified);
      assert.ok((g as Tensor).allclose(gClassifier as Tensor, 1e-5, 1e-7), 'd loss / dx = d loss / d purified (identity backward)');
      defended.dispose();
    });
  });
});

describe('Ensemble', () => {
  it('soft-votes by averaged probabilities and hard-votes by majority', () => {
    scope(() => {
      manualSeed(4);
      const members: Classifier[] = [0, 1, 2].map(() => createClassifier('kfold-cnn', modelConfig('kfold-cnn', MNIST)).eval());
      const ensemble = new Ensemble(members).eval();
      const x = rand([5, 1, 28, 28]);
      const probs = noGrad(() => members.map((m) => m.forward(x).softmax(1)));
      const mean = (probs[0] as Tensor).add(probs[1] as Tensor).add(probs[2] as Tensor).div(3);
      assert.ok(noGrad(() => ensemble.forward(x).softmax(1)).allclose(mean, 1e-5, 1e-6));
      const vote = ensemble.vote(x);
      const votes = vote.members.toNumbers();
      const hard = vote.hard.toNumbers();
      assert.deepEqual(vote.soft.toNumbers(), noGrad(() => ensemble.forward(x).argmax(1)).toNumbers());
      for (let i = 0; i < 5; i++) {
        const counts = new Map<number, number>();
        for (let k = 0; k < 3; k++) counts.set(votes[k * 5 + i] as number, (counts.get(votes[k * 5 + i] as number) ?? 0) + 1);
        const top = Math.max(...counts.values());
        assert.ok((counts.get(hard[i] as number) ?? 0) === top, `sample ${i}: hard vote ${hard[i]} is not a majority class`);
      }
      ensemble.dispose();
    });
  });

  it('trains K members on K-1 folds each and reloads them', async () => {
    const out = join(root, 'kfold');
    const manifest = await trainKFoldEnsemble({ architecture: 'kfold-cnn', data, out, k: 3, recipe: { ...NO_AUGMENT, epochs: 3 }, progress: false });
    assert.equal(manifest.members.length, 3);
    assert.ok(manifest.memberResults.every((r) => r.testAccuracy !== null && r.valAccuracy !== null));
    const { ensemble } = await loadEnsemble(out);
    const test = await loadDataset(data, { split: 'test' });
    const accuracy = scope(() => {
      const view = test.memory()!;
      const x = view.images.to('float32').div(255);
      return noGrad(() => ensemble.forward(x).argmax(1).eq(view.labels).float().mean().item());
    });
    assert.ok(accuracy > 0.8, `ensemble accuracy ${accuracy} on an easy problem`);
    ensemble.dispose();
    test.dispose();
  });

  it('resumes an interrupted ensemble: finished members are kept, the interrupted one continues from its last epoch', async () => {
    const out = join(root, 'kfold-resume');
    const options = { architecture: 'kfold-cnn', data, out, k: 2, recipe: { ...NO_AUGMENT, epochs: 2 }, progress: false };
    let starts = 0;
    const interrupted = trainKFoldEnsemble({
      ...options,
      onEvent: (event) => {
        if (event.type === 'start') starts += 1;
        if (starts === 2 && event.type === 'epoch-end' && event.epoch === 0) throw new Error('interrupted');
      },
    });
    await assert.rejects(interrupted, /interrupted/);
    const resumedStarts: FitEvent[] = [];
    const manifest = await trainKFoldEnsemble({ ...options, resume: true, onEvent: (event) => { if (event.type === 'start') resumedStarts.push(event); } });
    assert.deepEqual(resumedStarts, [{ type: 'start', epochs: 2, startEpoch: 1, resumed: true }]);
    assert.equal(manifest.members.length, 2);
  });
});

describe('purifier training', () => {
  it('makes clean, Gaussian and adversarial inputs as the modes say', async () => {
    const { model: classifier } = await (await import('../../src/models/index.js')).loadClassifier(classifierDir);
    scope(() => {
      manualSeed(5);
      const batch: Batch = { x: rand([20, 1, 28, 28]), y: randint(0, 4, [20]) };
      const recipe = defaultPurifierRecipe('cae', 'adversarial');
      const random = new Random(1);
      assert.equal(makeInputs('clean', recipe, batch, null, random), batch.x);
      const noisy = makeInputs('gaussian', { ...recipe, noiseFactor: 0.3 }, batch, null, random);
      assert.ok(noisy.min().item() >= 0 && noisy.max().item() <= 1, 'gaussian inputs stay in [0,1]');
      assert.ok(noisy.sub(batch.x).abs().mean().item() > 0.05, 'gaussian inputs are noisy');
      const adversarial = makeInputs('adversarial', recipe, batch, classifier, random);
      const diff = adversarial.sub(batch.x).abs().amax([1, 2, 3]).toNumbers();
      const nClean = Math.round(20 * recipe.adversarial.cleanFraction);
      assert.ok(diff.slice(0, nClean).every((d) => d === 0), 'the clean share is untouched');
      assert.ok(diff.slice(nClean).every((d) => d <= recipe.adversarial.fgsmEps[1] + 1e-6), 'perturbations within the largest epsilon');
      assert.ok(diff.slice(nClean).some((d) => d > 0), 'the adversarial share is perturbed');
      assert.equal(adversarial.requiresGrad, false);
    });
    classifier.dispose();
  });

  it('trains a purifier, records its mode, and reports accuracy after purification', async () => {
    const before = tensorStats().live;
    const out = join(root, 'dae');
    const result = await trainPurifier({ architecture: 'dae', data, out, mode: 'gaussian', classifier: classifierDir, recipe: { epochs: 25, batchSize: 32, lr: 0.01, noiseFactor: 0.2 }, progress: false });
    const test = await loadDataset(data, { split: 'test' });
    const zeroOutputMse = scope(() => test.memory()!.images.to('float32').div(255).square().mean().item());
    test.dispose();
    assert.ok(result.testMse < zeroOutputMse / 3, `reconstruction MSE ${result.testMse} vs ${zeroOutputMse} for an all-black output`);
    assert.ok((result.purifiedAccuracy as number) > 0.5, `accuracy after purification ${result.purifiedAccuracy}`);
    const loaded = await loadPurifier(out);
    assert.equal(loaded.meta.training?.['mode'], 'gaussian');
    assert.equal((loaded.meta.training?.['recipe'] as { noiseFactor: number }).noiseFactor, 0.2);
    loaded.model.dispose();
    assert.equal(tensorStats().live, before, 'training left tensors behind');
  });
});

describe('class-guided purifier training', () => {
  it('adds the frozen classifier\'s cross-entropy on the purified image to the MSE, and needs the classifier', async () => {
    const recipe = { epochs: 1, batchSize: 32, lr: 0.01, noiseFactor: 0.2, valCount: 40 };
    const plain = await trainPurifier({ architecture: 'dae', data, out: join(root, 'dae-plain'), mode: 'gaussian', classifier: classifierDir, recipe, progress: false });
    const guided = await trainPurifier({ architecture: 'dae', data, out: join(root, 'dae-guided'), mode: 'gaussian', classifier: classifierDir, recipe: { ...recipe, classLossWeight: 1 }, progress: false });
    const plainLoss = plain.history[0]!['loss'] as number;
    const guidedLoss = guided.history[0]!['loss'] as number;
    // Same seed and data: only the cross-entropy term separates the runs, and it is positive.
    assert.ok(guidedLoss > plainLoss + 0.01, `guided loss ${guidedLoss} vs MSE-only ${plainLoss}`);
    assert.equal(guided.recipe.classLossWeight, 1);
    // The best epoch of a guided purifier is picked by its objective on clean validation images.
    const plainEpoch = plain.history[0]!;
    const guidedEpoch = guided.history[0]!;
    assert.equal(plainEpoch['val_objective'], undefined);
    const { val_mse: mse, val_ce: ce, val_objective: objective } = guidedEpoch as Record<string, number>;
    assert.ok(ce! > 0 && Math.abs(objective! - (mse! + ce!)) < 1e-9, `val_objective ${objective} = val_mse ${mse} + val_ce ${ce}`);
    assert.ok(typeof plainEpoch['val_mse'] === 'number');
    await assert.rejects(
      trainPurifier({ architecture: 'dae', data, out: join(root, 'dae-no-classifier'), mode: 'gaussian', recipe: { ...recipe, classLossWeight: 1 }, progress: false }),
      /classLossWeight needs the classifier/,
    );
  });
});

/** A classifier whose logits are rolled by one class (it predicts the wrapped model's class + 1). */
class RolledLogits extends Module {
  readonly numClasses: number;
  constructor(readonly inner: Classifier) {
    super();
    this.numClasses = inner.numClasses;
    this.registerModule('inner', inner);
  }

  forward(x: Tensor): Tensor {
    return scope(() => this.inner.forward(x).roll(1, 1));
  }
}

describe('evaluateDefenses', () => {
  it('reports gray-box, white-box, BPDA and EOT accuracies for every defense and epsilon', async () => {
    const { loadClassifier } = await import('../../src/models/index.js');
    const { model: classifier } = await loadClassifier(classifierDir);
    manualSeed(6);
    const noisy = createPurifier('cae', modelConfig('cae', MNIST, { latentNoise: 0.2, base: 8 })).eval();
    const dae = createPurifier('dae', modelConfig('dae', MNIST)).eval();
    const dataset = await loadDataset(data, { split: 'test' });
    const result = await evaluateDefenses({
      source: classifier,
      defenses: [{ name: 'cae', model: new DefendedClassifier(noisy, classifier) }, { name: 'dae', model: new DefendedClassifier(dae, classifier) }],
      dataset, attack: 'pgd', attackOptions: { steps: 5 }, threat: { norm: 'linf', epsilons: [0.05, 0.3] }, eotSamples: 2, limit: 40, seed: 1, progress: false,
    });
    assert.equal(result.samples, 40);
    assert.ok(result.clean.source > 0.8);
    const grayBox = result.grayBox!;
    assert.equal(grayBox.source.length, 2);
    assert.ok((grayBox.source[1] as number) <= (grayBox.source[0] as number) + 1e-9, 'a larger epsilon does not help the classifier');
    for (const mode of ['white-box', 'bpda', 'eot'] as const) {
      for (const name of ['cae', 'dae']) {
        const row = result.adaptive[mode]?.[name];
        assert.ok(row && row.length === 2 && row.every((v) => v >= 0 && v <= 1), `${mode} ${name}`);
      }
    }
    assert.ok(result.notes.some((n) => n.startsWith('dae: deterministic')), 'EOT against a deterministic defense is flagged');
    assert.equal(noisy.stochastic, false, 'the purifier is deterministic again after EOT');
    noisy.dispose();
    dae.dispose();
    classifier.dispose();
    dataset.dispose();
  });

  it('with attackLabels predicted, attacks the model\'s own clean predictions and scores against the true labels', async () => {
    const { loadClassifier } = await import('../../src/models/index.js');
    const { createAttack } = await import('../../src/attacks/registry.js');
    const { model: trained } = await loadClassifier(classifierDir);
    manualSeed(9);
    // The trained classifier with its logits rolled by one class: it predicts label + 1, so its
    // predictions differ from the true labels and the two kinds of attack labels part ways.
    const classifier = new RolledLogits(trained);
    const dae = createPurifier('dae', modelConfig('dae', MNIST)).eval();
    const defended = new DefendedClassifier(dae, classifier);
    const dataset = await loadDataset(data, { split: 'test' });
    const threat = { norm: 'linf' as const, epsilons: [0.6] };
    const liveBefore = tensorStats().live;
    const result = await evaluateDefenses({
      source: classifier, defenses: [{ name: 'dae', model: defended }], dataset, attack: 'fgsm', threat,
      modes: ['gray-box', 'white-box'], attackLabels: 'predicted', limit: 40, progress: false,
    });
    assert.equal(result.attackLabels, 'predicted');
    assert.equal(tensorStats().live, liveBefore, 'the predicted labels are freed');
    const expected = scope(() => {
      const view = dataset.memory()!;
      const x = view.images.narrow(0, 0, 40).to('float32').div(255);
      const y = view.labels.narrow(0, 0, 40);
      const accuracyUnder = (target: RolledLogits | DefendedClassifier): number => {
        const run = createAttack('fgsm', { earlyStop: false, carryOver: false }).run(target, x, noGrad(() => target.forward(x).argmax(1)), threat);
        const adv = run.perEpsilon[0]!.adversarial;
        const accuracy = noGrad(() => target.forward(adv).argmax(1).eq(y).float().mean().item());
        run.dispose();
        return accuracy;
      };
      const agreement = noGrad(() => classifier.forward(x).argmax(1).eq(y).float().mean().item());
      return { source: accuracyUnder(classifier), whiteBox: accuracyUnder(defended), agreement };
    });
    assert.ok(expected.agreement < 0.9, 'the test needs predictions that differ from the labels');
    assert.ok(Math.abs(result.grayBox!.source[0]! - expected.source) < 1e-9, `gray-box ${result.grayBox!.source[0]} vs ${expected.source}`);
    assert.ok(Math.abs(result.adaptive['white-box']!['dae']![0]! - expected.whiteBox) < 1e-9);
    await assert.rejects(evaluateDefenses({ source: classifier, defenses: [], dataset, attack: 'fgsm', threat, attackLabels: 'guessed' as never, progress: false }), /attackLabels must be/);
    dae.dispose();
    classifier.dispose();
    dataset.dispose();
  });

  it('also reports the hard vote and the mean member accuracy of an ensemble defense (clean and gray-box)', async () => {
    const { loadClassifier } = await import('../../src/models/index.js');
    const { model: trained } = await loadClassifier(classifierDir);
    manualSeed(8);
    const untrained = createClassifier('kfold-cnn', modelConfig('kfold-cnn', MNIST)).eval();
    const ensemble = new Ensemble([trained, untrained]);
    const dae = createPurifier('dae', modelConfig('dae', MNIST)).eval();
    const dataset = await loadDataset(data, { split: 'test' });
    const common = { source: trained, dataset, attack: 'fgsm', threat: { norm: 'linf' as const, epsilons: [0.1] }, modes: ['gray-box' as const], limit: 40, progress: false };
    const result = await evaluateDefenses({ ...common, defenses: [{ name: 'dae+ens', model: new DefendedClassifier(dae, ensemble) }] });
    const members = await evaluateDefenses({ ...common, defenses: [{ name: 'a', model: new DefendedClassifier(dae, trained) }, { name: 'b', model: new DefendedClassifier(dae, untrained) }] });
    const mean = (a: number, b: number): number => (a + b) / 2;
    const votes = result.grayBox!.ensembleVotes!['dae+ens']!;
    assert.ok(Math.abs(votes.memberMean[0]! - mean(members.grayBox!.defenses['a']![0]!, members.grayBox!.defenses['b']![0]!)) < 1e-9);
    assert.ok(Math.abs(result.clean.ensembleVotes!['dae+ens']!.memberMean - mean(members.clean.defenses['a']!, members.clean.defenses['b']!)) < 1e-9);
    assert.ok(votes.hardVote[0]! >= 0 && votes.hardVote[0]! <= 1);
    assert.equal(members.grayBox!.ensembleVotes, undefined, 'no ensemble, no votes');
    ensemble.dispose();
    dae.dispose();
    dataset.dispose();
  });
});
