/**
 * Downloading and verifying data sets. A download goes to `<dest>.part` beside its destination,
 * resumes from there with an HTTP Range request after an interruption, is checked against the
 * published checksums, and only then is moved into place atomically; a file that fails its
 * checksum is deleted and the next mirror is tried. Nothing unverified ever appears under the
 * final name.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync, statSync } from 'node:fs';
import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { moveIntoPlace } from '../io/atomic.js';
import { DataError } from '../util/errors.js';
import { Progress } from '../util/progress.js';
import { catalogEntry, CATALOG, type CatalogEntry, type CatalogFile } from './catalog.js';
import { describeSearch, downloadRoot, locateDataset, missingHint, type LocateOptions } from './locate.js';
import { findIdxFile, isGzip } from './readers.js';

/** MD5 and SHA-256 of a file (of its decompressed content with `gunzip`), and its size. */
export async function hashFile(path: string, options: { gunzip?: boolean } = {}): Promise<{ md5: string; sha256: string; bytes: number }> {
  const md5 = createHash('md5');
  const sha256 = createHash('sha256');
  let bytes = 0;
  const source = createReadStream(path);
  const sink = async function* (chunks: AsyncIterable<Buffer>): AsyncGenerator<never> {
    for await (const chunk of chunks) {
      md5.update(chunk);
      sha256.update(chunk);
      bytes += chunk.length;
    }
  };
  if (options.gunzip === true) await pipeline(source, createGunzip(), sink);
  else await pipeline(source, sink);
  return { md5: md5.digest('hex'), sha256: sha256.digest('hex'), bytes };
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Attempts per URL for transient failures (default 3). */
  retries?: number;
  /** Delay before the first retry, doubled each time (default 1000 ms). */
  retryDelayMs?: number;
  /** Give up on a connection that sends nothing for this long (default 30,000 ms). */
  idleTimeoutMs?: number;
  /** Resume a `.part` file left by an interrupted download (default true). */
  resume?: boolean;
  /** Show a progress bar (default true). */
  progress?: boolean;
  /** Receives one line per notable event (retries, mirror switches). */
  log?: (line: string) => void;
}

/** What {@link downloadFile} did. */
export interface DownloadResult {
  path: string;
  url: string;
  bytes: number;
  md5: string;
  sha256: string;
  /** Bytes that came from an earlier, interrupted download. */
  resumedBytes: number;
}

class PermanentFailure extends Error {}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function hashExisting(path: string, md5: Hash, sha256: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) {
    md5.update(chunk as Buffer);
    sha256.update(chunk as Buffer);
  }
}

/** One attempt: fetch `url` into `part` (resuming when possible), returning the hashes of the whole file. */
async function fetchInto(url: string, part: string, file: CatalogFile, options: DownloadOptions): Promise<Omit<DownloadResult, 'path' | 'url'>> {
  const existing = options.resume !== false && existsSync(part) ? statSync(part).size : 0;
  const controller = new AbortController();
  const idleMs = options.idleTimeoutMs ?? 30_000;
  let timer = setTimeout(() => controller.abort(), idleMs);
  const touch = (): void => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(), idleMs);
  };
  try {
    let response: Response;
    try {
      response = await fetch(url, { signal: controller.signal, headers: existing > 0 ? { Range: `bytes=${existing}-` } : {} });
    } catch (error) {
      throw new Error(controller.signal.aborted ? `no response within ${idleMs / 1000}s` : `cannot connect (${describeFetchError(error)})`);
    }
    let offset = existing;
    if (response.status === 416 && existing > 0) {
      // The part file already holds everything: verify it as is.
      await response.body?.cancel();
    } else if (response.status === 206 && existing > 0) {
      // resume
    } else if (response.status === 200) {
      offset = 0;
    } else {
      await response.body?.cancel();
      const message = `HTTP ${response.status} ${response.statusText}`.trim();
      if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) throw new PermanentFailure(message);
      throw new Error(message);
    }
    const md5 = createHash('md5');
    const sha256 = createHash('sha256');
    if (offset > 0) await hashExisting(part, md5, sha256);
    const lengthHeader = Number(response.headers.get('content-length') ?? NaN);
    const total = file.size ?? (Number.isFinite(lengthHeader) ? offset + lengthHeader : undefined);
    const progress = options.progress === false ? null : new Progress(`download ${file.name}`, total === undefined ? undefined : Math.ceil(total / 1024), 'KiB');
    let bytes = offset;
    const handle = await open(part, offset > 0 ? 'a' : 'w');
    try {
      if (response.status !== 416 && response.body !== null) {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          touch();
          md5.update(chunk);
          sha256.update(chunk);
          let written = 0;
          while (written < chunk.length) written += (await handle.write(chunk, written, chunk.length - written)).bytesWritten;
          bytes += chunk.length;
          progress?.update(Math.floor(bytes / 1024));
        }
      }
      await handle.sync();
    } catch (error) {
      throw new Error(controller.signal.aborted ? `stalled: nothing received for ${idleMs / 1000}s` : `transfer broke off (${describeFetchError(error)})`);
    } finally {
      await handle.close();
      progress?.end();
    }
    return { bytes, md5: md5.digest('hex'), sha256: sha256.digest('hex'), resumedBytes: offset };
  } finally {
    clearTimeout(timer);
  }
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code) return cause.code;
  return error instanceof Error ? error.message : String(error);
}

