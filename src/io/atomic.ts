/**
 * Atomic file writes: a file either appears complete under its final name or not at all.
 *
 * Every writer puts its bytes in a temporary file in the destination's own folder (so that the
 * final rename(2) never crosses file systems), flushes it to disk with fsync, renames it over the
 * destination and then fsyncs the folder so that the rename itself survives a crash. Readers
 * therefore never see a half-written checkpoint, report, cache or download (DESIGN.md: "nothing
 * is half-written").
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { copyFile, mkdir, open, rename, rm, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Data accepted by the atomic writers: text (UTF-8), bytes, or a sequence of byte chunks. */
export type AtomicData = string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>;

/** Options of the atomic writers. */
export interface AtomicWriteOptions {
  /** File mode of the new file (default 0o644, less the umask). */
  mode?: number;
  /** Create missing parent folders (default true). */
  mkdirs?: boolean;
}

/** A fresh temporary path beside `path` (same folder, hidden, unique), for writers that rename into place. */
export function tempPathBeside(path: string, tag = 'tmp'): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.${tag}`);
}

/** Flushes a folder's entry table to disk (best effort: some file systems refuse to open folders). */
export async function fsyncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, fsConstants.O_RDONLY);
    await handle.sync();
  } catch {
    // Not supported here (e.g. some network or Windows file systems); the rename is still atomic.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function fsyncDirectorySync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, fsConstants.O_RDONLY);
    fsyncSync(fd);
  } catch {
    // see fsyncDirectory
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * A file being written atomically: write chunks, then `commit()` to move it into place, or
 * `abort()` to delete the temporary file. Until commit, the destination is untouched.
 *
 * ```ts
 * const file = await AtomicFile.open('run/checkpoint.safetensors');
 * try { await file.write(header); await file.write(body); await file.commit(); }
 * finally { await file.abort(); } // no-op after commit
 * ```
 */
export class AtomicFile {
  /** The final path. */
  readonly path: string;
  /** The temporary path the bytes go to until commit. */
  readonly tempPath: string;
  #handle: FileHandle | null;
  #bytes = 0;
  #done = false;

  private constructor(path: string, tempPath: string, handle: FileHandle) {
    this.path = path;
    this.tempPath = tempPath;
    this.#handle = handle;
  }

  /** Opens a temporary file beside `path` for writing. */
  static async open(path: string, options: AtomicWriteOptions = {}): Promise<AtomicFile> {
    if (options.mkdirs ?? true) await mkdir(dirname(path), { recursive: true });
    const tempPath = tempPathBeside(path);
    const handle = await open(tempPath, 'wx', options.mode ?? 0o644);
    return new AtomicFile(path, tempPath, handle);
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.#bytes;
  }

  /** Appends bytes (or UTF-8 text). */
  async write(data: Uint8Array | string): Promise<void> {
    const handle = this.#open();
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    let offset = 0;
    while (offset < bytes.length) {
      const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset);
      offset += bytesWritten;
    }
    this.#bytes += bytes.length;
  }

  /** Flushes to disk and renames over the final path (replacing any old file). */
  async commit(): Promise<void> {
    const handle = this.#open();
    try {
      await handle.sync();
    } finally {
      await handle.close();
      this.#handle = null;
    }
    try {
      await rename(this.tempPath, this.path);
    } catch (error) {
      await rm(this.tempPath, { force: true });
      this.#done = true;
      throw error;
    }
    this.#done = true;
    await fsyncDirectory(dirname(this.path));
  }

  /** Closes and deletes the temporary file; the destination is left as it was. No-op after commit. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    if (this.#handle !== null) {
      await this.#handle.close().catch(() => undefined);
      this.#handle = null;
    }
    await rm(this.tempPath, { force: true });
  }

  #open(): FileHandle {
    if (this.#done || this.#handle === null) throw new Error(`AtomicFile ${this.path}: already committed or aborted`);
    return this.#handle;
  }
}

/**
 * Writes `data` to `path` atomically (temporary file, fsync, rename, fsync folder). On any error
 * the temporary file is removed and an existing file at `path` is left untouched.
 */
export async function writeFileAtomic(path: string, data: AtomicData, options: AtomicWriteOptions = {}): Promise<void> {
  const file = await AtomicFile.open(path, options);
  try {
    if (typeof data === 'string' || data instanceof Uint8Array) {
      await file.write(data);
    } else if (Symbol.asyncIterator in data) {
      for await (const chunk of data as AsyncIterable<Uint8Array>) await file.write(chunk);
    } else {
      for (const chunk of data as Iterable<Uint8Array>) await file.write(chunk);
    }
    await file.commit();
  } finally {
    await file.abort();
  }
}

/** Synchronous {@link writeFileAtomic} for small files (configs, JSON results). */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  if (options.mkdirs ?? true) mkdirSync(dirname(path), { recursive: true });
  const tempPath = tempPathBeside(path);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  let fd: number | undefined = openSync(tempPath, 'wx', options.mode ?? 0o644);
  try {
    let offset = 0;
    while (offset < bytes.length) offset += writeSync(fd, bytes, offset, bytes.length - offset);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tempPath, path);
  } catch (error) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tempPath);
    } catch {
      // already gone
    }
    throw error;
  }
  fsyncDirectorySync(dirname(path));
}

/**
 * Moves a finished file (e.g. a verified download) to `dest` atomically: it is fsynced, then
 * renamed into place. When `source` is on another file system, it is first copied to a temporary
 * file beside `dest` (then fsynced and renamed), so `dest` still appears all at once; the source
 * is removed afterwards.
 */
export async function moveIntoPlace(source: string, dest: string, options: { mkdirs?: boolean } = {}): Promise<void> {
  if (options.mkdirs ?? true) await mkdir(dirname(dest), { recursive: true });
  const handle = await open(source, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(source, dest);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    const temp = tempPathBeside(dest);
    try {
      await copyFile(source, temp, fsConstants.COPYFILE_EXCL);
      const copy = await open(temp, 'r+');
      try {
        await copy.sync();
      } finally {
        await copy.close();
      }
      await rename(temp, dest);
    } catch (copyError) {
      await rm(temp, { force: true });
      throw copyError;
    }
    await rm(source, { force: true });
  }
  await fsyncDirectory(dirname(dest));
}
