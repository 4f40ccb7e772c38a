/** Running a fuzz worker (test/data/fuzz-worker.ts, test/reliability/fuzz-worker.ts) under a per-case time limit. */
import { Worker } from 'node:worker_threads';

/** How long one fuzz case may take before the reader counts as hung. */
export const CASE_LIMIT_MS = 5000;

/**
 * Runs the worker at `url` with `workerData`; it posts `{ label }` before each case and
 * `{ finished, problems, cases }` at the end. Rejects naming the case when one takes longer than
 * {@link CASE_LIMIT_MS} or the worker crashes; the worker is terminated either way.
 */
export async function runFuzzWorker(url: URL, workerData: unknown): Promise<{ problems: string[]; cases: number }> {
  const worker = new Worker(url, { workerData });
  try {
    return await new Promise((resolve, reject) => {
      let current = 'start-up';
      let timer = setTimeout(() => undefined, 0);
      const arm = (): void => {
        clearTimeout(timer);
        timer = setTimeout(() => reject(new Error(`reader hung for more than ${CASE_LIMIT_MS} ms on: ${current}`)), CASE_LIMIT_MS);
      };
      arm();
      worker.on('message', (m: { label?: string; finished?: boolean; problems?: string[]; cases?: number }) => {
        if (m.finished) {
          clearTimeout(timer);
          resolve({ problems: m.problems ?? [], cases: m.cases ?? 0 });
          return;
        }
        current = m.label ?? current;
        arm();
      });
      worker.on('error', (error) => {
        clearTimeout(timer);
        reject(new Error(`worker crashed during ${current}: ${error.message}`));
      });
    });
  } finally {
    await worker.terminate();
  }
}
