/**
 * Output folders, prepared before any work starts: every command that writes (`train`, `attack`,
 * `eval`, `reproduce`, ...) calls {@link prepareOutput} first, so a bad `--out` fails in a second
 * instead of after an epoch or an attack, and two runs never write into one place at once.
 *
 * Checks, in order: the path is not a file (or, for a file output, not a folder); the folder
 * and its files are writable (owner write bit and access(2): a `chmod -w` folder is refused even
 * for root, whose writes would otherwise go through); the nearest existing parent is writable (the
 * folder is created or replaced through it); the folder holds only files the command writes
 * there (anything else is someone else's and would be lost or mixed up). Then the lock
 * `<out>.lock` beside it is taken: a second run into the same place fails at once naming the
 * holder's pid; a lock whose process has ended is stale and taken over.
 */
import { accessSync, constants as fsConstants, existsSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { BastionError } from '../util/errors.js';
import { tryAcquireLock } from './lock.js';

/** Options of {@link prepareOutput}. */
export interface PrepareOutputOptions {
  /** How the user named it in messages (default '--out'). */
  option?: string;
  /** 'folder' (default) or 'file' (a single result file such as eval-aad's JSON). */
  kind?: 'folder' | 'file';
  /**
   * Folder outputs: the entries the command writes there (names, or patterns); anything else
   * there is foreign and refused. Hidden names (temporary files) are always allowed.
   * Default: no check.
   */
  owns?: readonly (string | RegExp)[];
  /** Create the folder now (default true; checkpoint folders are created by their atomic swap). */
  create?: boolean;
}

/** A prepared, locked output: call `release()` when the command ends (also released at process exit). */
export interface PreparedOutput {
  /** The absolute path. */
  readonly path: string;
  /** True when the folder (or file) existed before. */
  readonly existed: boolean;
  release(): void;
}

/** True when `path` (stat'ed as `stats`) may be written: owner write bit set and access(2) agrees. */
function writable(path: string, stats: Stats): boolean {
  if ((stats.mode & 0o200) === 0) return false;
  try {
    accessSync(path, fsConstants.W_OK);
    return true;
  } catch {
    return false;
  }
}

function statOrNull(path: string): Stats | null {
  try {
    return statSync(path);
  } catch {
    return null;
  }
}

function owned(name: string, owns: readonly (string | RegExp)[]): boolean {
  return name.startsWith('.') || owns.some((o) => (typeof o === 'string' ? o === name : o.test(name)));
}

/** The nearest existing ancestor of `path`, checked to be a writable folder. */
function checkParent(path: string, option: string, given: string): void {
  let parent = dirname(path);
  while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
  const stats = statOrNull(parent);
  if (stats === null || !stats.isDirectory()) throw new BastionError(`${option} ${given}: ${parent} is not a folder`, { hint: `choose another ${option}` });
  if (!writable(parent, stats)) {
    throw new BastionError(`${option} ${given}: cannot write in ${parent} (read-only)`, { hint: `make it writable (chmod u+w ${parent}) or choose another ${option}` });
  }
}

/**
 * Checks and locks the output `out` before the work starts (see the file comment); throws a
 * {@link BastionError} saying what is wrong and what to do. The caller releases it when done.
 */
export function prepareOutput(out: string, options: PrepareOutputOptions = {}): PreparedOutput {
  const option = options.option ?? '--out';
  const kind = options.kind ?? 'folder';
  const path = resolve(out);
  const stats = statOrNull(path);
  if (stats !== null) {
    if (kind === 'folder' && !stats.isDirectory()) throw new BastionError(`${option} ${out} is a file, not a folder`, { hint: `give a folder path (it is created), or remove ${out}` });
    if (kind === 'file' && stats.isDirectory()) throw new BastionError(`${option} ${out} is a folder, not a file`, { hint: `give a file path such as ${join(out, 'result.json')}` });
    if (!writable(path, stats)) throw new BastionError(`${option} ${out} is read-only`, { hint: `make it writable (chmod -R u+w ${out}) or choose another ${option}` });
    if (kind === 'folder') {
      const names = readdirSync(path);
      for (const name of names) {
        const entry = statOrNull(join(path, name));
        if (entry !== null && entry.isFile() && !writable(join(path, name), entry)) {
          throw new BastionError(`${option} ${out}: ${name} is read-only`, { hint: `make it writable (chmod -R u+w ${out}) or choose another ${option}` });
        }
      }
      if (options.owns !== undefined) {
        const foreign = names.filter((name) => !owned(name, options.owns ?? []));
        if (foreign.length > 0) {
          throw new BastionError(`${option} ${out} holds files this command does not write (${foreign.slice(0, 5).join(', ')}${foreign.length > 5 ? ', ...' : ''})`, {
            hint: `choose an empty or new ${option} folder; these would be mixed up with the results or lost`,
          });
        }
      }
    }
  }
  checkParent(path, option, out);
  mkdirSync(dirname(path), { recursive: true }); // the lock lives beside the output
  const lockFile = join(dirname(path), `${basename(path)}.lock`);
  const lock = tryAcquireLock(lockFile);
  if ('owner' in lock) {
    const who = lock.owner === null ? 'another process' : `another bastion run (pid ${lock.owner.pid}${lock.owner.host ? ` on ${lock.owner.host}` : ''}, since ${lock.owner.since})`;
    throw new BastionError(`${option} ${out} is in use by ${who}`, {
      hint: `wait for it to finish or choose another ${option}; if no such run is alive, delete ${lockFile}`,
    });
  }
  try {
    if (kind === 'folder' && stats === null && (options.create ?? true)) mkdirSync(path, { recursive: true });
    if (kind === 'file') mkdirSync(dirname(path), { recursive: true });
  } catch (error) {
    lock.release();
    throw new BastionError(`${option} ${out}: cannot create it (${(error as Error).message})`, { hint: `choose another ${option}` });
  }
  return { path, existed: stats !== null, release: lock.release };
}

/** Runs `work` with `out` prepared and locked (see {@link prepareOutput}), releasing the lock afterwards. */
export async function withOutput<T>(out: string, options: PrepareOutputOptions, work: (prepared: PreparedOutput) => Promise<T>): Promise<T> {
  const prepared = prepareOutput(out, options);
  try {
    return await work(prepared);
  } finally {
    prepared.release();
  }
}

/**
 * The output file name of each input file (`name(file)`, e.g. `cat.png` -> `cat-gradcam.png`),
 * refusing two inputs that would write the same output (one would overwrite the other).
 */
export function distinctOutputNames(files: readonly string[], name: (file: string) => string): string[] {
  const seen = new Map<string, string>();
  return files.map((file) => {
    const output = name(file);
    const earlier = seen.get(output);
    if (earlier !== undefined) {
      throw new BastionError(`${earlier} and ${file} would both be written as ${output}`, { hint: 'rename one of them, or run the command once per folder with its own --out', exitCode: 2 });
    }
    seen.set(output, file);
    return output;
  });
}
