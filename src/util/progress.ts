/**
 * Progress of long work: a redrawn bar with rate, metrics and ETA on a terminal, plain lines
 * when stderr is not a terminal, and events for other front ends (the web dashboard).
 * Output goes to stderr so that stdout stays free for results and `--json`.
 */

/** What a progress reporter tells its listeners. */
export interface ProgressEvent {
  kind: 'start' | 'update' | 'end' | 'log';
  task: string;
  done: number;
  total: number | undefined;
  unit: string;
  /** Units per second since the start. */
  rate: number;
  /** Seconds since the start. */
  elapsed: number;
  /** Estimated seconds left (undefined without a total). */
  eta: number | undefined;
  metrics: Readonly<Record<string, number>>;
  message?: string;
}

/** Receives progress events. */
export type ProgressListener = (event: ProgressEvent) => void;

interface ProgressSettings {
  stream: NodeJS.WritableStream | null;
  isTTY: boolean;
  listeners: Set<ProgressListener>;
  /** Seconds between plain (non-TTY) lines. */
  plainInterval: number;
}

const settings: ProgressSettings = {
  stream: process.stderr,
  isTTY: Boolean(process.stderr.isTTY),
  listeners: new Set(),
  plainInterval: 10,
};

/** Routes progress output: `null` silences the text (events still reach listeners). */
export function setProgressOutput(stream: NodeJS.WritableStream | null, options: { isTTY?: boolean; plainInterval?: number } = {}): void {
  settings.stream = stream;
  settings.isTTY = options.isTTY ?? Boolean((stream as { isTTY?: boolean } | null)?.isTTY);
  if (options.plainInterval !== undefined) settings.plainInterval = options.plainInterval;
}

/** Subscribes to every progress event of the process; returns an unsubscribe function. */
export function onProgress(listener: ProgressListener): () => void {
  settings.listeners.add(listener);
  return () => settings.listeners.delete(listener);
}

/** Formats seconds as m:ss or h:mm:ss. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${String(r).padStart(2, '0')}` : `${m}:${String(r).padStart(2, '0')}`;
}

function formatNumber(value: number): string {
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e5)) return value.toExponential(2);
  return value.toFixed(abs < 1 ? 4 : 2);
}

function formatRate(rate: number, unit: string): string {
  return rate >= 100 ? `${Math.round(rate).toLocaleString('en-US')} ${unit}/s` : `${rate.toFixed(1)} ${unit}/s`;
}

/** Reports the progress of one task (an epoch, a download, an attack sweep). */
export class Progress {
  readonly #task: string;
  readonly #total: number | undefined;
  readonly #unit: string;
  readonly #start = performance.now();
  #done: number;
  readonly #initial: number;
  #metrics: Record<string, number> = {};
  #lastDraw = 0;
  #lastPlain: number;
  #ended = false;

  /** `initial`: units already done before this start (e.g. a resumed epoch); they count towards the total, not the rate. */
  constructor(task: string, total?: number, unit = 'it', initial = 0) {
    this.#task = task;
    this.#done = initial;
    this.#initial = initial;
    this.#total = total;
    this.#unit = unit;
    this.#lastPlain = this.#start;
    this.#emit('start');
  }

  /** Adds `n` finished units, with optional metrics (e.g. `{ loss: 0.31 }`) to display. */
  tick(n = 1, metrics?: Record<string, number>): void {
    this.update(this.#done + n, metrics);
  }

  /** Sets the number of finished units. */
  update(done: number, metrics?: Record<string, number>): void {
    this.#done = done;
    if (metrics) this.#metrics = { ...this.#metrics, ...metrics };
    const now = performance.now();
    if (now - this.#lastDraw < 100 && done !== this.#total) return;
    this.#lastDraw = now;
    this.#emit('update');
    this.#render(now);
  }

  /** Prints a line above the bar (and sends it to listeners). */
  log(message: string): void {
    this.#emit('log', message);
    const stream = settings.stream;
    if (stream === null) return;
    stream.write(settings.isTTY ? `\r\x1b[2K${message}\n` : `${message}\n`);
    if (settings.isTTY) this.#render(performance.now(), true);
  }

  /** Finishes the task and prints its summary line. */
  end(metrics?: Record<string, number>): void {
    if (this.#ended) return;
    this.#ended = true;
    if (metrics) this.#metrics = { ...this.#metrics, ...metrics };
    this.#emit('end');
    const stream = settings.stream;
    if (stream === null) return;
    const line = this.#line(performance.now(), false);
    stream.write(settings.isTTY ? `\r\x1b[2K${line}\n` : `${line}\n`);
  }

  #event(kind: ProgressEvent['kind'], message?: string): ProgressEvent {
    const elapsed = (performance.now() - this.#start) / 1000;
    const rate = elapsed > 0 ? (this.#done - this.#initial) / elapsed : 0;
    const eta = this.#total !== undefined && rate > 0 ? (this.#total - this.#done) / rate : undefined;
    return {
      kind, task: this.#task, done: this.#done, total: this.#total, unit: this.#unit, rate, elapsed, eta,
      metrics: { ...this.#metrics }, ...(message === undefined ? {} : { message }),
    };
  }

  #emit(kind: ProgressEvent['kind'], message?: string): void {
    if (settings.listeners.size === 0) return;
    const event = this.#event(kind, message);
    for (const listener of settings.listeners) listener(event);
  }

  #line(now: number, withBar: boolean): string {
    const e = this.#event('update');
    const parts = [this.#task];
    if (this.#total !== undefined && this.#total > 0) {
      const fraction = Math.min(1, this.#done / this.#total);
      if (withBar) {
        const width = 24;
        const filled = Math.round(fraction * width);
        parts.push(`[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`);
      }
      parts.push(`${(fraction * 100).toFixed(0).padStart(3)}%`, `${this.#done}/${this.#total}`);
    } else {
      parts.push(`${this.#done} ${this.#unit}`);
    }
    parts.push(formatRate(e.rate, this.#unit));
    for (const [k, v] of Object.entries(this.#metrics)) parts.push(`${k} ${formatNumber(v)}`);
    if (this.#ended || (this.#total !== undefined && this.#done >= this.#total)) parts.push(`in ${formatDuration(e.elapsed)}`);
    else if (e.eta !== undefined) parts.push(`ETA ${formatDuration(e.eta)}`);
    void now;
    return parts.join('  ');
  }

  #render(now: number, force = false): void {
    const stream = settings.stream;
    if (stream === null || this.#ended) return;
    if (settings.isTTY) {
      stream.write(`\r\x1b[2K${this.#line(now, true)}`);
      return;
    }
    if (force || now - this.#lastPlain >= settings.plainInterval * 1000) {
      this.#lastPlain = now;
      stream.write(`${this.#line(now, false)}\n`);
    }
  }
}
