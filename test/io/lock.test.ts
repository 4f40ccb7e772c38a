/** Advisory lock files: exclusive, waited for while held, taken over when their process is gone. */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { acquireLock, type LockOwner } from '../../src/io/lock.js';

const dir = mkdtempSync(join(tmpdir(), 'bastion-lock-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('acquireLock', () => {
  it('holds the lock exclusively: a second taker waits until the first releases', async () => {
    const path = join(dir, 'a.lock');
    const events: string[] = [];
    const release = await acquireLock(path);
    const owner = JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
    assert.deepEqual([owner.pid, owner.host], [process.pid, hostname()]);
    let waitedFor: LockOwner | null = null;
    const second = acquireLock(path, { pollMs: 10, onWait: (o) => { waitedFor = o; events.push('waiting'); } }).then((r) => { events.push('second'); return r; });
    await new Promise((r) => setTimeout(r, 60));
    events.push('release');
    release();
    const releaseSecond = await second;
    assert.deepEqual(events, ['waiting', 'release', 'second']);
    assert.equal((waitedFor as LockOwner | null)?.pid, process.pid, 'the waiter is told who holds the lock');
    releaseSecond();
    assert.ok(!existsSync(path), 'released locks are removed');
  });

  it('takes over a stale lock whose process has ended', async () => {
    const path = join(dir, 'stale.lock');
    const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(child.stdout);
    writeFileSync(path, JSON.stringify({ pid: deadPid, host: hostname(), since: '2026-01-01T00:00:00.000Z' }));
    let waited = false;
    const release = await acquireLock(path, { pollMs: 10, onWait: () => { waited = true; } });
    assert.equal(waited, false);
    assert.equal((JSON.parse(readFileSync(path, 'utf8')) as LockOwner).pid, process.pid);
    release();
  });
});