/** Compares hashes with the checksums a file must have; returns a problem description or null. */
function checksumProblem(file: CatalogFile, got: { md5: string; sha256: string; bytes: number }): string | null {
  if (file.size !== undefined && got.bytes !== file.size) return `size ${got.bytes} bytes, expected ${file.size}`;
  if (file.md5 !== undefined && got.md5 !== file.md5) return `MD5 ${got.md5}, expected ${file.md5}`;
  if (file.sha256 !== undefined && got.sha256 !== file.sha256) return `SHA-256 ${got.sha256}, expected ${file.sha256}`;
  return null;
}

/**
 * Downloads one file to `dest`, trying each URL in turn (with retries for transient failures),
 * resuming partial downloads, verifying the checksums, and moving the verified file into place
 * atomically. A checksum mismatch deletes the download and tries the next URL. Throws a
 * {@link DataError} when no URL gives a good file; `dest` is then left as it was.
 */
export async function downloadFile(file: CatalogFile, dest: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  if (file.urls.length === 0) throw new DataError(dest, 'no download URL is known for this file');
  await mkdir(dirname(dest), { recursive: true });
  const part = `${dest}.part`;
  const retries = options.retries ?? 3;
  const failures: string[] = [];
  for (const url of file.urls) {
    for (let attempt = 1; attempt <= retries; attempt++) {
      try {
        const got = await fetchInto(url, part, file, options);
        const problem = checksumProblem(file, got);
        if (problem !== null) {
          await rm(part, { force: true });
          throw new PermanentFailure(`checksum mismatch: ${problem}`);
        }
        await moveIntoPlace(part, dest);
        return { path: dest, url, ...got };
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const permanent = error instanceof PermanentFailure;
        if (permanent || attempt === retries) {
          failures.push(`${url}: ${message}`);
          options.log?.(`${file.name}: ${url} failed (${message})${file.urls.indexOf(url) < file.urls.length - 1 ? '; trying the next mirror' : ''}`);
          break;
        }
        options.log?.(`${file.name}: ${message}; retrying (${attempt}/${retries - 1})`);
        await sleep((options.retryDelayMs ?? 1000) * 2 ** (attempt - 1));
      }
    }
  }
  const mismatch = failures.some((f) => f.includes('checksum mismatch'));
  throw new DataError(dest, `download failed: ${failures.join('; ')}`,
    mismatch ? 'the server sent different bytes than the published file; try again later or another mirror (nothing was installed)'
      : `check the network, or fetch ${file.urls[0]} by hand into ${dirname(dest)} and run \`bastion data verify\``);
}

/** Options of {@link downloadDataset}. */
export interface DownloadDatasetOptions extends DownloadOptions, LocateOptions {
  /** Download again even when a verified copy is present. */
  force?: boolean;
  /** Base URLs to use instead of the catalog's (each + file name), e.g. a local mirror. */
  mirrors?: readonly string[];
}

/** What {@link downloadDataset} did. */
export interface DownloadDatasetResult {
  name: string;
  dir: string;
  files: { name: string; status: 'downloaded' | 'present'; path: string; md5: string; sha256: string; url?: string }[];
}

/**
 * Downloads a catalog data set into `<data root>/<name>/` (data root: --data-dir, $BASTION_DATA,
 * else the user data folder). Files already there with the right checksum are kept. AFHQ cannot
 * be downloaded (Kaggle login): the error says what to do.
 */
export async function downloadDataset(name: string, options: DownloadDatasetOptions = {}): Promise<DownloadDatasetResult> {
  const entry = catalogEntry(name);
  if (entry === undefined) {
    throw new DataError(name, `unknown data set; downloadable: ${CATALOG.filter((e) => e.files.length > 0).map((e) => e.name).join(', ')}`);
  }
  if (entry.files.length === 0 || entry.files.some((f) => f.urls.length === 0)) {
    throw new DataError(entry.name, 'cannot be downloaded automatically', entry.manual);
  }
  const dir = join(downloadRoot(options), entry.folderNames[0] as string);
  const result: DownloadDatasetResult = { name: entry.name, dir, files: [] };
  for (const catalogFile of entry.files) {
    const file: CatalogFile = options.mirrors ? { ...catalogFile, urls: options.mirrors.map((m) => `${m.replace(/\/?$/, '/')}${catalogFile.name}`) } : catalogFile;
    const dest = join(dir, file.name);
    if (!options.force && existsSync(dest)) {
      const check = await verifyFile(dest, file);
      if (check.status === 'ok') {
        result.files.push({ name: file.name, status: 'present', path: dest, md5: check.md5, sha256: check.sha256 });
        continue;
      }
      options.log?.(`${file.name}: the copy in ${dir} fails verification (${check.detail}); downloading it again`);
    }
    const got = await downloadFile(file, dest, options);
    result.files.push({ name: file.name, status: 'downloaded', path: dest, md5: got.md5, sha256: got.sha256, url: got.url });
  }
  return result;
}

