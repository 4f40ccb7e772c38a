/**
 * Ctrl-C on the built CLI (issue #27, finding 10): the first SIGINT makes `attack` stop between
 * batches, write summary.json with what finished (`"interrupted": true`) and exit 130 with a
 * message saying what was kept and how to go on; it never exits silently.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { packageRoot } from '../../src/tensor/native.js';
import { runBastion } from '../helpers/cli.js';
import { tempDir, writeIdxPair } from '../data/helpers.js';

const { dir, cleanup } = tempDir('sigint');
after(cleanup);
const model = join(dir, 'cnn');
const env = { ...process.env, BASTION_THREADS: '1', BASTION_DATA: join(dir, 'data') };

before(async () => {
  writeIdxPair(join(dir, 'data', 'mnist'), 'train', 600, 12, 12);
  writeIdxPair(join(dir, 'data', 'mnist'), 't10k', 4000, 12, 12, { seed: 4 });
  const trained = await runBastion(['train', '--model', 'simple-cnn', '--data', 'mnist', '--epochs', '1', '--val-count', '0', '--batch-size', '16', '--out', model], { threads: 1, dataDir: join(dir, 'data') });
  assert.equal(trained.code, 0, trained.stderr);
});

it('the first Ctrl-C makes attack save what finished and exit 130 saying so', { timeout: 120_000 }, async () => {
  const out = join(dir, 'attack');
  // 1,000 batches of PGD (tens of seconds even with per-sample early stopping): still running when the signal comes.
  const child = spawn(process.execPath, [join(packageRoot, 'bin', 'bastion.js'), 'attack', '--model', model, '--data', 'mnist', '--attack', 'pgd', '--steps', '200',
    '--eps', '0.1', '--batch-size', '4', '--out', out], { env });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise((r) => setTimeout(r, 4000));
  child.kill('SIGINT');
  const code = await exited;
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted/);
  if (existsSync(join(out, 'summary.json'))) {
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as { interrupted?: boolean; samples: number };
    assert.equal(summary.interrupted, true);
    assert.ok(summary.samples > 0 && summary.samples < 4000, `samples ${summary.samples}`);
    assert.match(stderr, /summary\.json holds every epsilon's results/);
  } else {
    // The signal came before the first batch finished: nothing to keep, and the message says so.
    assert.match(stderr, /interrupted \(Ctrl-C\)|nothing/);
  }
});

it('a command that cannot stop between batches quits at the first Ctrl-C, saying what is kept', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, [join(packageRoot, 'bin', 'bastion.js'), 'train-ensemble', '--model', 'kfold-cnn', '--data', 'mnist', '--k', '3',
    '--epochs', '500', '--out', join(dir, 'ensemble')], { env });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise((r) => setTimeout(r, 4000));
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /interrupted; the members already trained .* are kept; run the same command with --resume/);
});
