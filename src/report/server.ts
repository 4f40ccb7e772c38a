/**
 * The local dashboard behind `bastion serve` (node:http only): lists the runs under a runs folder
 * and shows their HTML reports (rendered by src/report/html.ts, the same code as `bastion report`),
 * and serves an interactive playground where a test image, an uploaded PNG/JPEG or a drawn digit is
 * attacked live on a chosen classifier (optionally behind a purifier).
 *
 * Safety: binds to 127.0.0.1 unless told otherwise; on a loopback address only requests whose Host
 * header names the loopback are served (DNS-rebinding guard); every path taken from a request (run
 * ids, model ids) is resolved strictly inside its root folder (src/report/safe-path.ts); uploads are
 * size-limited (a larger body is read to its end and answered 413) and decoded with a pixel limit;
 * bad input gets a 4xx JSON error saying what to fix. State-changing requests (the attack POST) are
 * refused unless they come from the dashboard's own origin with its X-Bastion-Request header (or an
 * image content type), so a page on another site cannot make a visitor's browser run attacks. Model
 * work runs on worker threads (src/report/attack-pool.ts): the event loop serving pages never waits
 * on an attack; the queue in front of the workers and each attack's running time are bounded.
 *
 * JSON API (all responses are JSON except the pages and /api/sample's PNG-in-JSON):
 *
 *   GET  /api/runs                        runs: [{ id, kind, title, smoke, createdAt, wallSeconds, report }]
 *   GET  /api/models                      classifiers and purifiers found: [{ id, architecture, classNames, inputShape, data, ... }]
 *   GET  /api/datasets                    data sets found on this machine: [{ name, title }]
 *   GET  /api/attacks                     attacks usable in the playground: [{ name, summary, iterative }]
 *   GET  /api/sample?data=NAME&index=N    a test image: { png (data: URI), label, className, count }
 *   POST /api/attack?classifier=ID[&purifier=ID]&attack=NAME&eps=X[&mode=gray-box|white-box|bpda][&steps=N]
 *                   [&data=NAME&index=N][&invert=1]
 *        body: the image (PNG or JPEG bytes, at most 2 MB), or empty with data+index; from this
 *        origin only, with the X-Bastion-Request header or the image's Content-Type (not a form type)
 *        -> 503 + Retry-After when too many attacks wait, 504 when one runs past the time limit
 *        -> { label, labelSource, clean, adversarial, perturbation, purified, purifiedClean, gradcam, seconds }
 *   GET  /report/<run id>                 the run's HTML report
 *   GET  /  and  /play                    the pages
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync } from 'node:fs';
import { readdir, realpath } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { BastionError, DataError, describeError } from '../util/errors.js';
import { scope } from '../tensor/index.js';
import { tensorToImage, tensorToPng } from '../io/image-tensor.js';
import { readCheckpointMeta, type CheckpointMeta } from '../io/checkpoint.js';
import { architecture, IMPORTED_ARCHITECTURE } from '../models/registry.js';
import { attacks as attackRegistry } from '../attacks/registry.js';
import { CATALOG, describeSearch, loadDataset, type Dataset } from '../data/index.js';
import { modelCacheDir } from '../eval/experiment.js';
import { findRunFile, loadRun, renderReport, summarizeRun, type RunSummary } from './html.js';
import { assertLinksInside, isInside, resolveInside, UnsafePathError } from './safe-path.js';
import { AttackPool, PoolError } from './attack-pool.js';
import type { AttackJob } from './attack-worker.js';
import { dashboardPage, playgroundPage, PLAYGROUND_SCRIPT, DASHBOARD_CSS, REQUEST_HEADER } from './dashboard-page.js';

export { toModelInput } from './attack-worker.js';

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** The runs folder: runs (results.json / summary.json / eval.json folders) and model checkpoints are found under it. */
  runsDir: string;
  /** TCP port (0 = any free port; default 8080). */
  port?: number;
  /** Address to bind (default 127.0.0.1, loopback only). */
  host?: string;
  /** More folders to search for model checkpoints (default: the model cache, $BASTION_CACHE_DIR/models or runs/cache/models). */
  modelRoots?: string[];
  /** Largest accepted upload in bytes (default 2 MB). */
  maxUploadBytes?: number;
  /** Largest accepted decoded image in pixels (default 4 megapixels). */
  maxPixels?: number;
  /** Receives one line per request and per model load. */
  log?: (line: string) => void;
  /** Worker threads that run attacks (default 1); the HTTP event loop never runs model work. */
  workers?: number;
  /** Attacks allowed to wait for a worker; more are refused with 503 and Retry-After (default 16). */
  maxQueuedAttacks?: number;
  /** Time limit of one attack once a worker runs it, in milliseconds; past it the answer is 504 and the worker is replaced (default 60 000). */
  attackTimeoutMs?: number;
  /** Loaded models kept per worker; the least recently used are disposed first (default 4). */
  maxLoadedModels?: number;
}

