/**
 * The `bastion` command line: dispatches to sub-commands (src/cli/commands), prints help,
 * prints the result object as the last stdout line with --json, and turns errors into a one-line
 * reason and a non-zero exit code.
 */
import { redirectWarnings } from './warn.js';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { BastionError, UsageError, describeError } from '../util/errors.js';
import { setProgressOutput } from '../util/progress.js';
import { parseNumber } from './args.js';
import type { Command, OptionSpec } from './command.js';
import { commands } from './commands/index.js';

const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  help: { type: 'boolean', short: 'h', description: 'show this help' },
  json: { type: 'boolean', description: 'print one machine-readable result object as the last line' },
  quiet: { type: 'boolean', short: 'q', description: 'no progress output' },
  threads: { type: 'string', valueName: 'N', description: 'CPU threads for libtorch (default: all cores)' },
};

function version(root: string): string {
  try {
    return (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Column at which help text wraps. */
const HELP_WIDTH = 100;

/**
 * Splits `text` into lines of at most `width` characters at spaces (a word longer than `width` gets a
 * line of its own); paragraphs separated by newlines stay separate.
 */
export function wrapText(text: string, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(' ').filter((w) => w.length > 0)) {
      if (line.length > 0 && line.length + 1 + word.length > width) {
        lines.push(line);
        line = word;
      } else {
        line = line.length > 0 ? `${line} ${word}` : word;
      }
    }
    lines.push(line);
  }
  return lines;
}

function optionLines(options: Record<string, OptionSpec>): string[] {
  const rows = Object.entries(options).map(([name, spec]) => {
    const left = `${spec.short ? `-${spec.short}, ` : '    '}--${name}${spec.type === 'string' ? ` ${spec.valueName ?? 'VALUE'}` : ''}`;
    const def = spec.default !== undefined && spec.default !== false ? ` (default: ${String(spec.default)})` : '';
    return [left, `${spec.description}${def}`] as const;
  });
  const width = Math.max(...rows.map(([l]) => l.length), 10) + 2;
  const indent = ' '.repeat(2 + width);
  const textWidth = Math.max(HELP_WIDTH - indent.length, 30);
  return rows.flatMap(([l, r]) => {
    const [first = '', ...rest] = wrapText(r, textWidth);
    return [`  ${l.padEnd(width)}${first}`, ...rest.map((line) => `${indent}${line}`)];
  });
}

/** The help text of one command, wrapped at HELP_WIDTH columns (the usage line and examples are kept whole). */
export function commandHelp(command: Command): string {
  const lines = [`Usage: bastion ${command.usage}`, '', ...wrapText(command.summary, HELP_WIDTH)];
  if (command.description) lines.push('', ...wrapText(command.description, HELP_WIDTH));
  lines.push('', 'Options:', ...optionLines(command.options), ...optionLines(GLOBAL_OPTIONS));
  if (command.examples && command.examples.length > 0) lines.push('', 'Examples:', ...command.examples.map((e) => `  ${e}`));
  return lines.join('\n');
}

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length)) + 2;
  return [
    'Usage: bastion <command> [options]',
    '',
    'Attack, defend and evaluate image classifiers against adversarial examples.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}${c.summary}`),
    '',
    'Run `bastion <command> --help` for the options of a command.',
  ].join('\n');
}

/**
 * `--bounds -1,1` as `--bounds=-1,1`: a string option's value that starts with a dash followed by a
 * digit or a dot is a negative number, which parseArgs would otherwise take for an option.
 */
