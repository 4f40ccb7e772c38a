/**
 * The reliability fuzz pass of issue #27: every reader (IDX, CIFAR, PNG, JPEG, tar through
 * test/data/fuzz-worker.ts; safetensors, model.json, ONNX, TorchScript and non-regular image files
 * through ./fuzz-worker.ts) and every numeric option of every CLI command. Each case must end in
 * a BastionError (a non-zero exit for the CLI), never a crash, a hang or another exception. Prints
 * the number of cases it tried.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { commands } from '../../src/cli/commands/index.js';
import { BastionError } from '../../src/util/errors.js';
import { runInProcess } from '../helpers/cli.js';
import { CASE_LIMIT_MS, runFuzzWorker } from '../helpers/fuzz.js';

let total = 0;

it('data readers (IDX, CIFAR, PNG, JPEG, tar) throw DataErrors on random and truncated input', async () => {
  const r = await runFuzzWorker(new URL('../data/fuzz-worker.js', import.meta.url), { seed: 27, casesPerReader: 60 });
  total += r.cases;
  assert.deepEqual(r.problems, []);
});

it('safetensors, model.json, ONNX, TorchScript and image-file readers throw BastionErrors', async () => {
  const r = await runFuzzWorker(new URL('./fuzz-worker.js', import.meta.url), { seed: 2027, casesPerReader: 60 });
  total += r.cases;
  assert.deepEqual(r.problems, []);
});

/** Option value names that stand for numbers or lists of numbers. */
const NUMERIC = new Set(['N', 'X', 'K', 'P', 'PX', 'S', 'T', 'W', 'A', 'B', 'C', 'E', 'F', 'L']);
const NUMERIC_NAMES = new Set(['eps', 'bounds', 'step-size', 'iterations', 'cells', 'threads']);
const BAD_VALUES = ['abc', '0x10', '1e-400', '1e400', 'NaN', '1,,2', ''];

it('every numeric option of every command refuses bad values with a Bastion error and a non-zero exit', async () => {
  const problems: string[] = [];
  let cases = 0;
  for (const command of commands) {
    const options = Object.entries(command.options).filter(([name, spec]) => spec.type === 'string' && (NUMERIC.has(spec.valueName ?? '') || NUMERIC_NAMES.has(name)));
    for (const [name] of [...options, ['threads', null] as const]) {
      for (const value of BAD_VALUES) {
        cases++;
        const args = [command.name, ...(command.name === 'serve' ? ['--port', '0'] : []), `--${name}`, value];
        if (command.name === 'serve' && name === 'port') args.splice(1, 2);
        const r = await Promise.race([
          runInProcess(args),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), CASE_LIMIT_MS)),
        ]);
        const label = `bastion ${args.map((a) => (a === '' ? "''" : a)).join(' ')}`;
        if (r === null) problems.push(`${label}: no answer within ${CASE_LIMIT_MS} ms`);
        else if (r.code === 0) problems.push(`${label}: exit 0`);
        else if (r.error !== undefined && !(r.error instanceof BastionError) && !String((r.error as { code?: string }).code).startsWith('ERR_PARSE_ARGS')) {
          problems.push(`${label}: ${(r.error as Error).constructor.name}: ${(r.error as Error).message}`);
        }
      }
    }
  }
  total += cases;
  assert.deepEqual(problems, []);
});

it('reports the case count', () => {
  process.stdout.write(`# reliability fuzz pass: ${total} cases\n`);
  console.log(`reliability fuzz pass: ${total} cases`);
  assert.ok(total > 1000);
});
