import type { StatementSync } from 'node:sqlite';
import type { EncodedCreateSession, SessionRecord } from '@longrun/core';

/** What the store's side tables (API keys, blobs) need from the store: its statements and transactions. */
export interface SqliteAccess {
  /** Runs `work`, translating SQLite errors; refuses once the store is closed. */
  run<T>(doing: string, work: () => T): T;
  /** Runs `work` in an immediate transaction (after the pending group commit). */
  tx<T>(doing: string, work: () => T): T;
  /** A prepared statement, cached. */
  stmt(text: string): StatementSync;
  nowMs(): number;
  /** Inserts a checked new session and its `session.created` event; call inside `tx`. */
  insertSession(session: EncodedCreateSession, nowMs: number): SessionRecord;
}
