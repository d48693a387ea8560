import type { DatabaseSync } from 'node:sqlite';
import { writeDoing, writes } from './sqlite-writes.ts';
import { toWireError, type WriteReply, type WriteRequest } from './writer-protocol.ts';
import type { WriterDb } from './writer-db.ts';

/**
 * Group commit: the writes that queued up while the last commit ran (typically appends, claims
 * and lease renewals of many sessions) share one transaction and one fsync. Each runs inside its
 * own savepoint, so one that fails (a stale fence, a seq conflict) rolls back only its own
 * writes. Nothing is acknowledged before the commit; if the commit fails, every write of the
 * batch fails with the commit's error.
 */
export function commitBatch(
  connection: DatabaseSync,
  db: WriterDb,
  batch: readonly WriteRequest[],
): WriteReply[] {
  if (batch.length === 0) return [];
  // One write alone needs no savepoint: if it fails, the transaction is rolled back whole.
  const alone = batch.length === 1;
  const replies: WriteReply[] = [];
  try {
    connection.exec('BEGIN IMMEDIATE');
    for (const request of batch) {
      if (!alone) connection.exec('SAVEPOINT write');
      try {
        const value = writes[request.name as keyof typeof writes](db, request.args as never);
        if (!alone) connection.exec('RELEASE write');
        replies.push({ id: request.id, ok: true, value });
      } catch (error) {
        if (!alone) {
          connection.exec('ROLLBACK TO write');
          connection.exec('RELEASE write');
        }
        replies.push({ id: request.id, ok: false, error: failure(error, request) });
      }
    }
    connection.exec(replies.some((r) => r.ok) ? 'COMMIT' : 'ROLLBACK');
  } catch (error) {
    rollbackQuietly(connection);
    return batch.map((request) => ({ id: request.id, ok: false, error: failure(error, request) }));
  }
  return replies;
}

function failure(error: unknown, request: WriteRequest) {
  return toWireError(error, writeDoing[request.name as keyof typeof writes] ?? request.name);
}

function rollbackQuietly(connection: DatabaseSync): void {
  try {
    if (connection.isTransaction) connection.exec('ROLLBACK');
  } catch {
    // SQLite rolls a failed transaction back itself when it can; the error reported is the first.
  }
}
