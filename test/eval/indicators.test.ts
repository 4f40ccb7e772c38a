/**
 * Indicators of attack failure (src/eval/indicators.ts): each fires on a purpose-built case (a model
 * with random noise in its forward, a softmax-output model, a model whose rounding step zeroes the
 * input gradient, a quantizing purifier that masks the white-box gradient while transferred examples
 * still break it) and all stay quiet on a plain trained network.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randnLike, scope, tensorStats, type Tensor } from '../../src/tensor/index.js';
import { Identity, Module } from '../../src/nn/index.js';
import type { TensorDataset } from '../../src/data/index.js';
import { createAttack } from '../../src/attacks/index.js';
import { evaluateRobustness } from '../../src/eval/robustness.js';
import { evaluateDefenses } from '../../src/eval/defense.js';
import { checkDefenseResult, checkRobustness, compareAttacks, formatIndicators, ImageEvidence, probeModel, type Indicator } from '../../src/eval/indicators.js';
import { DefendedClassifier } from '../../src/defenses/defended.js';
import { trustSection } from '../../src/report/html.js';
import { syntheticDataset, trainedNet, CLASSES, type SmallNet } from '../attacks/helpers.js';

/** A trained SmallNet behind a transformation of its input or output (shares the net's weights). */
class Wrapped extends Module {
  readonly numClasses = CLASSES;
  constructor(readonly net: SmallNet, readonly fn: (x: Tensor, net: SmallNet) => Tensor) {
    super();
  }
  forward(x: Tensor): Tensor {
    return this.fn(x, this.net);
  }
}

/** A "purifier" that quantizes pixels to 1/4 steps: nearly the identity, but with a zero gradient. */
class Quantizer extends Module {
  forward(x: Tensor): Tensor {
    return scope(() => x.mul(4).round().div(4));
  }
}

let net: SmallNet;
let dataset: TensorDataset;
let x: Tensor;
let y: Tensor;

const ids = (flags: readonly Indicator[]): string[] => [...new Set(flags.map((f) => f.id))].sort();

before(() => {
  net = trainedNet();
  ({ dataset, x, y } = syntheticDataset(64, 4));
});
after(() => {
  dataset.dispose();
  net.dispose();
  x.dispose();
  y.dispose();
});

describe('indicators of attack failure: the model probe', () => {
  it('stays quiet on a plain trained network, frees its tensors and leaves the random generator alone', () => {
    const live = tensorStats().live;
    const probe = probeModel(net, x, y);
    assert.equal(tensorStats().live, live);
    assert.equal(probe.probedImages, 32);
    assert.deepEqual(probe.flags, []);
  });

  it('flags a model with random noise in its forward', () => {
    const noisy = new Wrapped(net, (input, n) => scope(() => n.forward(input.add(randnLike(input).mul(0.1)))));
    const { flags } = probeModel(noisy, x, y, { offset: 100 });
    assert.deepEqual(ids(flags), ['randomized-model']);
    assert.ok(flags[0]!.images.length > 0 && flags[0]!.images.every((i) => i >= 100 && i < 132), 'images are named in evaluation order');
    assert.match(flags[0]!.advice, /--eot|--version rand/);
  });

  it('flags a model that outputs probabilities', () => {
    const softmax = new Wrapped(net, (input, n) => scope(() => n.forward(input).softmax(1)));
    const { flags } = probeModel(softmax, x, y);
    assert.deepEqual(ids(flags), ['probability-outputs']);
    assert.match(flags[0]!.advice, /without its final softmax/);
  });

  it('flags a non-differentiable step that zeroes the input gradient', () => {
    const step = new Wrapped(net, (input, n) => scope(() => n.forward(input.mul(4).round().div(4))));
    const { flags } = probeModel(step, x, y);
    assert.deepEqual(ids(flags), ['zero-gradients']);
    assert.equal(flags[0]!.severity, 'failure');
    assert.equal(flags[0]!.imageCount, 32);
    assert.equal(flags[0]!.images.length, 20, 'the list is capped');
    assert.match(flags[0]!.advice, /BPDA/);
  });
});

