/**
 * `bastion attack` end to end: a small simple-CNN checkpoint and tiny IDX data written by the test,
 * then summary.json, examples.safetensors and grid.png checked; usage errors in one line.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { promisify } from 'node:util';
import { crossEntropy } from '../../src/nn/functional.js';
import { Adam } from '../../src/optim/index.js';
import { manualSeed, scope, tensor, type Tensor } from '../../src/tensor/index.js';
import { packageRoot } from '../../src/tensor/native.js';
import { runBastion, type CliRun } from '../helpers/cli.js';
import { createClassifier, saveModel } from '../../src/models/index.js';
import { encodeIdx } from '../../src/data/formats/idx.js';
import { decodeImage } from '../../src/io/image.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { put, tempDir } from '../data/helpers.js';
import './helpers.js';

const run = promisify(execFile);
const bin = join(packageRoot, 'bin', 'bastion.js');
const SIDE = 12;
const { dir, cleanup } = tempDir('attack-cli');
after(cleanup);

/** `n` 12x12 digits-like images: class c in 0..3 is a bright 4x4 square in quadrant c, with noise. */
function images(n: number, seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = new Uint8Array(n * SIDE * SIDE);
  const labels = new Uint8Array(n);
  let s = seed;
  const noise = (): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s / 2147483648) * 60;
  };
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    labels[i] = c;
    for (let p = 0; p < SIDE * SIDE; p++) pixels[i * SIDE * SIDE + p] = Math.round(noise());
    const [top, left] = [(c >> 1) * 6 + 1, (c & 1) * 6 + 1];
    for (let r = top; r < top + 4; r++) for (let col = left; col < left + 4; col++) pixels[i * SIDE * SIDE + r * SIDE + col] = 200 + Math.round(noise() / 2);
  }
  return { pixels, labels };
}

before(async () => {
  const data = join(dir, 'data', 'mnist');
  for (const [split, n] of [['train', 64], ['t10k', 48]] as const) {
    const { pixels, labels } = images(n, split === 'train' ? 1 : 2);
    put(join(data, `${split}-images-idx3-ubyte`), encodeIdx([n, SIDE, SIDE], pixels));
    put(join(data, `${split}-labels-idx1-ubyte`), encodeIdx([n], labels));
  }
  manualSeed(0);
  const model = createClassifier('simple-cnn', { channels: 1, height: SIDE, width: SIDE, numClasses: 10 });
  const train = images(64, 1);
  const x = tensor(train.pixels, { shape: [64, 1, SIDE, SIDE], dtype: 'float32' }).div(255).keep();
  const y = tensor(Int32Array.from(train.labels), { dtype: 'int64' }).keep();
  const optimizer = new Adam(model.parameters(), { lr: 0.01 });
  for (let step = 0; step < 60; step++) {
    scope(() => {
      optimizer.zeroGrad();
      crossEntropy(model.forward(x), y).backward();
      optimizer.step();
    });
  }
  [x, y].forEach((t: Tensor) => t.dispose());
  model.eval();
  await saveModel(join(dir, 'model'), model, { classNames: Array.from({ length: 10 }, (_, i) => String(i)) });
  model.dispose();
});

function bastion(...args: string[]): Promise<CliRun> {
  return runBastion(args, { threads: 1, dataDir: join(dir, 'data') });
}

