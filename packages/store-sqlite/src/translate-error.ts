import { LongrunError, isLongrunError } from '@longrun/core';

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

interface SqliteDriverError {
  code?: unknown;
  errcode?: unknown;
  errstr?: unknown;
  message?: unknown;
}

/** Translates a node:sqlite error into a LongrunError, once, at the adapter boundary. */
export function translateSqliteError(error: unknown, doing: string): LongrunError {
  if (isLongrunError(error)) return error;
  const e = (error ?? {}) as SqliteDriverError;
  const message = typeof e.message === 'string' ? e.message : String(error);
  const primary = typeof e.errcode === 'number' ? e.errcode & 0xff : -1;
  const text = `${doing}: ${message}`;
  switch (primary) {
    case SQLITE_FULL:
      return new LongrunError(
        'STORAGE_FULL',
        `${text}. The disk holding the SQLite file is full; nothing of this write was committed. Free space and longrun continues.`,
        { cause: error },
      );
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return new LongrunError(
        'STORE_UNAVAILABLE',
        `${text}. Another process held the database lock too long; retry.`,
        {
          cause: error,
        },
      );
    case SQLITE_IOERR:
    case SQLITE_NOMEM:
      return new LongrunError(
        'STORE_UNAVAILABLE',
        `${text}. The write may not have happened; retry.`,
        {
          cause: error,
        },
      );
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
      return new LongrunError(
        'STORE_UNAVAILABLE',
        `${text}. Check that the directory exists and this process may read and write it.`,
        { cause: error, retryable: false },
      );
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return new LongrunError('INTERNAL', `${text}. The file is not a healthy SQLite database.`, {
        cause: error,
      });
    default:
      return new LongrunError('INTERNAL', text, { cause: error });
  }
}