describe('indicators of attack failure: result checks', () => {
  it('flag accuracy under attack above clean and accuracy rising with epsilon, naming the images', () => {
    const evidence = new ImageEvidence([0.1, 0.2]);
    evidence.add(10, [1, 0, 1], [{ correct: [1, 1, 0], success: [0, 0, 1] }, { correct: [1, 1, 1], success: [0, 0, 0] }]);
    const flags = checkRobustness({ samples: 3, cleanAccuracy: 2 / 3, perEpsilon: [{ epsilon: 0.1, accuracy: 2 / 3 }, { epsilon: 0.2, accuracy: 1 }] }, evidence);
    assert.deepEqual(ids(flags), ['attack-above-clean', 'non-monotone-epsilon']);
    assert.deepEqual(flags.find((f) => f.id === 'attack-above-clean')!.images, [11]);
    assert.deepEqual(flags.find((f) => f.id === 'non-monotone-epsilon')!.images, [12]);
    assert.deepEqual(checkRobustness({ samples: 100, cleanAccuracy: 0.9, perEpsilon: [{ epsilon: 0.2, accuracy: 0.1 }, { epsilon: 0.1, accuracy: 0.5 }] }), [], 'order of the list does not matter');
  });

  it('flag a transfer or BPDA attack beating the white-box one, and stay quiet when white-box is the strongest', () => {
    const base = { epsilons: [0.1, 0.3], samples: 100, clean: { defenses: { q: 0.95 } } };
    const masked = checkDefenseResult({ ...base, grayBox: { defenses: { q: [0.6, 0.2] } }, adaptive: { 'white-box': { q: [0.9, 0.9] }, bpda: { q: [0.5, 0.1] } } });
    assert.deepEqual(ids(masked), ['bpda-beats-white-box', 'transfer-beats-white-box']);
    assert.equal(masked.filter((f) => f.id === 'transfer-beats-white-box').length, 2, 'one flag per epsilon');
    const sound = checkDefenseResult({ ...base, grayBox: { defenses: { q: [0.9, 0.7] } }, adaptive: { 'white-box': { q: [0.5, 0.1] }, bpda: { q: [0.6, 0.2] } } });
    assert.deepEqual(sound, []);
    const leaking = checkDefenseResult({ ...base, grayBox: { defenses: { q: [0.97, 0.9] } }, adaptive: {} });
    assert.deepEqual(ids(leaking), ['attack-above-clean']);
  });

  it('flag a black-box attack breaking more than the white-box one', () => {
    const white = { attack: 'pgd', samples: 100, cleanAccuracy: 0.9, perEpsilon: [{ epsilon: 0.1, accuracy: 0.6 }, { epsilon: 0.3, accuracy: 0.5 }] };
    const flags = compareAttacks(white, { ...white, attack: 'square', perEpsilon: [{ epsilon: 0.3, accuracy: 0.2 }] });
    assert.deepEqual(ids(flags), ['black-box-beats-white-box']);
    assert.match(flags[0]!.message, /square leaves 20\.00%.*pgd's 50\.00%.*30 more images/);
    assert.deepEqual(compareAttacks(white, { ...white, attack: 'square', perEpsilon: [{ epsilon: 0.3, accuracy: 0.55 }] }), []);
  });
});

describe('indicators of attack failure: end to end', () => {
  it('evaluateRobustness: none on a plain network, zero gradients on a rounding one', async () => {
    const threat = { norm: 'linf' as const, epsilons: [0.1, 0.3] };
    const plain = await evaluateRobustness(net, dataset, { attack: createAttack('pgd', { steps: 10, seed: 0 }), threat, batchSize: 32, progress: false });
    assert.ok(plain.indicators, 'computed by default');
    assert.deepEqual(plain.indicators.flags, []);
    assert.equal(plain.indicators.probedImages, 32);
    assert.ok(plain.indicators.checked.includes('zero-gradients') && plain.indicators.checked.includes('non-monotone-epsilon'));
    assert.match(formatIndicators(plain.indicators)[0]!, /none raised/);
    const off = await evaluateRobustness(net, dataset, { attack: createAttack('pgd', { steps: 10, seed: 0 }), threat, batchSize: 32, progress: false, indicators: false });
    assert.equal(off.indicators, undefined);
    assert.deepEqual(off.perEpsilon, plain.perEpsilon, 'the indicators do not change the numbers');
    const step = new Wrapped(net, (input, n) => scope(() => n.forward(input.mul(4).round().div(4))));
    const masked = await evaluateRobustness(step, dataset, { attack: createAttack('fgsm'), threat, batchSize: 32, progress: false });
    assert.deepEqual(ids(masked.indicators!.flags), ['zero-gradients']);
    assert.match(formatIndicators(masked.indicators)[0]!, /^flag: \[failure\] zero-gradients: .*images 0, 1, 2.*BPDA/);
  });

  it('evaluateDefenses: a quantizing purifier whose transferred (gray-box) examples break more images than the white-box attack', async () => {
    const classifier = new Wrapped(net, (input, n) => n.forward(input));
    const defended = new DefendedClassifier(new Quantizer(), classifier);
    const result = await evaluateDefenses({
      source: classifier, defenses: [{ name: 'quantizer', model: defended }], dataset, attack: 'fgsm', threat: { norm: 'linf', epsilons: [0.3] },
      modes: ['gray-box', 'white-box'], batchSize: 32, progress: false,
    });
    assert.ok(result.grayBox!.defenses['quantizer']![0]! < result.adaptive['white-box']!['quantizer']![0]!, 'the purpose-built case: gray-box below white-box accuracy');
    const flags = result.indicators!.flags;
    assert.deepEqual(ids(flags), ['transfer-beats-white-box', 'zero-gradients']);
    const transfer = flags.find((f) => f.id === 'transfer-beats-white-box')!;
    assert.ok((transfer.imageCount ?? 0) > 0 && transfer.images.length > 0, 'names the images the transfer attack broke and white-box did not');
    assert.ok(flags.filter((f) => f.id === 'zero-gradients').every((f) => /defense quantizer/.test(f.message)), 'the undefended classifier is not flagged');
    const plain = await evaluateDefenses({
      source: classifier, defenses: [{ name: 'identity', model: new DefendedClassifier(new Identity(), classifier) }], dataset, attack: 'fgsm',
      threat: { norm: 'linf', epsilons: [0.1, 0.3] }, modes: ['gray-box', 'white-box'], batchSize: 32, progress: false,
    });
    assert.deepEqual(plain.indicators!.flags, []);
  });
});

describe('indicators of attack failure: the report section', () => {
  it('renders the flags escaped, a quiet line when none, and nothing for older results', () => {
    const html = trustSection({ probedImages: 32, checked: ['zero-gradients'], flags: [{ id: 'zero-gradients', severity: 'failure', message: '<script>alert(1)</script> & more', images: [1, 2], imageCount: 5, advice: 'use "BPDA"' }] })!;
    assert.doesNotMatch(html, /<script>/);
    assert.match(html, /&lt;script&gt;alert\(1\)&lt;\/script&gt; &amp; more/);
    assert.match(html, /1, 2 \(5 in all\)/);
    assert.match(trustSection({ probedImages: 32, checked: ['zero-gradients'], flags: [] })!, /No indicator was raised/);
    assert.equal(trustSection(undefined), null);
  });
});
