/**
 * Paper 004 from the command line, on tiny IDX data written by the test: `bastion train
 * --recipe paper004 --defense ... --aad`, `bastion eval-aad table6|a3|attention|report` and
 * `bastion gradcam`; usage errors in one line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { runBastion, type CliRun } from '../helpers/cli.js';
import { cpuHasNativeBFloat16 } from '../../src/tensor/index.js';
import { encodeIdx } from '../../src/data/formats/idx.js';
import { decodeImage, encodePng } from '../../src/io/image.js';
import { put, tempDir } from '../data/helpers.js';

const SIDE = 12;
const { dir, cleanup } = tempDir('aad-cli');
after(cleanup);
const model = join(dir, 'lenet-alp-aad');

/** `n` 12x12 images: class c in 0..3 is a bright 4x4 square in quadrant c, on noise. */
function images(n: number, seed: number): { pixels: Uint8Array; labels: Uint8Array } {
  const pixels = new Uint8Array(n * SIDE * SIDE);
  const labels = new Uint8Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    const c = i % 4;
    labels[i] = c;
    for (let p = 0; p < SIDE * SIDE; p++) {
      s = (s * 1103515245 + 12345) % 2147483648;
      pixels[i * SIDE * SIDE + p] = Math.floor((s / 2147483648) * 60);
    }
    const [top, left] = [(c >> 1) * 6 + 1, (c & 1) * 6 + 1];
    for (let r = top; r < top + 4; r++) for (let col = left; col < left + 4; col++) pixels[i * SIDE * SIDE + r * SIDE + col] = 220;
  }
  return { pixels, labels };
}

function bastion(...args: string[]): Promise<CliRun> {
  return runBastion(args, { threads: 2, dataDir: join(dir, 'data') });
}

function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split('\n').at(-1) as string) as Record<string, unknown>;
}

before(async () => {
  for (const [split, n] of [['train', 64], ['t10k', 24]] as const) {
    const { pixels, labels } = images(n, split === 'train' ? 1 : 2);
    put(join(dir, 'data', 'mnist', `${split}-images-idx3-ubyte`), encodeIdx([n, SIDE, SIDE], pixels));
    put(join(dir, 'data', 'mnist', `${split}-labels-idx1-ubyte`), encodeIdx([n], labels));
  }
});

it('trains LeNet with ALP + AAD under the paper-004 recipe and records the defense', async () => {
  const r = await bastion('train', '--model', 'lenet', '--data', 'mnist', '--recipe', 'paper004', '--defense', 'alp', '--aad', '--alpha', '0.02',
    '--attack-steps', '2', '--epochs', '2', '--batch-size', '16', '--out', model, '--json');
  assert.equal(r.code, 0, r.stderr);
  const result = lastJson(r.stdout) as { defense: Record<string, unknown>; recipe: Record<string, unknown> };
  assert.equal(result.defense['defense'], 'alp');
  assert.deepEqual(result.defense['attack'], { name: 'pgd', norm: 'linf', eps: 0.3, steps: 2, stepSize: 0.375, randomStart: true, bounds: [0, 1] });
  assert.deepEqual(result.defense['aad'], { alpha: 0.02, beta: 0.01, layer: null, kappa: 'mean' });
  // --epochs 2 keeps the recipe's last-fifth learning-rate decay at the same fraction: after epoch 1 of 2.
  assert.deepEqual([result.recipe['lr'], result.recipe['schedule'], result.recipe['lrMilestones'], result.recipe['valCount'], result.recipe['epochs']], [0.001, 'multistep', [1], 0, 2]);
  assert.equal(result.defense['attackPrecisionRequested'], 'auto', 'the recipe\'s training-attack precision');
  assert.equal(result.defense['attackPrecision'], cpuHasNativeBFloat16() ? 'bfloat16' : 'float32', 'auto: bfloat16 only where the CPU has it');
  assert.match(r.stderr, /attack_ms [0-9.]+.*l_r -?[0-9.]+.*l_p [0-9.]+/, 'the progress line shows the attack cost and the AAD terms');
  const meta = JSON.parse(readFileSync(join(model, 'model.json'), 'utf8')) as { training: Record<string, unknown> };
  assert.equal(meta.training['recipeName'], 'paper004');
  assert.equal((meta.training['alp'] as Record<string, number>)['weight'], 0.5);
});

