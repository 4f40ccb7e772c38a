/**
 * #27: nothing lost, nothing silently wrong. The built CLI on tiny IDX data: --out is checked and
 * locked before any work (a file, foreign files, a read-only folder, a busy folder), train refuses
 * to discard OUT.work or replace another architecture, --resume refuses changed options, attack
 * leaves no stale files from an earlier run, gradcam refuses two inputs with one output name.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { hostname } from 'node:os';
import { runBastion, type CliRun } from '../helpers/cli.js';
import { configDifferences } from '../../src/train/index.js';
import { distinctOutputNames, prepareOutput } from '../../src/io/output-dir.js';
import { tempDir, writeIdxPair, writeImage, gradientImage } from '../data/helpers.js';

const { dir, cleanup } = tempDir('output-folders');
after(cleanup);
const model = join(dir, 'models', 'cnn');

function bastion(...args: string[]): Promise<CliRun> {
  return runBastion(args, { threads: 1, dataDir: join(dir, 'data') });
}

const TRAIN = ['train', '--model', 'simple-cnn', '--data', 'mnist', '--epochs', '1', '--val-count', '0', '--batch-size', '16', '--limit', '32'];

before(async () => {
  writeIdxPair(join(dir, 'data', 'mnist'), 'train', 48, 12, 12);
  writeIdxPair(join(dir, 'data', 'mnist'), 't10k', 16, 12, 12, { seed: 3 });
  const trained = await bastion(...TRAIN, '--out', model, '--keep-work');
  assert.equal(trained.code, 0, trained.stderr);
});

it('refuses an --out that is a file before loading data, leaving no OUT.work', async () => {
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  const r = await bastion(...TRAIN, '--out', file);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /is a file, not a folder/);
  assert.equal(existsSync(`${file}.work`), false);
});

it('refuses an --out holding foreign files, naming them', async () => {
  const out = join(dir, 'foreign');
  mkdirSync(out);
  writeFileSync(join(out, 'notes.txt'), 'mine');
  const r = await bastion('attack', '--model', model, '--data', 'mnist', '--eps', '0.1', '--attack', 'fgsm', '--out', out);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /notes\.txt/);
});

it('refuses a read-only --out before the swap: no OUT.previous, the old model intact', async () => {
  const out = join(dir, 'readonly');
  const first = await bastion(...TRAIN, '--out', out);
  assert.equal(first.code, 0, first.stderr);
  chmodSync(out, 0o555);
  try {
    const r = await bastion(...TRAIN, '--out', out);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /read-only/);
    assert.equal(existsSync(`${out}.previous`), false);
    assert.equal(existsSync(join(out, 'model.json')), true);
  } finally {
    chmodSync(out, 0o755);
  }
});

it('a second run into a locked --out fails at once with the holder\'s pid; a stale lock is taken over', async () => {
  const out = join(dir, 'locked');
  writeFileSync(`${out}.lock`, JSON.stringify({ pid: process.pid, host: hostname(), since: 'now' }));
  const busy = await bastion(...TRAIN, '--out', out);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, new RegExp(`in use by another bastion run \\(pid ${process.pid}`));
  writeFileSync(`${out}.lock`, JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), since: 'long ago' }));
  const prepared = prepareOutput(out, {});
  prepared.release();
  assert.equal(existsSync(`${out}.lock`), false);
});

it('train refuses to discard an interrupted OUT.work without --restart, and another architecture without --force', async () => {
  const work = await bastion(...TRAIN, '--out', model);
  assert.equal(work.code, 1);
  assert.match(work.stderr, /interrupted training run \(continue it with --resume, or discard it and start over with --restart\)/);
  const other = join(dir, 'models', 'other');
  const lenet = await bastion(...TRAIN, '--out', other);
  assert.equal(lenet.code, 0, lenet.stderr);
  const r = await bastion(...TRAIN.map((a) => (a === 'simple-cnn' ? 'lenet' : a)), '--out', other);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /already holds a 'simple-cnn' model; this run trains 'lenet' \(choose another --out, or replace it with --force\)/);
});

it('train --resume refuses changed options, naming them', async () => {
  const r = await bastion(...TRAIN.map((a) => (a === '32' ? '40' : a)), '--lr', '0.5', '--out', model, '--resume');
  assert.equal(r.code, 1);
  assert.match(r.stderr, /limit: 32 -> 40/);
  assert.match(r.stderr, /recipe\.lr: 0\.002 -> 0\.5/);
  const same = await bastion(...TRAIN, '--out', model, '--resume', '--keep-work');
  assert.equal(same.code, 0, same.stderr);
  assert.deepEqual(configDifferences({ data: 'mnist', recipe: { lr: 1 } }, { data: 'fashion-mnist', recipe: { lr: 1 } }), ['data: "mnist" -> "fashion-mnist"']);
});

it('attack into a reused --out leaves no stale examples or grid', async () => {
  const out = join(dir, 'attack');
  const args = ['attack', '--model', model, '--data', 'mnist', '--eps', '0.1', '--attack', 'fgsm', '--limit', '8', '--out', out];
  assert.equal((await bastion(...args)).code, 0);
  assert.equal(existsSync(join(out, 'grid.png')), true);
  const again = await bastion(...args, '--grid', '0', '--save-examples', '0');
  assert.equal(again.code, 0, again.stderr);
  assert.equal(existsSync(join(out, 'summary.json')), true);
  assert.equal(existsSync(join(out, 'grid.png')), false);
  assert.equal(existsSync(join(out, 'examples.safetensors')), false);
});

it('gradcam refuses two inputs that would write one output', async () => {
  const a = writeImage(join(dir, 'in', 'a', 'x.png'), gradientImage(12, 12, 1));
  const b = writeImage(join(dir, 'in', 'b', 'x.png'), gradientImage(12, 12, 1, 1));
  const r = await bastion('gradcam', '--model', model, '--out', join(dir, 'cams'), a, b);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /would both be written as x-gradcam\.png/);
  assert.throws(() => distinctOutputNames(['p/y.png', 'q/y.jpg'], (f) => f.split('/').pop()?.replace(/\..*/, '') ?? ''), /would both be written/);
});