/** A running dashboard. */
export interface Dashboard {
  /** e.g. http://127.0.0.1:8080/ */
  url: string;
  host: string;
  port: number;
  /** Stops accepting requests, waits for open ones, frees the cached models and data sets. */
  close(): Promise<void>;
}

/** An error with an HTTP status, sent as `{ error, hint? }`. */
export class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly hint?: string) {
    super(message);
    this.name = 'HttpError';
  }
}

/** A listed run folder. */
export interface RunEntry extends Partial<RunSummary> {
  /** The folder relative to the runs folder (POSIX separators). */
  id: string;
  /** URL of its report on the dashboard. */
  report: string;
  /** Why its results could not be read, if they could not. */
  error?: string;
}

/** A listed model checkpoint. */
export interface ModelEntry {
  /** Relative to the runs folder, or `@cache/<dir>` for checkpoints in a model cache outside it. */
  id: string;
  kind: 'classifier' | 'purifier';
  architecture: string;
  classNames: string[] | null;
  inputShape: number[] | null;
  /** The data set it was trained on (training record), or for an imported model the one it was checked on, if recorded. */
  data: string | null;
  /** Clean test accuracy (classifiers) from the training record, if recorded. */
  testAccuracy: number | null;
}

/** One class with its probability. */
export interface ClassScore {
  index: number;
  name: string;
  probability: number;
}

/** A picture and the verdict on it. */
export interface Verdict {
  /** data:image/png;base64,... at the model's input size. */
  png: string;
  top: ClassScore[];
}

const DEFAULT_UPLOAD = 2 * 1024 * 1024;
const DEFAULT_PIXELS = 4_000_000;
const MAX_SCAN_DEPTH = 6;
const MAX_SCAN_ENTRIES = 50_000;
const PLAYGROUND_MODES = ['gray-box', 'white-box', 'bpda'] as const;
const CACHE_PREFIX = '@cache/';

function dataUri(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

/** Folders under `root` (depth-limited, symbolic links not followed), skipping training work folders. */
async function walk(root: string, visit: (dir: string, names: Set<string>) => boolean | void): Promise<void> {
  let seen = 0;
  const go = async (dir: string, depth: number): Promise<void> => {
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      return;
    }
    seen += entries.length;
    const names = new Set(entries.filter((e) => e.isFile()).map((e) => e.name));
    if (visit(dir, names) === true) return;
    if (depth >= MAX_SCAN_DEPTH || seen > MAX_SCAN_ENTRIES) return;
    for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
      if (!e.isDirectory() || e.name.startsWith('.') || e.name === 'node_modules' || /\.(work|previous|staging)$/.test(e.name) || e.name.includes('.staging')) continue;
      await go(join(dir, e.name), depth + 1);
    }
  };
  await go(root, 0);
}

function posix(path: string): string {
  return path.split(sep).join('/');
}

/**
 * Reads a request body up to `limit` bytes. A larger body is read to its end and thrown away (the
 * server's request timeout bounds how long that may take), then refused with 413: cutting the
 * connection instead would leave the client with a reset and no reason.
 */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  return new Promise((resolveBody, reject) => {
    let chunks: Buffer[] = [];
    let total = 0;
    let tooLarge = Number.isFinite(declared) && declared > limit;
    req.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (total > limit) tooLarge = true;
      if (tooLarge) chunks = [];
      else chunks.push(chunk);
    });
    req.on('end', () => {
      if (tooLarge) reject(new HttpError(413, `the upload is ${Number.isFinite(declared) ? declared : total} bytes; the limit is ${limit} bytes`, 'send a smaller PNG or JPEG'));
      else resolveBody(Buffer.concat(chunks));
    });
    req.on('error', reject);
  });
}

