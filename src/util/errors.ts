/**
 * User-facing errors. A {@link BastionError} carries a one-line reason and, optionally, a hint
 * saying what to do; the CLI prints `bastion: <reason> (<hint>)` and exits non-zero.
 */

/** An error meant for the user: what went wrong, and what to do about it. */
export class BastionError extends Error {
  /** What the user can do about it, e.g. "run `bastion data download mnist`". */
  readonly hint: string | undefined;
  /** Process exit code the CLI uses (1 = failure, 2 = bad usage). */
  readonly exitCode: number;

  constructor(message: string, options: { hint?: string; exitCode?: number; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BastionError';
    this.hint = options.hint;
    this.exitCode = options.exitCode ?? 1;
  }
}

/** Bad command-line usage (exit code 2). */
export class UsageError extends BastionError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: 2, ...(hint === undefined ? {} : { hint }) });
    this.name = 'UsageError';
  }
}

/** Bad or corrupt input data; the message names the file and the problem. */
export class DataError extends BastionError {
  constructor(readonly file: string, problem: string, hint?: string) {
    super(`${file}: ${problem}`, hint === undefined ? {} : { hint });
    this.name = 'DataError';
  }
}

/** One line describing any thrown value, for logs and the CLI. */
export function describeError(error: unknown): string {
  if (error instanceof BastionError) return error.hint ? `${error.message} (${error.hint})` : error.message;
  if (error instanceof Error) return error.message.split('\n')[0] ?? error.message;
  return String(error);
}

/**
 * What is wrong with text that JSON.parse refused, without quoting the text: V8's messages echo
 * the first bytes of the input, and the input may be a file nobody should see (a symbolic link to
 * /etc/hostname). Gives the line and column when the parser reports a position.
 */
export function jsonSyntaxProblem(error: unknown, text: string): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/end of JSON input/i.test(message)) return 'is not valid JSON (it ends too early)';
  const at = /position (\d+)/.exec(message);
  if (at) {
    const offset = Math.min(Number(at[1]), text.length);
    const before = text.slice(0, offset).split('\n');
    return `is not valid JSON (at line ${before.length}, column ${(before[before.length - 1] ?? '').length + 1})`;
  }
  return 'is not valid JSON';
}
