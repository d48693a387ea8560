import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { DurabilityReport } from '@longrun/core';
import { applyDurability } from './durability.ts';
import { migrateSqlite } from './migrate.ts';
import { classifySqliteError, WriterFailure } from './writer-failure.ts';
import type { WriterOptions } from './writer-protocol.ts';

/**
 * Opens a connection that writes (creating the file and its directory if needed) and enforces
 * durability on it (WAL, synchronous=FULL); the first one opened also migrates the schema.
 */
export function openWriterConnection(
  options: WriterOptions,
  { migrate }: { migrate: boolean },
): {
  connection: DatabaseSync;
  durability: DurabilityReport;
} {
  if (options.path !== ':memory:') refuseEmptyFileWithLog(options.path);
  let connection: DatabaseSync;
  try {
    if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
    connection = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs });
  } catch (error) {
    throw new WriterFailure(
      'STORE_UNAVAILABLE',
      `cannot open SQLite database ${options.path}: ${(error as Error).message}. Check that its directory exists and this process may write it.`,
      { cause: error, retryable: false },
    );
  }
  try {
    const durability = applyDurability(connection, options);
    if (migrate) migrateSqlite(connection, options.nowMs);
    return { connection, durability };
  } catch (error) {
    connection.close();
    throw classifySqliteError(error, `opening SQLite database ${options.path}`);
  }
}

/**
 * A database file of 0 bytes beside a write-ahead log that holds something is a damaged store
 * (the file was truncated, or replaced), not a new one: opening it would make a fresh, empty
 * schema and SQLite would drop the log, and a command would go on as if the store had no
 * sessions. Refused, with nothing touched.
 */
function refuseEmptyFileWithLog(path: string): void {
  const size = (file: string): number => {
    try {
      return statSync(file).size;
    } catch {
      return -1;
    }
  };
  if (size(path) !== 0 || size(`${path}-wal`) <= 0) return;
  throw new WriterFailure(
    'STORE_UNAVAILABLE',
    `the SQLite store ${path} is damaged: the database file is empty (0 bytes) while its write-ahead log ${path}-wal holds ${size(`${path}-wal`)} bytes. Nothing was changed. Keep both files, and restore the store from a backup (or move them aside to start a new, empty store).`,
    { retryable: false },
  );
}
