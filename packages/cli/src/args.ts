import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

/** Parses flags strictly: an unknown flag or a missing value is a UsageError with the help text. */
export function parseFlags<O extends Options>(argv: string[], options: O, help: string) {
  try {
    return parseArgs({
      args: argv,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n\n${help}`);
  }
}

/**
 * A flag that must be an integer, from `min` (default 0) to `max` (default: any safe integer). A
 * value out of range is a UsageError (exit 2) before anything starts, never a hang later on.
 */
export function intFlag(
  value: string | boolean | undefined,
  name: string,
  fallback: number,
  range: { min?: number; max?: number } = {},
): number {
  if (value === undefined) return fallback;
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = range;
  const n = Number(value);
  const inRange = Number.isSafeInteger(n) && n >= min && n <= max;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !inRange) {
    const expected =
      max === Number.MAX_SAFE_INTEGER
        ? min === 0
          ? 'a non-negative integer'
          : `an integer of at least ${min}`
        : `an integer from ${min} to ${max}`;
    throw new UsageError(`--${name} must be ${expected} (got ${JSON.stringify(value)})`);
  }
  return n;
}

/** A TCP port to listen on: 0 (any free port) to 65535. */
export function portFlag(value: string | boolean | undefined, fallback: number): number {
  return intFlag(value, 'port', fallback, { max: 65_535 });
}

export const defaultStore = './.longrun/longrun.db';

/** The port `dev` and `serve` listen on unless --port says otherwise (a free one if it is taken). */
export const defaultPort = 7070;
