import type { ErrorCode } from '@longrun/core';

// SQLite primary result codes (the low byte of an extended code). https://sqlite.org/rescode.html
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_NOMEM = 7;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

/**
 * A failure on the writer's side (a stale fence, a seq conflict, a full disk), as plain data.
 * The writer thread does not load @longrun/core (a thread that must start fast imports only
 * this package's SQL), so it throws these; they cross to the caller's thread, where they become
 * the LongrunError of the same code and message (translate-error.ts, writer-protocol.ts).
 */
export class WriterFailure extends Error {
  readonly code: ErrorCode;
  /** Overrides the code's default, as LongrunError's option of the same name. */
  readonly retryable: boolean | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: ErrorCode,
    message: string,
    options: { cause?: unknown; retryable?: boolean; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options.retryable;
    this.details = options.details;
  }
}

interface SqliteDriverError {
  errcode?: unknown;
  message?: unknown;
}

/** What a node:sqlite error means, in longrun's codes, with a message that says what to do. */
export function classifySqliteError(error: unknown, doing: string): WriterFailure {
  if (error instanceof WriterFailure) return error;
  const e = (error ?? {}) as SqliteDriverError;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const primary = typeof e.errcode === 'number' ? e.errcode & 0xff : -1;
  const text = `${doing}: ${message}`;
  const cause = { cause: error };
  switch (primary) {
    case SQLITE_FULL:
      return new WriterFailure(
        'STORAGE_FULL',
        `${text}. The disk holding the SQLite file is full; nothing of this write was committed. Free space and longrun continues.`,
        cause,
      );
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return new WriterFailure(
        'STORE_UNAVAILABLE',
        `${text}. Another process held the database lock too long; retry.`,
        cause,
      );
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
      return new WriterFailure(
        'STORE_UNAVAILABLE',
        `${text}. The write may not have happened; retry.`,
        cause,
      );
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return new WriterFailure(
        'STORE_UNAVAILABLE',
        `${text}. Check that the directory exists and this process may read and write it.`,
        { ...cause, retryable: false },
      );
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      // The operator's to fix, not a longrun bug: a path to some other file, or a damaged store.
      return new WriterFailure(
        'STORE_UNAVAILABLE',
        `${text}. This file is not a SQLite store longrun made, or it is damaged: check the path (--store), or restore the store from a backup.`,
        { ...cause, retryable: false },
      );
    default:
      return new WriterFailure('INTERNAL', text, cause);
  }
}
