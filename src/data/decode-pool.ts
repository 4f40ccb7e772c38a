/**
 * A small pool of worker threads that decode image files (see decode-worker.ts). Workers start
 * on first use and hold the process open only while they have work, so a forgotten pool never
 * keeps Node alive; `close()` ends them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DataError } from '../util/errors.js';
import type { ImageSpec } from './image-decode.js';

interface Pending {
  resolve: (data: Uint8Array) => void;
  reject: (error: Error) => void;
  path: string;
}

interface QueuedTask {
  id: number;
  path: string;
  spec: ImageSpec;
  pending: Pending;
}

interface Slot {
  worker: Worker;
  inFlight: Map<number, Pending>;
}

/** Default number of decode workers: every core, at most 4. */
export function defaultDecodeWorkers(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

/** Decodes image files in parallel worker threads. */
export class DecodePool {
  readonly size: number;
  #slots: Slot[] = [];
  #queue: QueuedTask[] = [];
  #nextId = 0;
  #closed = false;
  /** Tasks handed to a worker at once (two hide the message round trip). */
  static readonly depth = 2;

  constructor(size = defaultDecodeWorkers()) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`DecodePool: size must be a positive integer, got ${size}`);
    this.size = size;
  }

  /** Reads and decodes one file to `spec`; resolves to planar CHW bytes, rejects with a DataError naming the file. */
  decode(path: string, spec: ImageSpec): Promise<Uint8Array> {
    if (this.#closed) return Promise.reject(new Error('DecodePool: already closed'));
    return new Promise<Uint8Array>((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, path, spec, pending: { resolve, reject, path } });
      this.#pump();
    });
  }

  /** Ends every worker; pending work is rejected. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new Error('DecodePool closed');
    for (const task of this.#queue) task.pending.reject(error);
    this.#queue = [];
    const slots = this.#slots;
    this.#slots = [];
    await Promise.all(slots.map(async (slot) => {
      for (const p of slot.inFlight.values()) p.reject(error);
      slot.inFlight.clear();
      await slot.worker.terminate();
    }));
  }

  #pump(): void {
    while (this.#queue.length > 0) {
      let slot: Slot | undefined;
      for (const s of this.#slots) if (slot === undefined || s.inFlight.size < slot.inFlight.size) slot = s;
      if ((slot === undefined || slot.inFlight.size > 0) && this.#slots.length < this.size) slot = this.#spawn();
      if (slot === undefined || slot.inFlight.size >= DecodePool.depth) return;
      const task = this.#queue.shift() as QueuedTask;
      if (slot.inFlight.size === 0) slot.worker.ref();
      slot.inFlight.set(task.id, task.pending);
      slot.worker.postMessage({ id: task.id, path: task.path, spec: task.spec });
    }
  }

  #spawn(): Slot {
    const worker = new Worker(new URL('./decode-worker.js', import.meta.url));
    const slot: Slot = { worker, inFlight: new Map() };
    worker.unref();
    worker.on('message', (message: { id: number; data?: Uint8Array; error?: { file: string; problem: string; hint?: string } }) => {
      const pending = slot.inFlight.get(message.id);
      if (pending === undefined) return;
      slot.inFlight.delete(message.id);
      if (slot.inFlight.size === 0) worker.unref();
      if (message.error !== undefined) pending.reject(new DataError(message.error.file, message.error.problem, message.error.hint));
      else pending.resolve(message.data as Uint8Array);
      this.#pump();
    });
    worker.on('error', (error) => this.#fail(slot, error));
    worker.on('exit', (code) => {
      if (slot.inFlight.size > 0) this.#fail(slot, new Error(`image decode worker exited with code ${code}`));
    });
    this.#slots.push(slot);
    return slot;
  }

  #fail(slot: Slot, error: Error): void {
    this.#slots = this.#slots.filter((s) => s !== slot);
    for (const p of slot.inFlight.values()) p.reject(new DataError(p.path, `image decoding failed: ${error.message}`));
    slot.inFlight.clear();
    void slot.worker.terminate();
    this.#pump();
  }
}
