/**
 * Fuzzing every reader (IDX, CIFAR, PNG, JPEG, tar) with random and truncated bytes: each case
 * must end in a thrown DataError, never a crash, a silent success or a hang. The readers run in a
 * worker thread watched by a per-case time limit.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';

const CASE_LIMIT_MS = 5000;

it('every reader throws a DataError on random and truncated input, within the time limit', async () => {
  const worker = new Worker(new URL('./fuzz-worker.js', import.meta.url), { workerData: { seed: 20240611, casesPerReader: 150 } });
  const result = await new Promise<{ problems: string[]; cases: number }>((resolve, reject) => {
    let current = 'start-up';
    let timer = setTimeout(() => undefined, 0);
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        void worker.terminate();
        reject(new Error(`reader hung for more than ${CASE_LIMIT_MS} ms on: ${current}`));
      }, CASE_LIMIT_MS);
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
  await worker.terminate();
  assert.equal(result.cases, 750);
  assert.deepEqual(result.problems, []);
});
