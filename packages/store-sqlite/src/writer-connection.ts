import { mkdirSync } from 'node:fs';
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
