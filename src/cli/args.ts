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

/** Parses one number, checking bounds. */
export function parseNumber(raw: string, what: string, limits: { min?: number; max?: number; integer?: boolean } = {}): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) throw new UsageError(`${what} expects a number, got '${raw}'`);
  if (limits.integer === true && !Number.isInteger(value)) throw new UsageError(`${what} expects an integer, got '${raw}'`);
  if (limits.min !== undefined && value < limits.min) throw new UsageError(`${what} must be at least ${limits.min}, got ${raw}`);
  if (limits.max !== undefined && value > limits.max) throw new UsageError(`${what} must be at most ${limits.max}, got ${raw}`);
  return value;
}

/** A comma-separated list of numbers, e.g. `--eps 0.05,0.1,0.15`; fractions like 8/255 are accepted. */
export function numberListOption(values: OptionValues, name: string, fallback: readonly number[], limits: { min?: number; max?: number } = {}): number[] {
  const raw = stringOption(values, name);
  if (raw === undefined) return [...fallback];
  return raw.split(',').map((part) => {
    const fraction = /^\s*([0-9.]+)\s*\/\s*([0-9.]+)\s*$/.exec(part);
    const text = fraction ? String(Number(fraction[1]) / Number(fraction[2])) : part;
    return parseNumber(text, `--${name}`, limits);
  });
}

/** A boolean flag. */
export function flag(values: OptionValues, name: string): boolean {
  return values[name] === true;
}
