import type { StatementSync } from 'node:sqlite';
import type { WriteArgs, WriteName, WriteResult } from './sqlite-writes.ts';

/** What the store's side tables (API keys, blobs) need from the store: reads and writes. */
export interface SqliteAccess {
  /** Runs a read on the caller's connection, translating SQLite errors; refuses once closed. */
  run<T>(doing: string, work: () => T): T;
  /** A prepared statement of the reading connection, cached. */
  stmt(text: string): StatementSync;
  /** Has the writer thread run the named write in its next group commit. */
  write<K extends WriteName>(name: K, args: WriteArgs<K>): Promise<WriteResult<K>>;
  nowMs(): number;
}
