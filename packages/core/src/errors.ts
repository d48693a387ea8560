/**
 * The one error type of longrun. Every failure that crosses a package boundary is a LongrunError
 * with a code from a closed set, a `retryable` flag that tells the caller whether trying the same
 * call again can succeed, and the underlying `cause`. Driver errors are translated once, at the
 * adapter boundary.
 */
export const errorCodes = {
  /** The caller passed something malformed; fix the call. */
  INVALID_ARGUMENT: { retryable: false },
  /** A payload is not plain JSON data (bigint, NaN, cycle, function, too large, too deep). */
  INVALID_PAYLOAD: { retryable: false },
  /** The named session, wait or checkpoint does not exist. */
  NOT_FOUND: { retryable: false },
  /**
   * The named thing existed and can no longer be used: a webhook whose wait expired, or a
   * single-use webhook that was already delivered. Trying again will not help.
   */
  GONE: { retryable: false },
  /** Another append took the expected seq first; re-read the head and decide again. */
  SEQ_CONFLICT: { retryable: false },
  /** The caller's lease epoch is no longer current: another worker owns the session. Stop. */
  LEASE_LOST: { retryable: false },
  /** A store URL that does not parse or names an unsupported scheme. */
  STORE_URL_INVALID: { retryable: false },
  /** The store cannot be reached or the connection dropped before the outcome was known. */
  STORE_UNAVAILABLE: { retryable: true },
  /** The store ran out of disk space; nothing of the failed write was committed. */
  STORAGE_FULL: { retryable: true },
  /** The database was written by a newer longrun; upgrade longrun before opening it. */
  SCHEMA_TOO_NEW: { retryable: false },
  /** The store's durability settings are unsafe and the caller did not opt out by name. */
  DURABILITY_UNSAFE: { retryable: false },
  /** A state transition that the session's current state does not allow. */
  INVALID_STATE: { retryable: false },
  /** The model provider failed transiently (5xx, 429, network); `details.retryAfterMs` if it said when. */
  MODEL_UNAVAILABLE: { retryable: true },
  /** The model provider refused the request (bad key, bad request); retrying the same call will not help. */
  MODEL_REJECTED: { retryable: false },
  /** The model's stream was malformed or cut off before it finished. */
  MODEL_OUTPUT_INVALID: { retryable: true },
  /**
   * The request is longer than the model's context window (the provider said so). The harness
   * compacts the transcript and retries once; give the agent a `context.windowTokens` (or use a
   * model the window table knows) so it compacts before the provider refuses.
   */
  MODEL_CONTEXT_EXCEEDED: { retryable: false },
  /** The same idempotency key was used before with a different request; use a new key. */
  IDEMPOTENCY_CONFLICT: { retryable: false },
  /** No valid API key was presented; pass `Authorization: Bearer lr_…` (see `longrun keys create`). */
  UNAUTHENTICATED: { retryable: false },
  /**
   * The API key is valid but its role does not allow this request (a `viewer` sending a message, an
   * `operator` deciding an approval); the message names the roles that may. Use a key with one.
   */
  PERMISSION_DENIED: { retryable: false },
  /** A sandbox protection that the configuration requires is not enforced on this machine. */
  SANDBOX_UNAVAILABLE: { retryable: false },
  /** A stored workspace blob or manifest is missing or does not match its hash. */
  WORKSPACE_CORRUPT: { retryable: false },
  /** A file path leaves the sandbox's workspace (`..`, an absolute path elsewhere). */
  PATH_OUTSIDE_WORKSPACE: { retryable: false },
  /**
   * A workspace path names, or passes through, a symbolic link, FIFO, socket or device: worker
   * code opens only regular files and directories and never follows a link. Use the real path.
   */
  FILE_TYPE_REFUSED: { retryable: false },
  /** A file is larger than the operation's limit; read a part of it another way (head, tail, grep). */
  FILE_TOO_LARGE: { retryable: false },
  /** The workspace has no room left (its size or file-count cap); delete files or raise the cap. */
  WORKSPACE_FULL: { retryable: false },
  /** Every sandbox of the pool stayed in use for the whole wait; retry later or raise the pool size. */
  SANDBOX_BUSY: { retryable: true },
  /** The server is at a bound it keeps for everyone's sake (see the message); retry shortly. */
  SERVER_BUSY: { retryable: true },
  /**
   * The API key (or its tenant) has as many event streams open as it may: close streams you no
   * longer read, and read one stream per session, before opening another.
   */
  TOO_MANY_STREAMS: { retryable: true },
  /**
   * A budget of the session would be passed (its name is in the message): the session is paused
   * until the budget is raised (`POST /v1/sessions/{id}/budget`, `longrun sessions budget`).
   */
  BUDGET_EXCEEDED: { retryable: false },
  /** A bug or an invariant violation inside longrun. */
  INTERNAL: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type ErrorCode = keyof typeof errorCodes;

export interface LongrunErrorOptions {
  cause?: unknown;
  /** Overrides the code's default, e.g. a timeout that may or may not have committed. */
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export class LongrunError extends Error {
  override readonly name = 'LongrunError';
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: LongrunErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable ?? errorCodes[code].retryable;
    this.details = options.details;
  }

  toJSON(): { code: ErrorCode; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

export function isLongrunError(error: unknown, code?: ErrorCode): error is LongrunError {
  return error instanceof LongrunError && (code === undefined || error.code === code);
}

/** True when trying the same operation again may succeed (transient store trouble). */
export function isRetryable(error: unknown): boolean {
  return error instanceof LongrunError && error.retryable;
}
