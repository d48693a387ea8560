import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { LeaseFence, SessionId } from '@longrun/core';
import { sql } from './sql.ts';
import { WriterFailure } from './writer-failure.ts';

/** What a write runs on: the writer connection's cached statements, inside its transaction. */
export interface WriterDb {
  stmt(text: string): StatementSync;
  /** Runs SQL that returns nothing (a migration's DDL). */
  exec(text: string): void;
}

export type SessionRow = Record<string, unknown>;

export const sessionMissing = (id: string) => `session ${id} does not exist`;

/** The session's row, or NOT_FOUND. */
export function sessionRow(db: WriterDb, id: SessionId): SessionRow {
  const row = db.stmt(sql.getSession).get(id);
  if (row === undefined) throw new WriterFailure('NOT_FOUND', sessionMissing(id));
  return row;
}

/** Throws NOT_FOUND or LEASE_LOST unless the fence is current; returns the session's row. */
export function fencedRow(db: WriterDb, fence: LeaseFence): SessionRow {
  const row = sessionRow(db, fence.sessionId);
  if (row.lease_epoch !== fence.epoch || row.lease_owner !== fence.owner) {
    throw new WriterFailure(
      'LEASE_LOST',
      `lease epoch ${fence.epoch} of ${fence.owner} on session ${fence.sessionId} is stale (now epoch ${row.lease_epoch as number}, owner ${(row.lease_owner as string | null) ?? 'none'}); stop working on it`,
    );
  }
  return row;
}

/** The connection, with each statement prepared once. */
export function statementCache(connection: DatabaseSync): WriterDb {
  const statements = new Map<string, StatementSync>();
  return {
    stmt(text) {
      let statement = statements.get(text);
      if (statement === undefined) {
        statement = connection.prepare(text);
        statements.set(text, statement);
      }
      return statement;
    },
    exec: (text) => connection.exec(text),
  };
}