/** Starts the dashboard (see the module comment). */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const runsDir = resolve(options.runsDir);
  if (!existsSync(runsDir)) throw new BastionError(`the runs folder ${runsDir} does not exist`, { hint: 'create it, or point --runs at the folder holding your runs', exitCode: 2 });
  const realRuns = await realpath(runsDir);
  const host = options.host ?? '127.0.0.1';
  const maxUpload = options.maxUploadBytes ?? DEFAULT_UPLOAD;
  const maxPixels = options.maxPixels ?? DEFAULT_PIXELS;
  const log = options.log ?? (() => undefined);
  // Model roots: the runs folder, and the model cache when it lies outside it.
  const extraRoots: string[] = [];
  for (const r of options.modelRoots ?? [modelCacheDir()]) {
    if (!existsSync(r)) continue;
    const real = await realpath(r);
    if (!isInside(realRuns, real)) extraRoots.push(real);
  }
  const cacheRoot = extraRoots[0] ?? null;
  const pool = new AttackPool({
    log,
    ...(options.workers !== undefined ? { workers: options.workers } : {}),
    ...(options.maxQueuedAttacks !== undefined ? { maxQueue: options.maxQueuedAttacks } : {}),
    ...(options.attackTimeoutMs !== undefined ? { timeoutMs: options.attackTimeoutMs } : {}),
    ...(options.maxLoadedModels !== undefined ? { maxModels: options.maxLoadedModels } : {}),
  });
  const datasets = new Map<string, Promise<Dataset>>();

  const listRuns = async (): Promise<RunEntry[]> => {
    const dirs: string[] = [];
    await walk(realRuns, (dir) => {
      if (findRunFile(dir)) {
        dirs.push(dir);
        return true;
      }
      return undefined;
    });
    const entries = await Promise.all(dirs.map(async (dir): Promise<RunEntry> => {
      const id = posix(relative(realRuns, dir)) || '.';
      const report = `/report/${id === '.' ? '' : id.split('/').map(encodeURIComponent).join('/')}`;
      try {
        return { id, report, ...summarizeRun(await loadRun(dir)) };
      } catch (error) {
        return { id, report, error: describeError(error) };
      }
    }));
    return entries.sort((a, b) => (b.createdAt ?? '').localeCompare(a.createdAt ?? '') || a.id.localeCompare(b.id));
  };

  const listModels = async (): Promise<ModelEntry[]> => {
    const found: { id: string; dir: string; root: string }[] = [];
    const scan = async (root: string, prefix: string): Promise<void> => {
      await walk(root, (dir, names) => {
        if (names.has('model.json') && names.has('model.safetensors')) {
          found.push({ id: prefix + (posix(relative(root, dir)) || '.'), dir, root });
          return true;
        }
        return undefined;
      });
    };
    await scan(realRuns, '');
    if (cacheRoot) await scan(cacheRoot, CACHE_PREFIX);
    const out: ModelEntry[] = [];
    for (const { id, dir, root } of found) {
      let meta: CheckpointMeta;
      try {
        await assertLinksInside(root, dir);
        meta = await readCheckpointMeta(dir);
      } catch {
        continue;
      }
      let kind: 'classifier' | 'purifier';
      try {
        // Imported models (`bastion import --out`) are classifiers outside the zoo.
        kind = meta.architecture === IMPORTED_ARCHITECTURE ? 'classifier' : architecture(meta.architecture).kind;
      } catch {
        continue;
      }
      const training = meta.training ?? {};
      // An imported model records the data set its clean accuracy was measured on, not one it was trained on.
      const data = training['data'] ?? training['evaluatedOn'];
      out.push({
        id, kind, architecture: meta.architecture, classNames: meta.classNames ?? null, inputShape: meta.inputShape ?? null,
        data: typeof data === 'string' ? data : null,
        testAccuracy: typeof training['testAccuracy'] === 'number' ? training['testAccuracy'] as number : null,
      });
    }
    return out;
  };

  /** The checkpoint folder of a model id, inside its root (400 for unsafe ids, 404 when absent). */
  const modelDir = async (id: string): Promise<string> => {
    const [root, rel] = id.startsWith(CACHE_PREFIX) ? [cacheRoot, id.slice(CACHE_PREFIX.length)] : [realRuns, id];
    if (root === null) throw new HttpError(404, `no model '${id}': there is no model cache outside the runs folder`);
    const dir = await resolveInside(root, rel);
    if (dir === null || !existsSync(join(dir, 'model.json'))) throw new HttpError(404, `no model '${id}'`, 'see GET /api/models for the models found');
    // Every file the worker reads from the folder must lie inside the root too (no link to /etc/...).
    await assertLinksInside(root, dir);
    return dir;
  };

  const availableDatasets = (): { name: string; title: string }[] =>
    CATALOG.filter((entry) => describeSearch(entry).found !== null).map((entry) => ({ name: entry.name, title: entry.title }));

  const getDataset = async (name: string): Promise<Dataset> => {
    const entry = CATALOG.find((e) => e.name === name);
    if (!entry) throw new HttpError(400, `unknown data set '${name}'`, `known: ${CATALOG.map((e) => e.name).join(', ')}`);
    if (describeSearch(entry).found === null) throw new HttpError(404, `data set '${name}' is not on this machine`, `see GET /api/datasets; \`bastion data download ${name}\` fetches it`);
    let pending = datasets.get(name);
    if (!pending) {
      pending = loadDataset(name, { split: 'test' });
      datasets.set(name, pending);
      pending.catch(() => datasets.delete(name));
    }
    return pending;
  };

  const sampleIndex = (raw: string | null, dataset: Dataset): number => {
    const index = Number(raw);
    if (raw === null || raw === '' || !Number.isInteger(index) || index < 0 || index >= dataset.length) {
      throw new HttpError(400, `index must be an integer in [0, ${dataset.length}), got ${JSON.stringify(raw)}`);
    }
    return index;
  };

  const playgroundAttacks = attackRegistry
    .filter((a) => a.options.includes('earlyStop') && !a.name.startsWith('a3-') && a.create({}).norms.includes('linf'))
    .map((a) => ({ name: a.name, summary: a.summary, iterative: a.options.includes('steps') }));

  const runAttack = async (url: URL, req: IncomingMessage): Promise<Record<string, unknown>> => {
    const q = url.searchParams;
    const classifierId = q.get('classifier');
    if (!classifierId) throw new HttpError(400, 'missing classifier', 'pass ?classifier=ID (see GET /api/models)');
    const attackName = q.get('attack') ?? 'fgsm';
    if (!playgroundAttacks.some((a) => a.name === attackName)) throw new HttpError(400, `unknown attack '${attackName}'`, `choose one of ${playgroundAttacks.map((a) => a.name).join(', ')}`);
    const eps = Number(q.get('eps') ?? '0.1');
    if (!Number.isFinite(eps) || eps < 0 || eps > 1) throw new HttpError(400, `eps must be a number in [0, 1], got ${JSON.stringify(q.get('eps'))}`);
    const mode = (q.get('mode') ?? 'gray-box') as (typeof PLAYGROUND_MODES)[number];
    if (!PLAYGROUND_MODES.includes(mode)) throw new HttpError(400, `mode must be one of ${PLAYGROUND_MODES.join(', ')}, got '${mode}'`);
    const stepsRaw = q.get('steps');
    const steps = stepsRaw === null || stepsRaw === '' ? null : Number(stepsRaw);
    if (steps !== null && (!Number.isInteger(steps) || steps < 1 || steps > 1000)) throw new HttpError(400, `steps must be an integer in [1, 1000], got ${JSON.stringify(stepsRaw)}`);
    const invert = q.get('invert') === '1' || q.get('invert') === 'true';

    const body = await readBody(req, maxUpload);
    const classifierDir = await modelDir(classifierId);
    const purifierId = q.get('purifier') || null;
    const purifierDir = purifierId ? await modelDir(purifierId) : null;
    let sample: AttackJob['sample'] = null;
    const dataName = q.get('data');
    if (body.length === 0 && dataName) {
      const dataset = await getDataset(dataName);
      const index = sampleIndex(q.get('index'), dataset);
      const item = dataset.get(index);
      try {
        sample = { image: tensorToImage(item.image), label: item.label, className: dataset.classNames[item.label] };
      } finally {
        item.image.dispose();
      }
    } else if (body.length === 0) {
      throw new HttpError(400, 'no image', 'send a PNG or JPEG as the request body, or pass data=NAME&index=N');
    }
    // The model work runs on a worker thread; this event loop stays free for every other request.
    return pool.run({
      classifierId, classifierDir, purifierId, purifierDir, attack: attackName, eps, mode, steps, invert,
      upload: body.length > 0 ? new Uint8Array(body.buffer, body.byteOffset, body.length) : null, sample, maxPixels,
    });
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const get = method === 'GET' || method === 'HEAD';
    if (path === '/' || path === '/index.html') {
      if (!get) throw new HttpError(405, `${method} is not allowed here`);
      return sendHtml(res, dashboardPage(await listRuns(), await listModels()), PAGE_CSP);
    }
    if (path === '/play') {
      if (!get) throw new HttpError(405, `${method} is not allowed here`);
      return sendHtml(res, playgroundPage(), PAGE_CSP);
    }
    if (path === '/assets/play.js') return send(res, 200, 'text/javascript; charset=utf-8', PLAYGROUND_SCRIPT);
    if (path === '/assets/style.css') return send(res, 200, 'text/css; charset=utf-8', DASHBOARD_CSS);
    if (path === '/report' || path.startsWith('/report/')) {
      if (!get) throw new HttpError(405, `${method} is not allowed here`);
      const raw = path.slice('/report/'.length).replace(/\/+$/, '');
      let id: string;
      try {
        id = raw.split('/').map(decodeURIComponent).join('/');
      } catch {
        throw new HttpError(400, 'the run id is not valid URL encoding');
      }
      let dir: string | null;
      if (id === '' || id === '.') dir = realRuns;
      else dir = await resolveInside(realRuns, id);
      if (dir === null || !findRunFile(dir)) throw new HttpError(404, `no run '${id}'`, 'see GET /api/runs');
      return sendHtml(res, await renderReport(dir, { backLink: { href: '/', label: 'all runs' } }), REPORT_CSP);
    }
    if (path.startsWith('/api/')) {
      if (path === '/api/attack') {
        if (method !== 'POST') throw new HttpError(405, 'use POST with the image as the body (or data=NAME&index=N)');
        const refusal = crossSiteRefusal(req);
        if (refusal) throw new HttpError(403, refusal, `the dashboard's own page sends ${REQUEST_HEADER}: 1 from its own origin`);
        return sendJson(res, 200, await runAttack(url, req));
      }
      if (!get) throw new HttpError(405, `${method} is not allowed here`);
      if (path === '/api/runs') return sendJson(res, 200, { runsDir: realRuns, runs: await listRuns() });
      if (path === '/api/models') return sendJson(res, 200, { models: await listModels() });
      if (path === '/api/datasets') return sendJson(res, 200, { datasets: availableDatasets() });
      if (path === '/api/attacks') return sendJson(res, 200, { attacks: playgroundAttacks, modes: PLAYGROUND_MODES });
      if (path === '/api/sample') {
        const name = url.searchParams.get('data');
        if (!name) throw new HttpError(400, 'missing data', 'pass ?data=NAME&index=N (see GET /api/datasets)');
        const dataset = await getDataset(name);
        const index = sampleIndex(url.searchParams.get('index'), dataset);
        const png = scope(() => tensorToPng(dataset.get(index).image));
        const label = dataset.label(index);
        return sendJson(res, 200, { data: name, index, count: dataset.length, label, className: dataset.classNames[label] ?? `class ${label}`, classNames: dataset.classNames, png: dataUri(png) });
      }
    }
    throw new HttpError(404, `no such page: ${path}`, 'the dashboard is at /');
  };

  const loopback = host === '127.0.0.1' || host === 'localhost' || host === '::1';
  const server: Server = createServer((req, res) => {
    const started = performance.now();
    const done = (status: number): void => log(`${req.method} ${req.url} ${status} ${((performance.now() - started) / 1000).toFixed(3)} s`);
    if (loopback && !hostAllowed(req.headers.host, (server.address() as AddressInfo | null)?.port ?? 0)) {
      req.resume();
      sendJson(res, 403, { error: `Host '${req.headers.host ?? ''}' is not served`, hint: 'open the dashboard at 127.0.0.1 or localhost' });
      done(403);
      return;
    }
    handle(req, res).then(() => done(res.statusCode), (error: unknown) => {
      const status = error instanceof HttpError || error instanceof PoolError ? error.status
        : error instanceof UnsafePathError ? 400
          : error instanceof BastionError ? 400 : 500;
      const hint = error instanceof HttpError || error instanceof PoolError ? error.hint : error instanceof BastionError ? error.hint : undefined;
      const message = error instanceof HttpError || error instanceof PoolError ? error.message : describeError(error);
      const headers = error instanceof PoolError ? error.headers : {};
      if (status === 500) log(`error: ${error instanceof Error && error.stack ? error.stack : String(error)}`);
      if (!req.complete) req.resume();
      if (!res.headersSent) sendJson(res, status, { error: message, ...(hint ? { hint } : {}) }, headers);
      else res.end();
      done(status);
    });
  });
  server.requestTimeout = 120_000;
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(error.code === 'EADDRINUSE'
        ? new BastionError(`port ${options.port ?? 8080} on ${host} is in use`, { hint: 'choose another with --port N (0 picks a free one)', exitCode: 2 })
        : error);
    });
    server.listen(options.port ?? 8080, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `http://${shownHost}:${port}/`, host, port,
    async close(): Promise<void> {
      await new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        server.closeIdleConnections();
      });
      await pool.close();
      for (const pending of datasets.values()) await pending.then((d) => d.dispose(), () => undefined);
      datasets.clear();
    },
  };
}

