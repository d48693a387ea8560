import { isLongrunError } from '@longrun/core';

/** Documented exit codes of the `longrun` command. */
export const exitCodes = {
  ok: 0,
  /** The work failed (a session failed, a check did not pass). */
  failed: 1,
  /** The command line was wrong: unknown command or flag, missing argument. */
  usage: 2,
  /** The store could not be opened or reached. */
  storeUnavailable: 3,
  /** Agents run commands and no isolating sandbox works here (`longrun doctor` says why). */
  sandboxUnavailable: 4,
  /** The session was cancelled. */
  cancelled: 5,
  /** Interrupted by Ctrl-C; durable state is intact and the same command resumes. */
  interrupted: 130,
} as const;

export function exitCodeFor(error: unknown): number {
  if (isLongrunError(error)) {
    if (error.code === 'INVALID_ARGUMENT' || error.code === 'STORE_URL_INVALID')
      return exitCodes.usage;
    if (
      error.code === 'STORE_UNAVAILABLE' ||
      error.code === 'SCHEMA_TOO_NEW' ||
      error.code === 'DURABILITY_UNSAFE'
    ) {
      return exitCodes.storeUnavailable;
    }
    if (error.code === 'SANDBOX_UNAVAILABLE') return exitCodes.sandboxUnavailable;
  }
  return exitCodes.failed;
}
