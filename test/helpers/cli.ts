/** Running the built `bastion` CLI from the test suites. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../src/cli/main.js';
import { packageRoot } from '../../src/tensor/native.js';

const run = promisify(execFile);
const bin = join(packageRoot, 'bin', 'bastion.js');

/** What one CLI run printed, and its exit code. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `bastion ARGS...` with `threads` libtorch threads and data sets looked up in `dataDir` first. */
export async function runBastion(args: readonly string[], options: { threads: number; dataDir: string }): Promise<CliRun> {
  const env = { ...process.env, BASTION_THREADS: String(options.threads), BASTION_DATA: options.dataDir };
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { env, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/** Runs `bastion ARGS` in-process, its output captured through main()'s hooks (messages a command writes to process.stderr itself still go there); returns the exit code, the error thrown and the captured stderr. */
export async function runInProcess(args: readonly string[]): Promise<{ code: number; error: unknown; stderr: string }> {
  let error: unknown;
  let stderr = '';
  // The CLI writes through hooks, not process.stdout: the test runner's own report keeps flowing.
  const code = await main(args, packageRoot, {
    onError: (e) => { error = e; },
    stdout: () => undefined,
    stderr: (text) => { stderr += text; },
  });
  return { code, error, stderr };
}
