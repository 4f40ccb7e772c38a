/**
 * The dashboard under load (issue #27), loopback only and bounded (under 50 requests, 30 s): while
 * ten attack requests run on the worker thread, `GET /` still answers fast; a cross-site POST is
 * refused during the load; a full queue answers 503 with Retry-After; an attack past its time limit
 * is stopped (504) and the next one runs on a fresh worker; the model cache is bounded (LRU).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboard, type Dashboard } from '../../src/report/server.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { engineMemory } from '../../src/tensor/runtime.js';
import { writePatchDataset } from '../defenses/fixtures.js';
import { runTinyExperiment } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'bastion-load-'));
const runs = join(root, 'runs');
const models = join(root, 'cache', 'models');
const previousData = process.env['BASTION_DATA'];
const classifierId = 'models/tiny-cnn';
let purifierId = '';
const open: Dashboard[] = [];

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  ms: number;
}

/** One loopback request; `ms` is the time to the full answer. */
function call(dashboard: Dashboard, path: string, options: { method?: string; headers?: Record<string, string>; body?: Uint8Array } = {}): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolveCall, reject) => {
    const req = request({ host: '127.0.0.1', port: dashboard.port, path, method: options.method ?? 'GET', headers: { ...(options.body ? { 'Content-Length': String(options.body.length) } : {}), ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveCall({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: performance.now() - started }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** A playground attack on test image `index` of the patch data, as the dashboard page sends it. */
function attack(dashboard: Dashboard, query: string, index = 1): Promise<Answer> {
  return call(dashboard, `/api/attack?classifier=${encodeURIComponent(classifierId)}&eps=0.2&data=mnist&index=${index}&${query}`, { method: 'POST', headers: { 'X-Bastion-Request': '1' } });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

before(async () => {
  setProgressOutput(null);
  await runTinyExperiment(join(runs, 'tiny'), join(root, 'cache'), join(root, 'data'));
  const dirs = readdirSync(models);
  cpSync(join(models, dirs.find((d) => d.startsWith('cnn-') && !d.includes('.'))!), join(runs, 'models', 'tiny-cnn'), { recursive: true });
  purifierId = `@cache/${dirs.find((d) => d.startsWith('dae-') && !d.includes('.'))!}`;
  mkdirSync(join(root, 'datasets'), { recursive: true });
  writePatchDataset(join(root, 'datasets', 'mnist'), 200, 4);
  process.env['BASTION_DATA'] = join(root, 'datasets');
});

after(async () => {
  for (const d of open) await d.close();
  if (previousData === undefined) delete process.env['BASTION_DATA'];
  else process.env['BASTION_DATA'] = previousData;
  rmSync(root, { recursive: true, force: true });
});

async function start(options: Partial<Parameters<typeof startDashboard>[0]> = {}): Promise<Dashboard> {
  const d = await startDashboard({ runsDir: runs, port: 0, modelRoots: [models], ...options });
  open.push(d);
  return d;
}

describe('dashboard load (loopback, bounded)', () => {
  it('answers GET / in under 200 ms at the median while 10 attack requests run, and refuses a cross-site POST', { timeout: 30_000 }, async () => {
    const dashboard = await start({ maxQueuedAttacks: 16 });
    // Warm the worker and the model cache, so the load below is attack work only.
    assert.equal((await attack(dashboard, 'attack=fgsm')).status, 200);
    let running = true;
    const attacks = Promise.all(Array.from({ length: 10 }, (_, i) => attack(dashboard, 'attack=apgd&steps=200', i))).finally(() => {
      running = false;
    });
    await sleep(100);
    const pageTimes: number[] = [];
    let sampleOk = 0;
    let refused: Answer | null = null;
    for (let i = 0; i < 30 && running; i++) {
      if (i === 3) {
        refused = await call(dashboard, `/api/attack?classifier=${encodeURIComponent(classifierId)}&attack=fgsm&eps=0.1&data=mnist&index=1`, {
          method: 'POST', body: Buffer.from('x'), headers: { Origin: 'http://evil.example', 'Content-Type': 'text/plain' },
        });
      } else if (i % 4 === 1) {
        // The main thread's own tensors (a test image) while the worker's engine runs attacks.
        if ((await call(dashboard, '/api/sample?data=mnist&index=3')).status === 200) sampleOk++;
      } else {
        const page = await call(dashboard, '/');
        assert.equal(page.status, 200);
        if (running) pageTimes.push(page.ms);
      }
      await sleep(50);
    }
    const results = await attacks;
    assert.deepEqual(results.map((r) => r.status), new Array(10).fill(200), results.map((r) => r.body.slice(0, 200)).join('\n'));
    assert.ok(pageTimes.length >= 5, `only ${pageTimes.length} page loads happened while the attacks ran`);
    const attackSeconds = results.map((r) => (JSON.parse(r.body) as { seconds: number }).seconds);
    const m = median(pageTimes);
    process.stderr.write(`load: GET / median ${m.toFixed(1)} ms, max ${Math.max(...pageTimes).toFixed(1)} ms over ${pageTimes.length} loads while 10 APGD-200 attacks ran (${attackSeconds.reduce((a, b) => a + b, 0).toFixed(2)} s of attack work, last answered after ${Math.max(...results.map((r) => r.ms)).toFixed(0)} ms)\n`);
    assert.ok(m < 200, `GET / median ${m.toFixed(1)} ms under load`);
    assert.ok(sampleOk > 0);
    assert.equal(refused?.status, 403, refused?.body);
    assert.match(String(refused?.body), /cross-site request refused/);
  });

  it('refuses attacks beyond the queue with 503 and Retry-After, stops one past its time limit (504) and goes on with a fresh worker', { timeout: 30_000 }, async () => {
    const logs: string[] = [];
    const before = engineMemory().inUse ?? 0;
    const dashboard = await start({ maxQueuedAttacks: 2, attackTimeoutMs: 400, log: (line) => logs.push(line) });
    assert.equal((await attack(dashboard, 'attack=fgsm')).status, 200);
    const burst = await Promise.all(Array.from({ length: 6 }, (_, i) => attack(dashboard, 'attack=apgd&steps=100', i)));
    const statuses = burst.map((r) => r.status);
    assert.ok(statuses.filter((s) => s === 503).length >= 2, `statuses ${statuses.join(',')}`);
    assert.ok(statuses.filter((s) => s === 200).length >= 2, `statuses ${statuses.join(',')}`);
    const busy = burst.find((r) => r.status === 503)!;
    assert.equal(busy.headers['retry-after'], '5');
    assert.match(busy.body, /too many attacks are waiting/);
    // An attack far longer than the limit: the answer comes at the limit, not when the attack would end.
    const slow = await attack(dashboard, 'attack=apgd&steps=1000&mode=white-box&purifier=' + encodeURIComponent(purifierId));
    assert.equal(slow.status, 504, slow.body);
    assert.ok(slow.ms < 1500, `answered after ${slow.ms.toFixed(0)} ms`);
    assert.match(slow.body, /ran past the time limit of 0\.4 s/);
    assert.ok(logs.some((l) => /its worker is terminated/.test(l)));
    const next = await attack(dashboard, 'attack=fgsm');
    assert.equal(next.status, 200, next.body);
    assert.equal(logs.filter((l) => l.startsWith(`loaded model ${classifierId} `)).length, 2, 'the new worker loads the model again');
    // The CPU allocator is process-wide: what the terminated and the closed worker held is given back.
    await dashboard.close();
    open.splice(open.indexOf(dashboard), 1);
    const leaked = (engineMemory().inUse ?? 0) - before;
    process.stderr.write(`load: native bytes in use after two workers ended: ${leaked} more than before\n`);
    assert.ok(leaked < 64 * 1024, `${leaked} bytes still in use after the workers ended`);
    assert.ok((engineMemory().peakInUse ?? 0) > before + 64 * 1024, 'the workers did hold native memory while they ran');
  });

  it('keeps at most maxLoadedModels models per worker, disposing the least recently used', { timeout: 30_000 }, async () => {
    const logs: string[] = [];
    const dashboard = await start({ maxLoadedModels: 1, log: (line) => logs.push(line) });
    const defended = await attack(dashboard, `attack=fgsm&mode=white-box&purifier=${encodeURIComponent(purifierId)}`);
    assert.equal(defended.status, 200, defended.body);
    assert.equal(logs.filter((l) => l.startsWith('evicted model')).length, 1, logs.join('\n'));
    assert.match(logs.find((l) => l.startsWith('evicted model'))!, /tiny-cnn/, 'the classifier was used first, so it goes first');
    assert.equal((await attack(dashboard, 'attack=fgsm')).status, 200);
    assert.equal(logs.filter((l) => l.startsWith(`loaded model ${classifierId} `)).length, 2, 'evicted, so loaded again');
    assert.equal(logs.filter((l) => l.startsWith('evicted model')).length, 2, 'and the purifier made room');
  });
});
