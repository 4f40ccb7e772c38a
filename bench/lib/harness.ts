/**
 * Side-by-side benchmarks against PyTorch on the same machine, in one run.
 *
 * The PyTorch side runs in a persistent `/usr/bin/python3` worker (Debian's python3-torch) that
 * executes the same workload. The two sides alternate short timed segments, round after round,
 * so that slow drifts of a shared machine hit both equally; each side's figure is the median
 * over rounds, and the ratio is the median of the per-round ratios. Both sides use the same
 * number of threads.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface, type Interface } from 'node:readline';
import { median } from '../../src/eval/stats.js';
import { loadDataset } from '../../src/data/index.js';
import { scope, tensor, type Tensor } from '../../src/tensor/index.js';

export { median };

/** A workload on the Bastion side: `setup` once, then `run(n)` performs n units of work. */
export interface BastionCase {
  setup(): void;
  run(units: number): void;
  teardown?(): void;
}

/** A persistent Python worker speaking one JSON line per request and reply. */
export class PythonWorker {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: Interface;
  readonly #pending: ((line: string) => void)[] = [];
  #stderr = '';

  private constructor(script: string, threads: number) {
    // The worker inherits this process's environment, OpenMP wait policy included (Bastion sets
    // one when its addon loads), so both sides run under the same OpenMP settings.
    this.#child = spawn('/usr/bin/python3', ['-u', script], { env: { ...process.env, OMP_NUM_THREADS: String(threads) } });
    this.#lines = createInterface({ input: this.#child.stdout });
    this.#lines.on('line', (line) => this.#pending.shift()?.(line));
    this.#child.stderr.on('data', (d: Buffer) => {
      this.#stderr += d.toString();
    });
  }

  /** Starts `script` and checks that it imports torch; resolves to null if python3/torch is missing. */
  static async start(script: string, threads: number): Promise<{ worker: PythonWorker; torch: string } | null> {
    const worker = new PythonWorker(script, threads);
    try {
      const hello = (await worker.request({ cmd: 'hello', threads })) as { torch: string; threads: number };
      return { worker, torch: hello.torch };
    } catch (error) {
      worker.close();
      process.stderr.write(`PyTorch side unavailable: ${(error as Error).message}\n`);
      return null;
    }
  }

  /** Sends one request and waits for its JSON reply. */
  request(message: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const onExit = (): void => reject(new Error(`python worker exited: ${this.#stderr.trim().split('\n').slice(-3).join(' | ')}`));
      this.#child.once('exit', onExit);
      this.#pending.push((line) => {
        this.#child.off('exit', onExit);
        const reply = JSON.parse(line) as Record<string, unknown>;
        if (typeof reply['error'] === 'string') reject(new Error(`python: ${reply['error']}`));
        else resolve(reply);
      });
      this.#child.stdin.write(`${JSON.stringify(message)}\n`);
    });
  }

  close(): void {
    this.#child.stdin.end();
    this.#child.kill();
  }
}

/** One benchmarked workload with its PyTorch counterparts. */
export interface Comparison {
  name: string;
  /** What one unit is (e.g. "images"). */
  unit: string;
  /** Units per timed segment. */
  units: number;
  /** Units each side runs once before timing (warm-up). */
  warmup: number;
  bastion: BastionCase;
  /** Python case names (the worker must know them); the first is the reference for the target. */
  python: { name: string; label: string }[];
  /** Required ratio Bastion / reference PyTorch. */
  target: number;
}

/** Measured figures of one comparison. */
export interface ComparisonResult {
  name: string;
  unit: string;
  bastionRate: number;
  python: { label: string; rate: number; ratio: number }[];
  target: number;
  meetsTarget: boolean;
  rounds: number;
}

function timed(fn: () => void): number {
  const start = performance.now();
  fn();
  return (performance.now() - start) / 1000;
}

/** Runs the comparison for `rounds` alternating rounds and returns rates and ratios. */
export async function compare(worker: PythonWorker | null, c: Comparison, rounds: number): Promise<ComparisonResult> {
  c.bastion.setup();
  for (const p of worker ? c.python : []) await worker!.request({ cmd: 'setup', case: p.name });
  c.bastion.run(c.warmup);
  for (const p of worker ? c.python : []) await worker!.request({ cmd: 'run', case: p.name, units: c.warmup });
  const bastionRates: number[] = [];
  const pythonRates: number[][] = c.python.map(() => []);
  const ratios: number[][] = c.python.map(() => []);
  for (let r = 0; r < rounds; r++) {
    const seconds = timed(() => c.bastion.run(c.units));
    const bastionRate = c.units / seconds;
    bastionRates.push(bastionRate);
    if (worker) {
      for (let i = 0; i < c.python.length; i++) {
        const reply = await worker.request({ cmd: 'run', case: (c.python[i] as { name: string }).name, units: c.units });
        const rate = c.units / (reply['seconds'] as number);
        (pythonRates[i] as number[]).push(rate);
        (ratios[i] as number[]).push(bastionRate / rate);
      }
    }
  }
  c.bastion.teardown?.();
  for (const p of worker ? c.python : []) await worker!.request({ cmd: 'teardown', case: p.name });
  const python = worker
    ? c.python.map((p, i) => ({ label: p.label, rate: median(pythonRates[i] as number[]), ratio: median(ratios[i] as number[]) }))
    : [];
  const reference = python[0];
  return {
    name: c.name, unit: c.unit, bastionRate: median(bastionRates), python, target: c.target,
    meetsTarget: reference !== undefined && reference.ratio >= c.target, rounds,
  };
}

/** Formats results as an aligned table. */
export function formatResults(results: readonly ComparisonResult[]): string {
  const lines: string[] = [];
  for (const r of results) {
    lines.push(`${r.name}`);
    lines.push(`  Bastion                      ${Math.round(r.bastionRate).toString().padStart(8)} ${r.unit}/s`);
    r.python.forEach((p, i) => {
      const mark = i === 0 ? `  (target >= ${r.target.toFixed(2)}x: ${r.meetsTarget ? 'met' : 'NOT met'})` : '';
      lines.push(`  ${p.label.padEnd(28)} ${Math.round(p.rate).toString().padStart(8)} ${r.unit}/s   ratio ${p.ratio.toFixed(2)}x${mark}`);
    });
    if (r.python.length === 0) lines.push('  PyTorch side unavailable: no ratio');
  }
  return lines.join('\n');
}

/** Threads both sides use: BASTION_THREADS or every core. */
export function benchThreads(): number {
  const env = Number(process.env['BASTION_THREADS']);
  return Number.isInteger(env) && env > 0 ? env : availableParallelism();
}

/** The first `n` MNIST test images in [0, 1] and their labels (kept: dispose them); throws when MNIST is not found. */
export async function firstMnistTestImages(n: number): Promise<{ x: Tensor; y: Tensor }> {
  const data = await loadDataset('mnist', { split: 'test' });
  try {
    return scope(() => {
      const index = tensor(Int32Array.from({ length: n }, (_, i) => i), { dtype: 'int64' });
      const mem = data.memory() as { images: Tensor; labels: Tensor };
      return { x: mem.images.indexSelect(0, index).float().div_(255).keep(), y: mem.labels.indexSelect(0, index).keep() };
    });
  } finally {
    data.dispose();
  }
}