export function joinNegativeValues(args: readonly string[], options: Readonly<Record<string, OptionSpec>>): string[] {
  const shorts = new Map(Object.entries(options).filter(([, s]) => s.short !== undefined).map(([name, s]) => [`-${s.short}`, name]));
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') {
      out.push(...args.slice(i));
      break;
    }
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : shorts.get(arg);
    const next = args[i + 1];
    if (name !== undefined && Object.hasOwn(options, name) && options[name]?.type === 'string' && next !== undefined && /^-[0-9.]/.test(next)) {
      out.push(`--${name}=${next}`);
      i++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** Hooks for tests. */
export interface MainHooks {
  /** Called with whatever a command threw, before it is turned into a message and an exit code. */
  onError?: (error: unknown) => void;
  /** Where the CLI's own output goes (default: process.stdout); in-process callers capture it here. */
  stdout?: (text: string) => void;
  /** Where messages and errors go (default: process.stderr). */
  stderr?: (text: string) => void;
}

/** Runs the CLI with `argv` (without node and script); resolves to the process exit code. */
export async function main(argv: readonly string[], packageRoot: string, hooks: MainHooks = {}): Promise<number> {
  const out = hooks.stdout ?? ((text: string) => void process.stdout.write(text));
  const err = hooks.stderr ?? ((text: string) => void process.stderr.write(text));
  const restoreWarnings = redirectWarnings(err);
  try {
    return await runCommand(argv, packageRoot, hooks, out, err);
  } finally {
    restoreWarnings();
  }
}

/** The body of {@link main}: runs one command with its output going to `out` and `err`. */
async function runCommand(argv: readonly string[], packageRoot: string, hooks: MainHooks, out: (text: string) => void, err: (text: string) => void): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    const target = name === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    out(`${target ? commandHelp(target) : mainHelp()}\n`);
    return 0;
  }
  if (name === '--version' || name === '-v') {
    out(`bastion ${version(packageRoot)}\n`);
    return 0;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    err(`bastion: unknown command '${name}'; run \`bastion --help\` for the list\n`);
    return 2;
  }
  let json = rest.includes('--json');
  // First Ctrl-C: ask the command to stop between batches and save what is finished; second: quit now.
  const interrupt = new AbortController();
  const onSigint = (): void => {
    if (command.onInterrupt !== 'stop') {
      // This command does not stop between batches: quit now, saying what (if anything) is kept.
      err(`\nbastion ${name}: interrupted; ${command.onInterrupt ?? 'nothing of this run is saved (outputs are written only when complete)'}\n`);
      process.exit(130);
    }
    if (interrupt.signal.aborted) {
      err(`\nbastion ${name}: stopped at once; files being written are left as they were\n`);
      process.exit(130);
    }
    err(`\nbastion ${name}: interrupted; saving what is finished (Ctrl-C again to quit at once)\n`);
    interrupt.abort(new BastionError('interrupted (Ctrl-C)', { exitCode: 130 }));
  };
  process.on('SIGINT', onSigint);
  let releaseOutput: (() => void) | undefined;
  try {
    const options = { ...GLOBAL_OPTIONS, ...command.options };
    const parsed = parseArgs({
      args: joinNegativeValues(rest, options),
      tokens: true,
      options: Object.fromEntries(
        Object.entries(options).map(([k, s]) => [k, { type: s.type, ...(s.short ? { short: s.short } : {}), ...(s.multiple ? { multiple: true } : {}) }]),
      ),
      allowPositionals: command.allowPositionals ?? false,
      strict: true,
    });
    const seen = new Set<string>();
    for (const token of parsed.tokens) {
      if (token.kind !== 'option' || (Object.hasOwn(options, token.name) && options[token.name]?.multiple === true)) continue;
      if (seen.has(token.name)) throw new UsageError(`--${token.name} is given more than once`, 'give each option once');
      seen.add(token.name);
    }
    const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
    for (const [k, s] of Object.entries(command.options)) if (values[k] === undefined && s.default !== undefined) values[k] = s.default;
    if (values['help'] === true) {
      out(`${commandHelp(command)}\n`);
      return 0;
    }
    json = values['json'] === true;
    if (values['quiet'] === true) setProgressOutput(null);
    if (typeof values['threads'] === 'string') {
      const { setNumThreads } = await import('../tensor/runtime.js');
      const cores = availableParallelism();
      const n = parseNumber(values['threads'], '--threads', { integer: true, min: 1 });
      if (n > cores) throw new UsageError(`--threads must be at most ${cores} (the CPU cores of this machine), got ${n}`);
      setNumThreads(n);
    }
    const declared = command.output;
    const outPath = declared === undefined ? undefined
      : typeof values[declared.option] === 'string' ? values[declared.option] as string : declared.fallback?.(values, parsed.positionals);
    if (declared !== undefined && outPath !== undefined) {
      const { prepareOutput } = await import('../io/output-dir.js');
      const { option, fallback: _f, ...rest } = declared;
      releaseOutput = prepareOutput(outPath, { ...rest, option: `--${option}` }).release;
    }
    const result = await command.run({
      values,
      positionals: parsed.positionals,
      json,
      print: (line) => out(`${line}\n`),
      signal: interrupt.signal,
    });
    if (json) out(`${JSON.stringify(result)}\n`);
    return 0;
  } catch (error) {
    hooks.onError?.(error);
    const reason = describeError(error).replace(/\s*\n\s*/g, ' ');
    const code = interrupt.signal.aborted ? 130 : error instanceof BastionError ? error.exitCode : (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1;
    err(`bastion ${name}: ${reason}\n`);
    if (process.env['BASTION_DEBUG'] && error instanceof Error && error.stack) err(`${error.stack}\n`);
    if (json) out(`${JSON.stringify({ error: reason, exitCode: code })}\n`);
    return code;
  } finally {
    releaseOutput?.();
    process.removeListener('SIGINT', onSigint);
  }
}
