/**
 * Downloads against a local node:http server on 127.0.0.1 serving files this test wrote (never
 * the internet): checksums, atomic install, mirrors, retries and resume; then verify and locate.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { downloadDataset, downloadFile, verifyDataset } from '../../src/data/download.js';
import { loadDataset, locateDataset } from '../../src/data/locate.js';
import { sharedDataDir } from '../../src/data/locate.js';
import { DataError } from '../../src/util/errors.js';
import { bytes, tempDir } from './helpers.js';

const { dir, cleanup } = tempDir('download');
const payload = bytes(200_000, 11);
const md5 = createHash('md5').update(payload).digest('hex');
const sha256 = createHash('sha256').update(payload).digest('hex');
const files = new Map<string, Uint8Array>([['payload.bin', payload]]);
const mnistDir = join(sharedDataDir(), 'mnist');
const mnistNames = ['train-images-idx3-ubyte.gz', 'train-labels-idx1-ubyte.gz', 't10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'];
const haveMnist = mnistNames.every((n) => existsSync(join(mnistDir, n)));
if (haveMnist) for (const n of mnistNames) files.set(n, readFileSync(join(mnistDir, n)));

const requests: { url: string; range: string | undefined }[] = [];
let flakyFailures = 0;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const [, route, name] = (req.url ?? '').split('/');
  requests.push({ url: req.url ?? '', range: req.headers.range });
  const data = files.get(name ?? '');
  if (route === 'missing' || data === undefined) {
    res.writeHead(404).end('not here');
    return;
  }
  if (route === 'bad') {
    const corrupt = Buffer.from(data);
    corrupt[100] = (corrupt[100] as number) ^ 0xff;
    res.writeHead(200, { 'content-length': corrupt.length }).end(corrupt);
    return;
  }
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (range) {
    const start = Number(range[1]);
    res.writeHead(206, { 'content-length': data.length - start, 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` }).end(data.subarray(start));
    return;
  }
  if (route === 'flaky' && flakyFailures > 0) {
    flakyFailures--;
    res.writeHead(200, { 'content-length': data.length });
    res.write(data.subarray(0, 70_000), () => setTimeout(() => res.destroy(), 20));
    return;
  }
  res.writeHead(200, { 'content-length': data.length }).end(data);
}

const server = createServer(handle);
let base = '';
before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  cleanup();
});

const quiet = { progress: false, retryDelayMs: 10, idleTimeoutMs: 5000 };

describe('downloadFile', () => {
  it('installs a file whose checksums match, atomically (no .part left)', async () => {
    const dest = join(dir, 'good', 'payload.bin');
    const result = await downloadFile({ name: 'payload.bin', urls: [`${base}/good/payload.bin`], md5, sha256 }, dest, quiet);
    assert.equal(result.md5, md5);
    assert.deepEqual(new Uint8Array(readFileSync(dest)), payload);
    assert.deepEqual(readdirSync(join(dir, 'good')), ['payload.bin']);
  });

  it('refuses a file with the wrong checksum and leaves nothing in place', async () => {
    const dest = join(dir, 'bad', 'payload.bin');
    await assert.rejects(downloadFile({ name: 'payload.bin', urls: [`${base}/bad/payload.bin`], md5 }, dest, quiet), (e: unknown) =>
      e instanceof DataError && /download failed: .*checksum mismatch: MD5 [0-9a-f]{32}, expected/.test(e.message) && /nothing was installed/.test(e.hint ?? ''));
    assert.deepEqual(readdirSync(join(dir, 'bad')), []);
  });

  it('falls back through mirrors (404, bad bytes) to a good one', async () => {
    const dest = join(dir, 'mirrors', 'payload.bin');
    const log: string[] = [];
    const result = await downloadFile({ name: 'payload.bin', urls: [`${base}/missing/payload.bin`, `${base}/bad/payload.bin`, `${base}/good/payload.bin`], md5 },
      dest, { ...quiet, log: (l) => log.push(l) });
    assert.equal(result.url, `${base}/good/payload.bin`);
    assert.match(log.join('\n'), /HTTP 404.*trying the next mirror/);
    assert.match(log.join('\n'), /checksum mismatch/);
    assert.deepEqual(readdirSync(join(dir, 'mirrors')), ['payload.bin']);
  });

  it('resumes a broken transfer with a Range request', async () => {
    flakyFailures = 1;
    requests.length = 0;
    const dest = join(dir, 'resume', 'payload.bin');
    const result = await downloadFile({ name: 'payload.bin', urls: [`${base}/flaky/payload.bin`], md5, sha256 }, dest, quiet);
    assert.ok(result.resumedBytes > 0 && result.resumedBytes < payload.length, `resumed ${result.resumedBytes}`);
    assert.match(requests.at(-1)?.range ?? '', /^bytes=\d+-$/);
    assert.equal(result.sha256, sha256);
    assert.deepEqual(new Uint8Array(readFileSync(dest)), payload);
    assert.deepEqual(readdirSync(join(dir, 'resume')), ['payload.bin']);
  });
});

describe('downloadDataset / verify / locate', () => {
  it('AFHQ cannot be downloaded: the error says exactly what to do', async () => {
    await assert.rejects(downloadDataset('afhq', { dataDir: dir }), (e: unknown) =>
      e instanceof DataError && /afhq: cannot be downloaded automatically/.test(e.message) && /kaggle\.com\/datasets\/andrewmvd\/animal-faces/.test(e.hint ?? '') && /afhq\/train\/\{cat,dog,wild\}/.test(e.hint ?? ''));
  });

  it('downloads MNIST from a local mirror against the published MD5s, then finds, loads and verifies it', async (t) => {
    if (!haveMnist) {
      t.skip(`MNIST not present in ${mnistDir}`);
      return;
    }
    const root = join(dir, 'data-root');
    const first = await downloadDataset('mnist', { dataDir: root, mirrors: [`${base}/good/`], ...quiet });
    assert.deepEqual(first.files.map((f) => f.status), ['downloaded', 'downloaded', 'downloaded', 'downloaded']);
    assert.equal(first.dir, join(root, 'mnist'));
    assert.deepEqual(readdirSync(first.dir).sort(), [...mnistNames].sort());
    const again = await downloadDataset('mnist', { dataDir: root, mirrors: [`${base}/missing/`], ...quiet });
    assert.deepEqual(again.files.map((f) => f.status), ['present', 'present', 'present', 'present']);

    const where = locateDataset('mnist', { dataDir: root });
    assert.deepEqual([where.path, where.via], [join(root, 'mnist'), 'flag']);
    const test = await loadDataset('mnist', { dataDir: root, split: 'test' });
    assert.deepEqual([test.name, test.length], ['mnist/test', 10_000]);
    test.dispose();
    const check = await verifyDataset('mnist', { dataDir: root });
    assert.equal(check.ok, true);
    assert.ok(check.files.every((f) => f.status === 'ok' && f.detail === 'published MD5 matches'));

    copyFileSync(join(mnistDir, 't10k-labels-idx1-ubyte.gz'), join(root, 'mnist', 't10k-labels-idx1-ubyte.gz'));
    writeFileSync(join(root, 'mnist', 'train-labels-idx1-ubyte.gz'), Buffer.from('garbage'));
    const broken = await verifyDataset('mnist', { dataDir: root });
    assert.equal(broken.ok, false);
    assert.deepEqual(broken.files.map((f) => f.status), ['ok', 'mismatch', 'ok', 'ok']);
  });
});
