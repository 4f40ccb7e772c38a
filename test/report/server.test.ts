/** The dashboard's HTTP API: listings, reports, the attack route on a tiny trained model, and refusals of bad input. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDashboard, type Dashboard } from '../../src/report/server.js';
import { decodeImage, encodePng } from '../../src/io/image.js';
import { setProgressOutput } from '../../src/util/progress.js';
import { writePatchDataset } from '../defenses/fixtures.js';
import { runTinyExperiment, writeSyntheticRun } from './fixtures.js';

const root = mkdtempSync(join(tmpdir(), 'bastion-server-'));
const runs = join(root, 'runs');
const cache = join(root, 'cache');
let dashboard: Dashboard;
let classifierId = '';
let purifierId = '';
const previousData = process.env['BASTION_DATA'];
const SECRET = 'secret-hostname-1234';

/** A raw HTTP request (no URL normalisation by the client), resolving to status, headers and body. */
function raw(path: string, options: { method?: string; body?: Uint8Array; headers?: Record<string, string>; plain?: boolean } = {}): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  // POSTs carry the dashboard's own request header (as its page does) unless `plain` is set.
  const own = options.method === 'POST' && !options.plain ? { 'X-Bastion-Request': '1' } : {};
  return new Promise((resolveRequest, reject) => {
    const req = request({ host: '127.0.0.1', port: dashboard.port, path, method: options.method ?? 'GET', headers: { ...own, ...(options.body ? { 'Content-Length': String(options.body.length) } : {}), ...options.headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveRequest({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function json(path: string, options: Parameters<typeof raw>[1] = {}): Promise<{ status: number; value: Record<string, unknown> }> {
  const r = await raw(path, options);
  assert.match(String(r.headers['content-type']), /^application\/json/, `${path}: ${r.body.slice(0, 200)}`);
  return { status: r.status, value: JSON.parse(r.body) as Record<string, unknown> };
}

/** A patch image of class 1 of the fixture data (bright square at the top right). */
function patchPng(): Uint8Array {
  const data = new Uint8Array(28 * 28).fill(10);
  for (let r = 2; r < 10; r++) for (let c = 18; c < 26; c++) data[r * 28 + c] = 230;
  return encodePng({ width: 28, height: 28, channels: 1, data });
}

function decodeDataUri(uri: unknown): { width: number; height: number } {
  assert.equal(typeof uri, 'string');
  assert.match(uri as string, /^data:image\/png;base64,/);
  return decodeImage(Buffer.from((uri as string).slice('data:image/png;base64,'.length), 'base64'));
}

before(async () => {
  setProgressOutput(null);
  // The tiny run: its models land in `cache` (outside the runs folder, listed as @cache/...).
  await runTinyExperiment(join(runs, 'tiny'), cache, join(root, 'data'));
  writeSyntheticRun(join(runs, 'nested', 'synthetic'));
  // A classifier checkpoint inside the runs folder too.
  const models = join(cache, 'models');
  const dirs = readdirSync(models);
  const cnn = dirs.find((d) => d.startsWith('cnn-') && !d.includes('.'))!;
  const dae = dirs.find((d) => d.startsWith('dae-') && !d.includes('.'))!;
  cpSync(join(models, cnn), join(runs, 'models', 'tiny-cnn'), { recursive: true });
  classifierId = 'models/tiny-cnn';
  purifierId = `@cache/${dae}`;
  // A run folder outside the runs folder, linked from inside it: neither listed nor served.
  const outside = join(root, 'outside-run');
  writeSyntheticRun(outside, { title: 'Outside' });
  symlinkSync(outside, join(runs, 'escape'));
  // Files linked from inside the runs folder to a secret outside it: a run description and a model's files.
  writeFileSync(join(root, 'secret.txt'), `${SECRET}\n`);
  mkdirSync(join(runs, 'linked-run'));
  symlinkSync(join(root, 'secret.txt'), join(runs, 'linked-run', 'results.json'));
  cpSync(join(models, cnn), join(runs, 'models', 'linked-model'), { recursive: true });
  rmSync(join(runs, 'models', 'linked-model', 'model.json'));
  symlinkSync(join(root, 'secret.txt'), join(runs, 'models', 'linked-model', 'model.json'));
  // The patch data as "mnist" for /api/sample.
  mkdirSync(join(root, 'datasets'), { recursive: true });
  writePatchDataset(join(root, 'datasets', 'mnist'), 200, 4);
  process.env['BASTION_DATA'] = join(root, 'datasets');
  dashboard = await startDashboard({ runsDir: runs, port: 0, modelRoots: [models] });
});

after(async () => {
  await dashboard?.close();
  if (previousData === undefined) delete process.env['BASTION_DATA'];
  else process.env['BASTION_DATA'] = previousData;
  rmSync(root, { recursive: true, force: true });
});

describe('dashboard listings and reports', () => {
  it('binds to 127.0.0.1 by default and lists the runs under the runs folder only', async () => {
    assert.equal(dashboard.host, '127.0.0.1');
    assert.match(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
    const { status, value } = await json('/api/runs');
    assert.equal(status, 200);
    const list = value['runs'] as { id: string; kind: string; smoke: boolean; title: string; report: string; error?: string }[];
    assert.deepEqual(list.filter((r) => !r.error).map((r) => r.id).sort(), ['nested/synthetic', 'tiny']);
    const tiny = list.find((r) => r.id === 'tiny')!;
    assert.equal(tiny.kind, 'experiment');
    assert.equal(tiny.smoke, true);
    assert.equal(tiny.report, '/report/tiny');
  });

  it('serves reports rendered by the report code, with a strict content security policy', async () => {
    const r = await raw('/report/nested/synthetic');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'/);
    assert.ok(r.body.includes('<h1>Synthetic report test</h1>') && r.body.includes('SMOKE RUN'));
    assert.ok(r.body.includes('href="/"'), 'a link back to the run list');
    const page = await raw('/');
    assert.equal(page.status, 200);
    assert.ok(page.body.includes('href="/report/tiny"') && page.body.includes('Tiny dashboard run'));
    assert.ok(page.body.includes('SMOKE RUN'));
  });

  it('lists classifiers and purifiers from the runs folder and the model cache', async () => {
    const { value } = await json('/api/models');
    const models = value['models'] as { id: string; kind: string; architecture: string }[];
    const ids = models.map((m) => `${m.id}:${m.kind}`);
    assert.ok(ids.includes(`${classifierId}:classifier`), ids.join(' '));
    assert.ok(ids.includes(`${purifierId}:purifier`), ids.join(' '));
    assert.ok(models.some((m) => m.id.startsWith('@cache/cnn-') && m.architecture === 'kfold-cnn'));
  });

  it('refuses paths that leave the runs folder', async () => {
    for (const path of ['/report/..%2F..%2Fetc', '/report/%2Fetc%2Fpasswd', '/report/escape', '/report/nested%2F..%2F..%2Foutside-run', '/report/a%5C..%5Cb']) {
      const r = await json(path);
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.value)}`);
      assert.match(String(r.value['error']), /refused path/);
    }
    for (const path of ['/report/../../etc/passwd', '/report/nope', '/report/nested']) {
      const r = await raw(path);
      assert.equal(r.status, 404, path);
    }
    const model = await json(`/api/attack?classifier=..%2F..%2Fetc&attack=fgsm&eps=0.1`, { method: 'POST', body: patchPng() });
    assert.equal(model.status, 400);
    const absolute = await json(`/api/attack?classifier=${encodeURIComponent(join(cache, 'models'))}&attack=fgsm&eps=0.1`, { method: 'POST', body: patchPng() });
    assert.equal(absolute.status, 400);
    const cacheEscape = await json(`/api/attack?classifier=%40cache%2F..%2F..%2Fruns%2Fmodels%2Ftiny-cnn&attack=fgsm&eps=0.1`, { method: 'POST', body: patchPng() });
    assert.equal(cacheEscape.status, 400);
  });

  it('answers only requests addressed to the loopback (DNS rebinding guard)', async () => {
    const r = await json('/api/runs', { headers: { Host: 'attacker.example' } });
    assert.equal(r.status, 403);
    assert.match(String(r.value['error']), /Host 'attacker\.example' is not served/);
  });

  it('serves test images of the data sets found', async () => {
    const { value: sets } = await json('/api/datasets');
    assert.ok((sets['datasets'] as { name: string }[]).some((d) => d.name === 'mnist'));
    const { status, value } = await json('/api/sample?data=mnist&index=5');
    assert.equal(status, 200);
    assert.equal(value['label'], 1);
    assert.equal(value['count'], 50);
    const image = decodeDataUri(value['png']);
    assert.equal(image.width, 28);
    assert.equal(image.height, 28);
    assert.equal((await json('/api/sample?data=mnist&index=50')).status, 400);
    assert.equal((await json('/api/sample?data=mnist&index=-1')).status, 400);
    assert.equal((await json('/api/sample?data=not-a-set&index=0')).status, 400);
  });
});

describe('dashboard attack route', () => {
  it('attacks an uploaded PNG through the purifier and returns the pictures and top classes', async () => {
    const { status, value } = await json(`/api/attack?classifier=${encodeURIComponent(classifierId)}&purifier=${encodeURIComponent(purifierId)}&attack=fgsm&eps=0.3&mode=white-box`, {
      method: 'POST', body: patchPng(), headers: { 'Content-Type': 'image/png' },
    });
    assert.equal(status, 200, JSON.stringify(value));
    assert.equal(value['labelSource'], 'the classifier\'s clean prediction');
    for (const key of ['clean', 'adversarial', 'purified', 'purifiedClean']) {
      const v = value[key] as { png: string; top: { index: number; probability: number; name: string }[] };
      const image = decodeDataUri(v.png);
      assert.equal(image.width, 28, key);
      assert.equal(v.top.length, 3, key);
      assert.ok(v.top.every((c, i) => i === 0 || c.probability <= (v.top[i - 1] as { probability: number }).probability), `${key}: sorted`);
      assert.ok(v.top.reduce((a, c) => a + c.probability, 0) <= 1 + 1e-5);
    }
    decodeDataUri((value['perturbation'] as { png: string }).png);
    const adversarial = value['adversarial'] as { linf: number };
    assert.ok(adversarial.linf <= 0.3 + 1e-5 && adversarial.linf > 0.29, `L-inf ${adversarial.linf}`);
    assert.equal((value['clean'] as { top: { index: number }[] }).top[0]!.index, value['label'], 'the label is the clean prediction for uploads');
    const cam = value['gradcam'] as { clean: string; adversarial: string };
    decodeDataUri(cam.clean);
    decodeDataUri(cam.adversarial);
  });

  it('attacks a test image of a data set by number (no body), in each threat model', async () => {
    for (const mode of ['gray-box', 'white-box', 'bpda']) {
      const { status, value } = await json(`/api/attack?classifier=${encodeURIComponent(classifierId)}&purifier=${encodeURIComponent(purifierId)}&attack=pgd&steps=3&eps=0.2&mode=${mode}&data=mnist&index=1`, { method: 'POST' });
      assert.equal(status, 200, JSON.stringify(value));
      assert.equal(value['mode'], mode);
      assert.equal(value['steps'], 3);
    }
  });

  it('refuses uploads that are too large (413), not images (400), or too many pixels (400)', async () => {
    const url = `/api/attack?classifier=${encodeURIComponent(classifierId)}&attack=fgsm&eps=0.1`;
    const big = new Uint8Array(2 * 1024 * 1024 + 1);
    big.set(patchPng());
    const tooLarge = await json(url, { method: 'POST', body: big });
    assert.equal(tooLarge.status, 413);
    assert.match(String(tooLarge.value['error']), /limit is 2097152 bytes/);
    const text = await json(url, { method: 'POST', body: Buffer.from('this is not an image at all') });
    assert.equal(text.status, 400);
    assert.match(String(text.value['error']), /the upload/);
    assert.match(String(text.value['hint']), /PNG or JPEG/);
    const huge = encodePng({ width: 2100, height: 2100, channels: 1, data: new Uint8Array(2100 * 2100) });
    assert.ok(huge.length < 2 * 1024 * 1024, 'the file itself is small');
    const pixels = await json(url, { method: 'POST', body: huge });
    assert.equal(pixels.status, 400);
    assert.match(String(pixels.value['error']), /exceeds the limit of 4000000 pixels/);
  });

  it('says what is wrong with the parameters', async () => {
    const base = `/api/attack?classifier=${encodeURIComponent(classifierId)}`;
    const cases: [string, number, RegExp][] = [
      [`${base}&attack=fgsm&eps=2`, 400, /eps must be a number in \[0, 1\]/],
      [`${base}&attack=nope&eps=0.1`, 400, /unknown attack 'nope'/],
      [`${base}&attack=fgsm&eps=0.1&mode=sideways`, 400, /mode must be one of/],
      [`${base}&attack=pgd&eps=0.1&steps=0`, 400, /steps must be an integer/],
      [`/api/attack?classifier=models%2Fnope&attack=fgsm&eps=0.1`, 404, /no model 'models\/nope'/],
      [`/api/attack?classifier=${encodeURIComponent(purifierId)}&attack=fgsm&eps=0.1`, 400, /is a purifier/],
      [`/api/attack?attack=fgsm&eps=0.1`, 400, /missing classifier/],
    ];
    for (const [path, code, message] of cases) {
      const r = await json(path, { method: 'POST', body: patchPng() });
      assert.equal(r.status, code, `${path}: ${JSON.stringify(r.value)}`);
      assert.match(String(r.value['error']), message);
    }
    const noImage = await json(`${base}&attack=fgsm&eps=0.1`, { method: 'POST' });
    assert.equal(noImage.status, 400);
    assert.match(String(noImage.value['error']), /no image/);
    assert.equal((await json(`${base}&attack=fgsm&eps=0.1`)).status, 405, 'GET is not an attack');
  });
});

describe('dashboard refusals (issue #27)', () => {
  const url = (): string => `/api/attack?classifier=${encodeURIComponent(classifierId)}&attack=fgsm&eps=0.1&data=mnist&index=1`;

  it('refuses cross-site attack requests: a foreign Origin, Sec-Fetch-Site, or a simple request without the dashboard header', async () => {
    const evil = await json(url(), { method: 'POST', plain: true, body: Buffer.from('x'), headers: { Origin: 'http://evil.example', 'Content-Type': 'text/plain' } });
    assert.equal(evil.status, 403, JSON.stringify(evil.value));
    assert.match(String(evil.value['error']), /Origin 'http:\/\/evil\.example' is not this dashboard/);
    const evilWithHeader = await json(url(), { method: 'POST', headers: { Origin: 'http://evil.example' } });
    assert.equal(evilWithHeader.status, 403);
    const fetchSite = await json(url(), { method: 'POST', headers: { 'Sec-Fetch-Site': 'cross-site' } });
    assert.equal(fetchSite.status, 403);
    assert.match(String(fetchSite.value['error']), /Sec-Fetch-Site is 'cross-site'/);
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      const simple = await json(url(), { method: 'POST', plain: true, body: Buffer.from('a=b'), headers: { 'Content-Type': type } });
      assert.equal(simple.status, 403, type);
      assert.match(String(simple.value['error']), /X-Bastion-Request/);
    }
    const bare = await json(url(), { method: 'POST', plain: true });
    assert.equal(bare.status, 403, 'no body, no type, no header: a form could send it');
    // The dashboard's own requests pass: same Origin with the header, or an image's own type without it.
    const own = await json(url(), { method: 'POST', headers: { Origin: `http://127.0.0.1:${dashboard.port}`, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(own.status, 200, JSON.stringify(own.value));
    const png = await json(`/api/attack?classifier=${encodeURIComponent(classifierId)}&attack=fgsm&eps=0.1`, { method: 'POST', plain: true, body: patchPng(), headers: { 'Content-Type': 'image/png' } });
    assert.equal(png.status, 200, JSON.stringify(png.value));
    const preflight = await raw('/api/attack', { method: 'OPTIONS', headers: { Origin: 'http://evil.example', 'Access-Control-Request-Method': 'POST' } });
    assert.equal(preflight.headers['access-control-allow-origin'], undefined, 'no CORS grant');
  });

  it('does not follow file links out of the runs folder and never quotes file content in errors', async () => {
    const runsList = await raw('/api/runs');
    assert.ok(!runsList.body.includes(SECRET), runsList.body);
    const linked = (JSON.parse(runsList.body) as { runs: { id: string; error?: string }[] }).runs.find((r) => r.id === 'linked-run');
    assert.match(String(linked?.error), /refused path 'results\.json': leads outside its folder/);
    const report = await raw('/report/linked-run');
    assert.equal(report.status, 400);
    assert.ok(!report.body.includes(SECRET), report.body);
    const models = await raw('/api/models');
    assert.ok(!models.body.includes('linked-model'), 'a model with a linked-out file is not listed');
    const attack = await raw('/api/attack?classifier=models%2Flinked-model&attack=fgsm&eps=0.1', { method: 'POST', body: patchPng() });
    assert.equal(attack.status, 400, attack.body);
    assert.match(attack.body, /model\.json.*leads outside its folder/);
    assert.ok(!attack.body.includes(SECRET), attack.body);
  });

  it('answers uploads far over the limit with 413, not a connection reset', async () => {
    for (const size of [17 * 1024 * 1024, 40 * 1024 * 1024]) {
      const r = await json(`/api/attack?classifier=${encodeURIComponent(classifierId)}&attack=fgsm&eps=0.1`, { method: 'POST', body: new Uint8Array(size) });
      assert.equal(r.status, 413, `${size} bytes`);
      assert.match(String(r.value['error']), new RegExp(`the upload is ${size} bytes; the limit is 2097152 bytes`));
    }
  });
});
