/**
 * Runs the dashboard's model work off the HTTP event loop: a few worker threads
 * (src/report/attack-worker.ts, each with its own engine and model cache), a bounded queue in front
 * of them (a full queue is refused at once with 503 and Retry-After), and a time limit per job that
 * really fires: a job past it is answered 504 and its worker is terminated and replaced, so a
 * runaway attack cannot hold the engine.
 */
import { Worker } from 'node:worker_threads';
import type { AttackJob, WorkerReply, WorkerRequest, WorkerSettings } from './attack-worker.js';

/** An error with an HTTP status and optional hint and extra response headers. */
export class PoolError extends Error {
  constructor(readonly status: number, message: string, readonly hint?: string, readonly headers: Record<string, string> = {}) {
    super(message);
    this.name = 'PoolError';
  }
}

/** Options of {@link AttackPool}. */
export interface AttackPoolOptions {
  /** Worker threads (default 1: libtorch already spreads one attack over the cores). */
  workers?: number;
  /** Jobs allowed to wait for a worker; one more is refused with 503 (default 16). */
  maxQueue?: number;
  /** Time limit of one job once a worker has it, in milliseconds (default 60 000). */
  timeoutMs?: number;
  /** Loaded models each worker keeps (least recently used are disposed first; default 4). */
  maxModels?: number;
  /** Receives the workers' log lines. */
  log?: (line: string) => void;
}

interface Pending {
  id: number;
  job: AttackJob;
  resolve: (result: Record<string, unknown>) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  /** Set once the worker has loaded its modules (the time limit counts from dispatch, not from start-up). */
  ready: boolean;
  job: Pending | null;
  timer: NodeJS.Timeout | null;
}

/** A bounded queue of playground attacks over worker threads (see the module comment). */
export class AttackPool {
  private readonly queue: Pending[] = [];
  private readonly slots: (Slot | null)[];
  private readonly maxQueue: number;
  private readonly timeoutMs: number;
  private readonly settings: WorkerSettings;
  private readonly log: (line: string) => void;
  private nextId = 1;
  private closed = false;

  constructor(options: AttackPoolOptions = {}) {
    this.slots = new Array<Slot | null>(Math.max(1, options.workers ?? 1)).fill(null);
    this.maxQueue = Math.max(0, options.maxQueue ?? 16);
    this.timeoutMs = Math.max(1, options.timeoutMs ?? 60_000);
    this.settings = { bastionAttackWorker: true, maxModels: Math.max(1, options.maxModels ?? 4) };
    this.log = options.log ?? (() => undefined);
  }

  /** Jobs waiting for a worker (not counting running ones). */
  get queued(): number {
    return this.queue.length;
  }

  /** Runs a job on a worker; rejects with {@link PoolError} 503 when the queue is full, 504 past the time limit. */
  run(job: AttackJob): Promise<Record<string, unknown>> {
    if (this.closed) return Promise.reject(new PoolError(503, 'the dashboard is shutting down'));
    const idle = this.slots.findIndex((s) => s === null || s.job === null);
    if (idle < 0 && this.queue.length >= this.maxQueue) {
      return Promise.reject(new PoolError(503, `too many attacks are waiting (${this.queue.length} queued, the limit is ${this.maxQueue})`, 'try again in a few seconds', { 'Retry-After': '5' }));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject });
      this.dispatch();
    });
  }

  /** Terminates the workers; queued and running jobs are refused. */
  async close(): Promise<void> {
    this.closed = true;
    for (const p of this.queue.splice(0)) p.reject(new PoolError(503, 'the dashboard is shutting down'));
    await Promise.all(this.slots.map(async (slot, i) => {
      if (!slot) return;
      this.slots[i] = null;
      if (slot.timer) clearTimeout(slot.timer);
      slot.job?.reject(new PoolError(503, 'the dashboard is shutting down'));
      await slot.worker.terminate();
    }));
  }

  private dispatch(): void {
    for (let i = 0; i < this.slots.length && this.queue.length > 0; i++) {
      const slot = this.slots[i] ?? this.spawn(i);
      if (!slot.ready || slot.job !== null) continue;
      const pending = this.queue.shift()!;
      slot.job = pending;
      slot.timer = setTimeout(() => this.expire(i, slot), this.timeoutMs);
      slot.worker.postMessage({ id: pending.id, job: pending.job } satisfies WorkerRequest);
    }
  }

  private spawn(i: number): Slot {
    const worker = new Worker(new URL('./attack-worker.js', import.meta.url), { workerData: this.settings });
    const slot: Slot = { worker, ready: false, job: null, timer: null };
    this.slots[i] = slot;
    worker.on('message', (message: WorkerReply | { log: string } | { ready: true }) => {
      if ('ready' in message) {
        slot.ready = true;
        this.dispatch();
        return;
      }
      if ('log' in message) {
        this.log(message.log);
        return;
      }
      const pending = slot.job;
      if (!pending || pending.id !== message.id) return;
      this.finish(slot);
      if (message.ok) pending.resolve(message.result);
      else pending.reject(new PoolError(message.status, message.message, message.hint));
      this.dispatch();
    });
    const lost = (why: string): void => {
      if (this.slots[i] !== slot) return;
      this.slots[i] = null;
      const pending = slot.job;
      this.finish(slot);
      this.log(`attack worker ${why}; a new one starts with the next job`);
      pending?.reject(new PoolError(500, `the attack worker ${why}`));
      if (!this.closed) this.dispatch();
    };
    worker.on('error', (error) => lost(`failed: ${error.message}`));
    worker.on('exit', (code) => lost(`exited with code ${code}`));
    return slot;
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.job = null;
  }

  /** The time limit fired: answer 504, terminate the worker (its models go with it) and go on with a new one. */
  private expire(i: number, slot: Slot): void {
    if (this.slots[i] !== slot || !slot.job) return;
    const pending = slot.job;
    this.finish(slot);
    this.slots[i] = null;
    this.log(`attack ${pending.id} ran past ${this.timeoutMs} ms; its worker is terminated`);
    pending.reject(new PoolError(504, `the attack ran past the time limit of ${(this.timeoutMs / 1000).toFixed(1)} s and was stopped`, 'choose fewer steps or a faster attack'));
    void slot.worker.terminate();
    if (!this.closed) this.dispatch();
  }
}
