/**
 * Resolving relative paths that come from files or requests (example PNGs named in a results file,
 * run and model ids in dashboard URLs) strictly inside a root folder: no absolute paths, no `..`
 * segments, no backslashes or NUL bytes, and no symbolic link that leads out of the root.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, sep } from 'node:path';
import { BastionError } from '../util/errors.js';

/** A relative path that is malformed or would leave its root folder. */
export class UnsafePathError extends BastionError {
  constructor(readonly path: string, reason: string) {
    super(`refused path '${path.length > 200 ? `${path.slice(0, 200)}...` : path}': ${reason}`, { hint: 'give a path relative to the folder, without .. segments' });
    this.name = 'UnsafePathError';
  }
}

/** Throws {@link UnsafePathError} unless `path` is a plain relative path (segments, no `..`). */
export function checkRelativePath(path: string): void {
  if (path === '') throw new UnsafePathError(path, 'empty');
  if (path.includes('\0')) throw new UnsafePathError(path, 'contains a NUL byte');
  if (path.includes('\\')) throw new UnsafePathError(path, 'contains a backslash');
  if (isAbsolute(path) || path.startsWith('/')) throw new UnsafePathError(path, 'is absolute');
  if (/^[A-Za-z]:/.test(path)) throw new UnsafePathError(path, 'has a drive letter');
  if (path.split('/').some((segment) => segment === '..')) throw new UnsafePathError(path, 'has a .. segment');
}

/** Whether `inner` (a resolved path) is `root` or inside it. */
export function isInside(root: string, inner: string): boolean {
  const rel = relative(root, inner);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * The real path of `root/path`, or null when it does not exist. Throws {@link UnsafePathError} for
 * malformed paths (see {@link checkRelativePath}) and for paths whose real location (after
 * following symbolic links) is outside the real `root`.
 */
export async function resolveInside(root: string, path: string): Promise<string | null> {
  checkRelativePath(path);
  const realRoot = await realpath(root);
  let real: string;
  try {
    real = await realpath(join(realRoot, path));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return null;
    throw error;
  }
  if (!isInside(realRoot, real)) throw new UnsafePathError(path, 'leads outside its folder (symbolic link)');
  return real;
}

/** Like {@link resolveInside}, but also null unless the path is a regular file. */
export async function resolveFileInside(root: string, path: string): Promise<string | null> {
  const real = await resolveInside(root, path);
  if (real === null) return null;
  return (await stat(real)).isFile() ? real : null;
}

/**
 * Throws {@link UnsafePathError} when an entry of the folder `dir` (inside `root`) is a symbolic
 * link whose real location is outside the real `root` (a model.json linked to /etc/hostname), so
 * that every file later read from the folder by name stays inside the root.
 */
export async function assertLinksInside(root: string, dir: string): Promise<void> {
  const realRoot = await realpath(root);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (!entry.isSymbolicLink()) continue;
    let real: string;
    try {
      real = await realpath(join(dir, entry.name));
    } catch {
      continue; // a dangling link reads as a missing file
    }
    if (!isInside(realRoot, real)) throw new UnsafePathError(entry.name, 'leads outside its folder (symbolic link)');
  }
}