it('eval-aad writes Table 6, A3 and attention results with provenance, and report prints them beside the paper', async () => {
  const out = join(dir, 'results');
  const t6 = await bastion('eval-aad', 'table6', '--model', model, '--data', 'mnist', '--iterations', '2,4', '--out', join(out, 't6.json'), '--json');
  assert.equal(t6.code, 0, t6.stderr);
  const record = JSON.parse(readFileSync(join(out, 't6.json'), 'utf8')) as Record<string, any>;
  assert.equal(record['format'], 'bastion-aad-table6');
  assert.deepEqual(Object.keys(record['result'].columns), ['clean', 'fgsm', 'pgd2', 'pgd4', 'cw2', 'cw4']);
  assert.deepEqual([record['settings'].eps, record['settings'].stepSize], [0.3, 0.01], 'MNIST defaults from the paper-004 settings');
  assert.equal(record['modelTraining'].defense, 'alp');
  assert.ok(typeof record['provenance'].gitRevision === 'string' || record['provenance'].gitRevision === null);
  assert.match(t6.stdout, /\| alp\+aad \(paper\) \| 98\.52 \| 97\.60 \|/);

  const a3 = await bastion('eval-aad', 'a3', '--model', model, '--data', 'mnist', '--eps', '0.1,0.2', '--steps', '2', '--out', join(out, 'a3.json'));
  assert.equal(a3.code, 0, a3.stderr);
  type Paired = { onlySecond: number; onlyFirst: number; pValue: number };
  type A3Row = { eps: number; iterStepLL: number; iterStepLLA3: number; pgd: number; pgdA3: number; paired: { iterStepLL: Paired; pgd: Paired } };
  const a3Result = JSON.parse(readFileSync(join(out, 'a3.json'), 'utf8')).result as { rows: A3Row[]; iatt: number };
  assert.deepEqual(a3Result.rows.map((row) => row.eps), [0.1, 0.2]);
  assert.ok(a3Result.rows.every((row) => row.pgdA3 >= 0 && row.pgdA3 <= 1));
  // The paired counts are per-image and must account exactly for the accuracy difference on I_att.
  for (const row of a3Result.rows) {
    for (const [plain, withA3, pair] of [[row.iterStepLL, row.iterStepLLA3, row.paired.iterStepLL], [row.pgd, row.pgdA3, row.paired.pgd]] as const) {
      assert.equal(Math.round((withA3 - plain) * a3Result.iatt), pair.onlyFirst - pair.onlySecond);
      assert.ok(pair.pValue > 0 && pair.pValue <= 1);
    }
  }
  assert.match(a3.stdout, /\| eps \| Iter-StepLL \| Iter-StepLL\+A3 \| only A3 \/ only plain broke, McNemar p \| PGD \| PGD\+A3 \|/);

  const att = await bastion('eval-aad', 'attention', '--model', model, '--data', 'mnist', '--eps', '0.3', '--cells', '1,4', '--out', join(out, 'att.json'));
  assert.equal(att.code, 0, att.stderr);
  const rows = JSON.parse(readFileSync(join(out, 'att.json'), 'utf8')).result.rows as { images: number; succeeded: number; failed: number; iou: { cells: number }[] }[];
  assert.equal(rows[0]!.succeeded + rows[0]!.failed, rows[0]!.images);
  assert.deepEqual(rows[0]!.iou.map((c) => c.cells), [1, 4]);

  const report = await bastion('eval-aad', 'report', join(out, 't6.json'));
  assert.equal(report.code, 0, report.stderr);
  assert.match(report.stdout, /\| alp\+aad \(ours\) \|/);
  const wrong = await bastion('eval-aad', 'report', join(out, 'a3.json'));
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /is not a table6 result/);
});

it('gradcam writes heat-map overlays; bad usage fails in one line', async () => {
  const picture = put(join(dir, 'digit.png'), encodePng({ width: SIDE, height: SIDE, channels: 1, data: images(1, 5).pixels }));
  const r = await bastion('gradcam', '--model', model, '--out', join(dir, 'cams'), picture, '--json');
  assert.equal(r.code, 0, r.stderr);
  const png = decodeImage(readFileSync(join(dir, 'cams', 'digit-gradcam.png')));
  assert.deepEqual([png.width, png.height, png.channels], [SIDE, SIDE, 3]);
  assert.match(r.stdout, /digit\.png: class \d \(p [0-9.]+%\), attention area \d+% of the 3x3 map/);
  for (const [args, message] of [
    [['train', '--model', 'lenet', '--data', 'mnist', '--aad', '--out', join(dir, 'x')], /--aad applies to adversarial training only/],
    [['train', '--model', 'lenet', '--data', 'mnist', '--defense', 'madry', '--out', join(dir, 'x')], /--defense needs --eps/],
    [['train', '--model', 'simple-cnn', '--data', 'mnist', '--recipe', 'paper004', '--out', join(dir, 'x')], /paper004 on mnist is for --model lenet/],
    [['eval-aad', 'table7', '--model', model], /eval-aad needs an experiment: table6, a3, attention, report/],
    [['gradcam', '--model', model, '--layer', 'nope', '--out', join(dir, 'cams-bad'), picture], /no tap point 'nope'/],
  ] as const) {
    const e = await bastion(...args);
    assert.equal(e.code, 2, `${args.join(' ')}: ${e.stderr}`);
    assert.match(e.stderr, message);
    assert.equal(e.stderr.trim().split('\n').length, 1, e.stderr);
  }
});
