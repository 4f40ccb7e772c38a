/**
 * Fuzzing every reader (IDX, CIFAR, PNG, JPEG, tar) with random and truncated bytes: each case
 * must end in a thrown DataError, never a crash, a silent success or a hang. The readers run in a
 * worker thread watched by a per-case time limit.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runFuzzWorker } from '../helpers/fuzz.js';

it('every reader throws a DataError on random and truncated input, within the time limit', async () => {
  const result = await runFuzzWorker(new URL('./fuzz-worker.js', import.meta.url), { seed: 20240611, casesPerReader: 150 });
  assert.equal(result.cases, 750);
  assert.deepEqual(result.problems, []);
});
