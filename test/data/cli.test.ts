/** `bastion data`: --help, --json results and one-line failures. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { it } from 'node:test';
import { promisify } from 'node:util';
import { packageRoot } from '../../src/tensor/native.js';
import { tempDir } from './helpers.js';

const run = promisify(execFile);
const bin = join(packageRoot, 'bin', 'bastion.js');

async function bastion(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const { dir, cleanup } = tempDir('cli');
  try {
    const env = { ...process.env, BASTION_DATA: dir, XDG_DATA_HOME: dir, BASTION_CACHE: dir };
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  } finally {
    cleanup();
  }
}

it('data --help, list --json, and one-line failures', async () => {
  const help = await bastion('data', '--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: bastion data list \| data download NAME/);
  const list = await bastion('data', 'list', '--json');
  assert.equal(list.code, 0);
  const result = JSON.parse(list.stdout.trim().split('\n').at(-1) as string) as { datasets: { name: string; found: boolean; hint?: string }[] };
  assert.deepEqual(result.datasets.map((d) => d.name), ['mnist', 'fashion-mnist', 'kmnist', 'cifar10', 'afhq', 'afhq-sample']);
  assert.ok(result.datasets.every((d) => d.found || (d.hint ?? '').length > 0));
  const afhq = await bastion('data', 'download', 'afhq');
  assert.equal(afhq.code, 1);
  assert.equal(afhq.stderr.trim().split('\n').length, 1);
  assert.match(afhq.stderr, /^bastion data: afhq: cannot be downloaded automatically \(AFHQ needs a Kaggle login/);
  const usage = await bastion('data', 'fetch');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /unknown action 'fetch' \(use one of: list, download, verify\)/);
  const missing = await bastion('data', 'verify', '/nonexistent/images', '--json');
  assert.equal(missing.code, 1);
  assert.match(JSON.parse(missing.stdout.trim()).error as string, /^\/nonexistent\/images: no such data set or path; known data sets: mnist, /);
});
