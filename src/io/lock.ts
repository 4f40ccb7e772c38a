/**
 * Advisory lock files, so that several processes sharing a folder (two `bastion reproduce` runs
 * sharing the model cache) never do the same work into the same place at once.
 *
 * A lock is a file created exclusively (`O_EXCL`) holding the owner's pid, host name and start
 * time. A lock whose owner is gone — same host, pid no longer running — is stale and is taken
 * over; a lock held from another host cannot be checked and is waited for (the message names the
 * file to delete if that run is known to be dead).
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';

/** Who holds a lock (the lock file's content). */
export interface LockOwner {
  pid: number;
  host: string;
  since: string;
}

/** Options of {@link acquireLock}. */
export interface AcquireLockOptions {
  /** Called once when the lock is held by another live process and this call starts waiting. */
  onWait?: (owner: LockOwner | null, path: string) => void;
  /** Poll interval while waiting (default 5 s). */
  pollMs?: number;
}

function readOwner(path: string): LockOwner | null {
  try {
    const owner = JSON.parse(readFileSync(path, 'utf8')) as Partial<LockOwner>;
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? { pid: owner.pid, host: owner.host, since: String(owner.since ?? '') } : null;
  } catch {
    return null; // being written, or removed meanwhile
  }
}

function alive(owner: LockOwner): boolean {
  if (owner.host !== hostname()) return true; // cannot tell: assume it runs
  try {
    process.kill(owner.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function takeLock(path: string, me: LockOwner): (() => void) | null {
  try {
    const fd = openSync(path, 'wx');
    try {
      writeSync(fd, JSON.stringify(me));
    } finally {
      closeSync(fd);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return null;
  }
  const release = (): void => {
    process.removeListener('exit', release);
    const owner = readOwner(path);
    if (owner !== null && owner.pid === me.pid && owner.host === me.host) rmSync(path, { force: true });
  };
  process.once('exit', release); // also released when the process exits without calling it (Ctrl-C)
  return release;
}

/** Age of a file in milliseconds (Infinity when it is gone). */
function ageMs(path: string): number {
  try {
    return Date.now() - statSync(path).mtimeMs;
  } catch {
    return Infinity;
  }
}

/**
 * Takes the lock file `path` without waiting: returns the function that releases it, or the
 * owner (null when its content cannot be read) of a lock another live process holds. Stale locks
 * (their process has ended, or unreadable and older than 10 s) are taken over.
 */
export function tryAcquireLock(path: string): { release: () => void } | { owner: LockOwner | null } {
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    const release = takeLock(path, me);
    if (release !== null) return { release };
    const owner = readOwner(path);
    if ((owner !== null && !alive(owner)) || (owner === null && ageMs(path) > 10_000)) {
      rmSync(path, { force: true }); // stale: its process is gone
      continue;
    }
    if (owner !== null) return { owner };
  }
  return { owner: readOwner(path) };
}

/**
 * Takes the lock file `path`, waiting while another live process holds it; returns the function
 * that releases it. Stale locks (their process has ended) are taken over.
 */
export async function acquireLock(path: string, options: AcquireLockOptions = {}): Promise<() => void> {
  const me: LockOwner = { pid: process.pid, host: hostname(), since: new Date().toISOString() };
  let announced = false;
  for (;;) {
    const release = takeLock(path, me);
    if (release !== null) return release;
    const owner = readOwner(path);
    if (owner !== null && !alive(owner)) {
      rmSync(path, { force: true }); // stale: its process is gone
      continue;
    }
    if (!announced) {
      options.onWait?.(owner, path);
      announced = true;
    }
    await sleep(options.pollMs ?? 5000);
  }
}