it('attack writes summary.json, examples.safetensors and grid.png, and prints the paper beside ours', async () => {
  const out = join(dir, 'out');
  const epsilons = [0, 0.1, 0.3];
  const r = await bastion('attack', '--model', join(dir, 'model'), '--data', 'mnist', '--attack', 'pgd', '--eps', epsilons.join(','), '--steps', '5',
    '--limit', '40', '--batch-size', '16', '--save-examples', '10', '--grid', '3', '--compare', 'paper000-table2', '--out', out, '--json', '-q');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, / eps \|  paper \|   ours \|    diff/);
  assert.match(r.stdout, /0\.1 \| 0\.1947 \| /);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1) as string).perEpsilon, summary.perEpsilon);
  assert.equal(summary.samples, 40);
  assert.equal(summary.batches, 3);
  assert.equal(summary.attack, 'pgd');
  assert.deepEqual(summary.threat, { norm: 'linf', epsilons, bounds: [0, 1], targeted: false });
  assert.ok(summary.cleanAccuracy > 0.5, `the test model learned something (clean ${summary.cleanAccuracy})`);
  assert.equal(summary.perEpsilon[0].accuracy, summary.cleanAccuracy);
  const accuracies = summary.perEpsilon.map((e: { accuracy: number }) => e.accuracy);
  assert.ok(accuracies[2] <= accuracies[1] && accuracies[1] <= accuracies[0], `accuracy falls with eps: ${accuracies}`);
  assert.ok(summary.perEpsilon[2].successRate > 0.5);
  for (const e of summary.perEpsilon) assert.ok(e.norms.max === null || e.norms.max <= e.epsilon + 1e-6);
  assert.ok(summary.gradientEvaluations > 0 && summary.forwardEvaluations > 0 && summary.wallSeconds > 0);
  assert.equal(summary.attackOptions.steps, 5);
  assert.equal(typeof summary.provenance.gitRevision === 'string' || summary.provenance.gitRevision === null, true);
  assert.equal(summary.provenance.seed, 0);
  assert.equal(summary.comparison.table, 'paper000-table2');
  assert.deepEqual(summary.files, { summary: 'summary.json', examples: 'examples.safetensors', grid: 'grid.png' });

  const grid = decodeImage(readFileSync(join(out, 'grid.png')));
  assert.equal(grid.channels, 3);
  assert.ok(grid.width > 7 * SIDE * 3 && grid.height > 3 * SIDE * 3, `grid ${grid.width}x${grid.height} holds 3 rows of 7 tiles`);

  const { tensors, metadata } = await readSafetensors(join(out, 'examples.safetensors'));
  try {
    assert.deepEqual(JSON.parse(metadata['epsilons'] as string), epsilons);
    const original = tensors.get('original') as Tensor;
    assert.deepEqual([...original.shape], [10, 1, SIDE, SIDE]);
    assert.deepEqual([...(tensors.get('label') as Tensor).shape], [10]);
    scope(() => {
      for (const eps of epsilons) {
        const adv = tensors.get(`adversarial@${eps}`) as Tensor;
        assert.ok(adv.sub(original).abs().max().item() <= eps + 1e-6, `stored examples at ${eps} are within eps`);
        assert.deepEqual([...(tensors.get(`prediction@${eps}`) as Tensor).shape], [10]);
      }
    });
  } finally {
    for (const t of tensors.values()) t.dispose();
  }
});

it('targeted, l2 and square runs; usage errors in one line', async () => {
  const out = join(dir, 'targeted');
  const r = await bastion('attack', '--model', join(dir, 'model'), '--data', 'mnist', '--attack', 'square', '--norm', 'l2', '--eps', '2,6', '--steps', '50',
    '--target', '3', '--limit', '24', '--grid', '2', '--save-examples', '0', '--out', out, '-q');
  assert.equal(r.code, 0, r.stderr);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  assert.equal(summary.target, 3);
  assert.equal(summary.excluded, 6, 'the samples of class 3 are left out');
  assert.equal(summary.samples, 18);
  assert.equal(summary.gradientEvaluations, 0, 'square uses no gradients');
  assert.deepEqual(summary.files, { summary: 'summary.json', grid: 'grid.png' });

  const missing = await bastion('attack', '--model', join(dir, 'model'), '--data', 'mnist', '--out', out);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /^bastion attack: missing --eps \(e\.g\. --eps 0\.05,0\.1,0\.15\)\n$/);
  const wrong = await bastion('attack', '--model', join(dir, 'model'), '--data', 'mnist', '--attack', 'fgsm', '--steps', '3', '--eps', '0.1', '--out', out);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /option 'steps' does not apply to fgsm \(fgsm accepts: /);
  const norm = await bastion('attack', '--model', join(dir, 'model'), '--data', 'mnist', '--attack', 'cw', '--eps', '0.1', '--out', out);
  assert.match(norm.stderr, /cw does not support the linf norm \(use one of: l2\)/);
});

it('apgd-t and fab-t take --targets and --restarts; fab reports its minimum norms per eps', async () => {
  for (const [attack, extra] of [['apgd-t', ['--targets', '2', '--steps', '5']], ['fab-t', ['--targets', '2', '--steps', '5', '--restarts', '2']], ['fab', ['--steps', '5', '--norm', 'l2']]] as const) {
    const out = join(dir, attack);
    const eps = attack === 'fab' ? '0.5,3' : '0.1,0.3';
    const r = await bastion('attack', '--model', join(dir, 'model'), '--data', 'mnist', '--attack', attack, ...extra, '--eps', eps, '--limit', '16',
      '--grid', '0', '--save-examples', '0', '--out', out, '-q');
    assert.equal(r.code, 0, `${attack}: ${r.stderr}`);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    assert.equal(summary.perEpsilon.length, 2, attack);
  }
  const targeted = await bastion('attack', '--model', join(dir, 'model'), '--data', 'mnist', '--attack', 'fab-t', '--target', '3', '--eps', '0.1', '--out', join(dir, 'x'));
  assert.equal(targeted.code, 2);
  assert.match(targeted.stderr, /fab-t is untargeted by construction/);
});

it('attack --help names every registered attack', async () => {
  const { attacks } = await import('../../src/attacks/registry.js');
  const { stdout } = await run(process.execPath, [bin, 'attack', '--help']);
  const listed = /Attacks: ([^.]+)\./.exec(stdout.replace(/\s*\n\s*/g, ' '))?.[1]?.split(/,\s*/) ?? [];
  assert.deepEqual([...listed].sort(), attacks.map((a) => a.name).sort());
});
