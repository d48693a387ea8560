/**
 * Why a private PostgreSQL cluster could not be had or driven. One class with a closed set of
 * codes, so a suite can tell "this machine cannot run the test" (`binaries-missing`,
 * `no-postgres-user`: report the suite as not run, fail under CI) from "the cluster broke"
 * (everything else: a real failure). `retryable` says whether the same call may succeed again.
 */
export const privatePostgresErrorCodes = {
  /** initdb, pg_ctl or postgres is not at the expected path (LONGRUN_PG_BINDIR overrides it). */
  'binaries-missing': { retryable: false },
  /** Running as root and no `postgres` OS user exists to run the server as (initdb refuses root). */
  'no-postgres-user': { retryable: false },
  /** The caller asked for a setting weaker than the durability longrun demands. */
  'unsafe-setting': { retryable: false },
  /** initdb or copying the template data directory failed; `cause` and the message say why. */
  'init-failed': { retryable: false },
  /** The server exited or stayed silent before accepting connections; the message has its log. */
  'start-failed': { retryable: true },
  /** The server did not exit within its bound after being told to stop. */
  'stop-failed': { retryable: true },
  /** The cluster was used after stop(). */
  stopped: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type PrivatePostgresErrorCode = keyof typeof privatePostgresErrorCodes;

export class PrivatePostgresError extends Error {
  override readonly name = 'PrivatePostgresError';
  readonly code: PrivatePostgresErrorCode;
  readonly retryable: boolean;

  constructor(code: PrivatePostgresErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.retryable = privatePostgresErrorCodes[code].retryable;
  }
}

/** True for the codes that mean "this machine cannot run a private cluster", not "it broke". */
export function isMissingPostgres(error: unknown): error is PrivatePostgresError {
  return (
    error instanceof PrivatePostgresError &&
    (error.code === 'binaries-missing' || error.code === 'no-postgres-user')
  );
}