/** The verdict on one file. */
export interface FileCheck {
  file: string;
  status: 'ok' | 'mismatch' | 'missing' | 'unverified';
  md5: string;
  sha256: string;
  /** How it was verified, or what is wrong. */
  detail: string;
}

/**
 * Checks a file against a catalog file's checksums: the published MD5/SHA-256, known-good
 * alternates (e.g. Debian's recompressed copies), or the SHA-256 of the decompressed content
 * (which also accepts an unpacked or recompressed copy).
 */
export async function verifyFile(path: string, file: CatalogFile): Promise<FileCheck> {
  if (!existsSync(path)) return { file: path, status: 'missing', md5: '', sha256: '', detail: 'file not found' };
  const got = await hashFile(path);
  const base = { file: path, md5: got.md5, sha256: got.sha256 };
  const known = file.md5 !== undefined || file.sha256 !== undefined;
  if (known && checksumProblem({ ...file, size: undefined } as CatalogFile, got) === null) {
    return { ...base, status: 'ok', detail: file.md5 !== undefined ? 'published MD5 matches' : 'SHA-256 matches' };
  }
  for (const alt of file.alternates ?? []) {
    if ((alt.md5 === undefined || alt.md5 === got.md5) && (alt.sha256 === undefined || alt.sha256 === got.sha256)) {
      return { ...base, status: 'ok', detail: `matches ${alt.note}` };
    }
  }
  if (file.contentSha256 !== undefined) {
    const head = await readHead(path);
    const content = isGzip(head) ? await hashFile(path, { gunzip: true }).catch(() => null) : got;
    if (content !== null && content.sha256 === file.contentSha256) {
      return { ...base, status: 'ok', detail: isGzip(head) ? 'content matches (recompressed copy)' : 'content matches (uncompressed copy)' };
    }
  }
  if (!known && file.contentSha256 === undefined) return { ...base, status: 'unverified', detail: 'no checksum is known for this file' };
  return { ...base, status: 'mismatch', detail: file.md5 !== undefined ? `MD5 ${got.md5}, expected ${file.md5}` : `SHA-256 ${got.sha256} does not match` };
}

async function readHead(path: string): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(2);
    await handle.read(buffer, 0, 2, 0);
    return buffer;
  } finally {
    await handle.close();
  }
}

/** The result of verifying one data set. */
export interface DatasetCheck {
  name: string;
  path: string;
  via: string;
  ok: boolean;
  files: FileCheck[];
  note?: string;
}

/**
 * Re-checks the checksums of a located data set's files. IDX files are found under any accepted
 * spelling (gzipped or not); image folders and extracted CIFAR batches have no published
 * checksums and are reported as unverified.
 */
export async function verifyDataset(name: string, options: LocateOptions = {}): Promise<DatasetCheck> {
  const location = locateDataset(name, options);
  const entry = location.entry as CatalogEntry | undefined;
  const result: DatasetCheck = { name: location.name, path: location.path, via: location.via, ok: true, files: [] };
  if (entry === undefined || entry.files.length === 0) {
    result.note = 'no published checksums for this data set; its structure was checked when it was located';
    return result;
  }
  if (entry.kind === 'idx') {
    for (const file of entry.files) {
      const path = findIdxFile(location.path, file.name.replace(/\.gz$/, '')) ?? join(location.path, file.name);
      result.files.push(await verifyFile(path, file));
    }
  } else {
    const archive = entry.files[0] as CatalogFile;
    const path = join(location.path, archive.name);
    if (existsSync(path) && (await stat(path)).isFile()) result.files.push(await verifyFile(path, archive));
    else if (location.path.endsWith('.tar.gz')) result.files.push(await verifyFile(location.path, archive));
    else result.note = `no ${archive.name} here (extracted batches have no published checksums)`;
  }
  result.ok = result.files.every((f) => f.status === 'ok' || f.status === 'unverified');
  return result;
}

/** Catalog sets and where each was found (for `bastion data list`). */
export function listDatasets(options: LocateOptions = {}): { entry: CatalogEntry; found: ReturnType<typeof describeSearch>['found']; searched: ReturnType<typeof describeSearch>['searched']; hint: string }[] {
  return CATALOG.map((entry) => ({ entry, ...describeSearch(entry, options), hint: missingHint(entry) }));
}
