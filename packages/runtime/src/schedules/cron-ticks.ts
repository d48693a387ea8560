import { Cron } from 'croner';
import { LongrunError } from '@longrun/core';

/**
 * Reading cron expressions (croner: 5 fields, or 6 with seconds first; `@hourly` and the like;
 * `L`, `W`, `#` as croner reads them) in an IANA time zone. Times are epoch milliseconds.
 */

/** The expression compiled, or INVALID_ARGUMENT saying what is wrong with it. */
export function parseCron(cron: string, timezone: string): Cron {
  if (typeof cron !== 'string' || cron.trim().length === 0 || cron.length > 200) {
    throw new LongrunError('INVALID_ARGUMENT', 'cron must be a non-empty cron expression');
  }
  checkTimezone(timezone);
  let compiled: Cron;
  try {
    compiled = new Cron(cron, { timezone, paused: true });
  } catch (error) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `cron ${JSON.stringify(cron)} is not a valid cron expression: ${(error as Error).message}. Use 5 fields (minute hour day month weekday) or 6 with seconds first, e.g. "*/15 * * * *"`,
    );
  }
  if (compiled.nextRun() === null) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `cron ${JSON.stringify(cron)} never fires (no future time matches it)`,
    );
  }
  return compiled;
}

/** INVALID_ARGUMENT unless `timezone` is an IANA zone name this runtime knows. */
export function checkTimezone(timezone: string): string {
  try {
    if (typeof timezone !== 'string' || timezone.length === 0) throw new RangeError('empty');
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return timezone;
  } catch {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `timezone ${JSON.stringify(timezone)} is not an IANA time zone; use e.g. "UTC" or "Europe/Paris"`,
    );
  }
}

/** The first tick strictly after `afterMs`, or null when the expression has none. */
export function nextTickAfter(cron: Cron, afterMs: number): number | null {
  return cron.nextRun(new Date(afterMs))?.getTime() ?? null;
}
