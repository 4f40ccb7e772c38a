/**
 * Typed access to parsed command-line values, with errors that say which option is wrong and
 * what it expects.
 */
import { UsageError } from '../util/errors.js';
import type { OptionValues } from './command.js';

/** A string option's value, or the fallback (required when fallback is undefined and required is set). */
export function stringOption(values: OptionValues, name: string, fallback?: string): string | undefined {
  const v = values[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'string') throw new UsageError(`--${name} expects a value`);
  return v;
}

/** A string option that must be given. */
export function requiredString(values: OptionValues, name: string, hint?: string): string {
  const v = stringOption(values, name);
  if (v === undefined || v === '') throw new UsageError(`missing --${name}`, hint);
  return v;
}

/** A string option restricted to a set of choices. */
export function choiceOption<T extends string>(values: OptionValues, name: string, choices: readonly T[], fallback: T): T {
  const v = stringOption(values, name, fallback) as string;
  if (!(choices as readonly string[]).includes(v)) {
    throw new UsageError(`--${name} must be one of ${choices.join(', ')}; got '${v}'`);
  }
  return v as T;
}

/** A numeric option with optional bounds and integrality. */
export function numberOption(
  values: OptionValues,
  name: string,
  fallback: number,
  limits: { min?: number; max?: number; integer?: boolean } = {},
): number {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback;
  return parseNumber(raw, `--${name}`, limits);
}

/** A plain decimal number: optional sign, digits with an optional fraction, optional exponent. */
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i;

/**
 * Parses one number, checking bounds. Only plain decimals are numbers (`0x10`, `0b1`, `Infinity`
 * and `1e400` are refused), and a value so small that it becomes 0 (`1e-400`) is an error rather
 * than a silent zero.
 */
export function parseNumber(raw: string, what: string, limits: { min?: number; max?: number; integer?: boolean } = {}): number {
  const text = raw.trim();
  const value = Number(text);
  if (!DECIMAL.test(text) || !Number.isFinite(value)) throw new UsageError(`${what} expects a decimal number, got '${raw}'`);
  if (value === 0 && /[1-9]/.test(text.replace(/e.*$/i, ''))) throw new UsageError(`${what}: '${raw}' is too small to represent (it would become 0)`);
  if (limits.integer === true && !Number.isInteger(value)) throw new UsageError(`${what} expects an integer, got '${raw}'`);
  if (limits.min !== undefined && value < limits.min) throw new UsageError(`${what} must be at least ${limits.min}, got ${raw}`);
  if (limits.max !== undefined && value > limits.max) throw new UsageError(`${what} must be at most ${limits.max}, got ${raw}`);
  return value;
}

/**
 * The items of a comma-separated option value, trimmed. An empty value or an empty item
 * (`--modes ''`, `--eps 0.1,,0.2`) is an error, not an empty or shorter list.
 */
export function splitList(raw: string, what: string): string[] {
  const items = raw.split(',').map((item) => item.trim());
  if (items.some((item) => item === '')) {
    throw new UsageError(raw.trim() === '' ? `${what} expects a comma-separated list, got an empty value` : `${what} has an empty item in '${raw}'`);
  }
  return items;
}

/** A comma-separated list of strings (see {@link splitList}), or the fallback when the option is absent. */
export function listOption(values: OptionValues, name: string, fallback?: readonly string[]): string[] | undefined {
  const raw = stringOption(values, name);
  if (raw === undefined) return fallback === undefined ? undefined : [...fallback];
  return splitList(raw, `--${name}`);
}

/** A comma-separated list of numbers, e.g. `--eps 0.05,0.1,0.15`; fractions like 8/255 are accepted. */
export function numberListOption(values: OptionValues, name: string, fallback: readonly number[], limits: { min?: number; max?: number } = {}): number[] {
  const raw = stringOption(values, name);
  if (raw === undefined) return [...fallback];
  return splitList(raw, `--${name}`).map((part) => {
    const fraction = /^([^/]+)\/([^/]+)$/.exec(part);
    if (!fraction) return parseNumber(part, `--${name}`, limits);
    const numerator = parseNumber(fraction[1] as string, `--${name}`);
    const denominator = parseNumber(fraction[2] as string, `--${name}`);
    if (denominator === 0) throw new UsageError(`--${name}: '${part}' divides by zero`);
    return parseNumber(String(numerator / denominator), `--${name}`, limits);
  });
}

/**
 * A warning for L-inf budgets larger than the pixel range `bounds` (e.g. `--eps 8` meant as 8/255):
 * such a budget lets the attack reach any image. Null when the budgets are plausible.
 */
export function epsilonWarning(epsilons: readonly number[], norm: string, bounds: readonly [number, number] = [0, 1]): string | null {
  const range = bounds[1] - bounds[0];
  const large = epsilons.filter((e) => e > range);
  if (norm !== 'linf' || large.length === 0) return null;
  return `L-inf eps ${large.join(', ')} exceeds the pixel range ${range} (bounds ${bounds[0]},${bounds[1]}): every image is within reach; did you mean ${large[0]}/255?`;
}

/** A boolean flag. */
export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}
