import {
  LongrunError,
  effectiveStatus,
  type AppendRequest,
  type AppendResult,
  type EncodedAppend,
  type LeaseFence,
  type SessionRecord,
} from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';
import { sql } from './sql.ts';
import { translateSqliteError } from './translate-error.ts';

interface PendingAppend {
  request: AppendRequest;
  encoded: EncodedAppend;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

class AppendFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}

export interface AppendBatchAccess extends SqliteAccess {
  /** Runs SQL with no result (BEGIN, SAVEPOINT, COMMIT). */
  exec(text: string): void;
  /** Rolls the open transaction back, if any. */
  rollback(): void;
  /** The session, or LEASE_LOST / NOT_FOUND when the fence is not current. */
  fenced(fence: LeaseFence): SessionRecord;
}

/**
 * Group commit: appends issued before the event loop's next check phase (typically by many
 * sessions of one worker) share one transaction and one fsync, each inside its own savepoint so
 * that one stale fence rolls back only its own writes. Each is acknowledged after the commit.
 */
export class SqliteAppendBatch {
  readonly #db: AppendBatchAccess;
  #pending: PendingAppend[] = [];

  constructor(access: AppendBatchAccess) {
    this.#db = access;
  }

  /** Queues an append for the next flush (the end of this turn of the event loop). */
  enqueue(request: AppendRequest, encoded: EncodedAppend): Promise<AppendResult> {
    return new Promise((resolve, reject) => {
      this.#pending.push({ request, encoded, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => this.flush());
    });
  }

  /** Commits every queued append in one transaction, each in its own savepoint. */
  flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const outcomes: (AppendResult | AppendFailure)[] = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      for (const item of batch) {
        this.#db.exec('SAVEPOINT append');
        try {
          outcomes.push(this.#apply(item.request.fence, item.request.expectedSeq, item.encoded));
          this.#db.exec('RELEASE append');
        } catch (error) {
          this.#db.exec('ROLLBACK TO append');
          this.#db.exec('RELEASE append');
          outcomes.push(new AppendFailure(error));
        }
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.rollback();
      const failure = translateSqliteError(error, 'appending events');
      for (const item of batch) item.reject(failure);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome instanceof AppendFailure)
        item.reject(translateSqliteError(outcome.error, 'appending events'));
      else item.resolve(outcome as AppendResult);
    });
  }

  #apply(fence: LeaseFence, expectedSeq: number, a: EncodedAppend): AppendResult {
    const now = this.#db.nowMs();
    const moved = this.#db
      .stmt(sql.advanceHead)
      .run(a.newHeadSeq, now, fence.sessionId, fence.epoch, fence.owner, expectedSeq, a.appendId);
    if (moved.changes === 0) {
      const last = this.#db.stmt(sql.lastAppend).get(fence.sessionId);
      if (last !== undefined && last.last_append_id === a.appendId) {
        // The same append sent again: it committed before; answer as it was answered then.
        return { headSeq: a.newHeadSeq, atMs: Number(last.last_append_at_ms) };
      }
      const session = this.#db.fenced(fence);
      throw new LongrunError(
        'SEQ_CONFLICT',
        `session ${fence.sessionId} is at seq ${session.headSeq}, not ${expectedSeq}; re-read the log and decide again`,
        { details: { headSeq: session.headSeq } },
      );
    }
    a.events.forEach((e, i) => {
      this.#db
        .stmt(sql.insertEvent)
        .run(fence.sessionId, expectedSeq + 1 + i, e.type, e.v, e.data, now, fence.epoch);
    });
    for (const e of a.effects) {
      this.#db
        .stmt(sql.upsertEffect)
        .run(
          fence.sessionId,
          e.step,
          e.callIndex,
          e.tool,
          e.effect,
          e.idempotencyKey,
          e.status,
          now,
        );
    }
    if (a.checkpoint)
      this.#db
        .stmt(sql.upsertCheckpoint)
        .run(fence.sessionId, a.checkpoint.seq, a.checkpoint.state, now);
    for (const signalId of a.consumeSignals) {
      if (this.#db.stmt(sql.consumeSignal).run(now, signalId, fence.sessionId).changes === 0) {
        throw new LongrunError(
          'INVALID_STATE',
          `signal ${signalId} is not pending for session ${fence.sessionId}`,
        );
      }
    }
    if (a.status) {
      const pending =
        a.status.waitingFor != null &&
        this.#db.stmt(sql.pendingSignals).get(fence.sessionId, a.status.waitingFor) !== undefined;
      const s = effectiveStatus(a.status, pending);
      this.#db
        .stmt(sql.setStatus)
        .run(s.status, s.reason ?? null, s.wakeAtMs ?? null, s.waitingFor ?? null, fence.sessionId);
    }
    if (a.releaseLease)
      this.#db.stmt(sql.releaseLease).run(now, fence.sessionId, fence.epoch, fence.owner);
    return { headSeq: a.newHeadSeq, atMs: now };
  }
}