const PAGE_CSP = "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const REPORT_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'";

function hostAllowed(hostHeader: string | undefined, port: number): boolean {
  if (!hostHeader) return false;
  const allowed = ['127.0.0.1', 'localhost', '[::1]'].flatMap((h) => [`${h}:${port}`, ...(port === 80 ? [h] : [])]);
  return allowed.includes(hostHeader.toLowerCase());
}

function send(res: ServerResponse, status: number, type: string, body: string, extra: Record<string, string> = {}): void {
  res.writeHead(status, {
    'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer', ...extra,
  });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}

function sendHtml(res: ServerResponse, html: string, csp: string): void {
  send(res, 200, 'text/html; charset=utf-8', html, { 'Content-Security-Policy': csp, 'X-Frame-Options': 'DENY' });
}

function sendJson(res: ServerResponse, status: number, value: unknown, extra: Record<string, string> = {}): void {
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value), extra);
}

/** Content types a cross-site page may send without a CORS preflight (the Fetch standard's safelist). */
const SIMPLE_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/**
 * Why a state-changing request must be refused as possibly cross-site, or null to serve it: an
 * Origin header must name this server (the Host it was addressed to), Sec-Fetch-Site, when sent,
 * must say same-origin, and the request must carry the dashboard's custom header or a content type
 * outside the CORS safelist, so that a page elsewhere cannot send it without a preflight (which
 * this server never grants).
 */
export function crossSiteRefusal(req: IncomingMessage): string | null {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin !== undefined && (host === undefined || origin.toLowerCase() !== `http://${host.toLowerCase()}`)) {
    return `cross-site request refused: Origin '${origin.slice(0, 200)}' is not this dashboard`;
  }
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin') return `cross-site request refused: Sec-Fetch-Site is '${String(site).slice(0, 50)}'`;
  if (req.headers[REQUEST_HEADER.toLowerCase()] !== undefined) return null;
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === '' || SIMPLE_TYPES.includes(type)) {
    return `request refused: send the ${REQUEST_HEADER} header or the image's own Content-Type (${type === '' ? 'none was sent' : `'${type}' is one any web page can send`})`;
  }
  return null;
}
