/**
 * The shape of a `bastion` sub-command. Commands are thin: they parse options, call the library
 * and return a result object; src/cli/main.ts handles --help, --json and errors for all of them.
 */

/** One command-line option. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** Name of the value in --help, e.g. DIR. */
  valueName?: string;
  default?: string | boolean;
  /** Allow the option several times (values collected in an array). */
  multiple?: boolean;
  description: string;
}

/** Parsed option values, keyed by long option name. */
export type OptionValues = Record<string, string | boolean | string[] | undefined>;

/** What a command gets to work with. */
export interface CommandContext {
  values: OptionValues;
  positionals: string[];
  /** True with --json: the result object is printed as the last line of stdout. */
  json: boolean;
  /** Prints a line of human-readable output to stdout. */
  print(line: string): void;
  /**
   * Aborted at the first Ctrl-C (SIGINT): long commands stop between batches, save what is
   * finished and throw a BastionError (exit code 130) saying what was kept and how to go on.
   */
  signal?: AbortSignal;
}

/** What {@link Command.output} declares. */
export interface CommandOutput {
  /** The option's long name, e.g. 'out'. */
  option: string;
  /** A folder (default) or a single file. */
  kind?: 'folder' | 'file';
  /** Entries the command writes into the folder; anything else there is refused. Default: not checked. */
  owns?: readonly (string | RegExp)[];
  /** Create the folder before run() (default true; false for folders replaced as a whole). */
  create?: boolean;
  /** The path used when the option is not given (default: none, then nothing is prepared). */
  fallback?: (values: OptionValues, positionals: string[]) => string | undefined;
}

/** A `bastion` sub-command. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Usage line(s) after `bastion `. */
  usage: string;
  /** Longer help text (paragraphs). */
  description?: string;
  options: Record<string, OptionSpec>;
  /** Allow positional arguments (described in usage). */
  allowPositionals?: boolean;
  examples?: string[];
  /**
   * The output option this command writes to (e.g. --out): when given, src/cli/main.ts checks and
   * locks it before run() and releases it afterwards (src/io/output-dir.ts), so a bad or busy
   * output fails before any data is loaded.
   */
  output?: CommandOutput;
  /**
   * What the first Ctrl-C does. 'stop': the command watches CommandContext.signal, stops between
   * batches and saves what finished. A sentence: the command quits at once and the sentence says
   * what is kept (e.g. reproduce's finished evaluations). Absent: it quits at once, keeping nothing.
   */
  onInterrupt?: 'stop' | string;
  /** Does the work; the returned object is what --json prints. */
  run(context: CommandContext): Promise<Record<string, unknown>>;
}
