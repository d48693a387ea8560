import type {
  AppendResult,
  EncodedAppend,
  EncodedCheckpoint,
  LeaseFence,
  StatusChange,
} from '@longrun/core';
import { packJson } from '@longrun/core/packed-json';
import { sql } from './sql.ts';
import { WriterFailure } from './writer-failure.ts';
import { fencedRow, type WriterDb } from './writer-db.ts';

/**
 * Core's `signalNames.cancel`, spelled out: the writer thread loads nothing of `@longrun/core` at
 * run time (sqlite-store.test.ts checks that the two agree).
 */
export const cancelSignalName = 'cancel';

/** One append as it crosses to the writer thread: checked and encoded on the caller's thread. */
export interface AppendWrite {
  fence: LeaseFence;
  expectedSeq: number;
  encoded: Omit<EncodedAppend, 'status'>;
  /**
   * The status the append sets, and the one it sets instead if the signal it would wait for is
   * already pending (core's effectiveStatus decides both on the caller's thread; the writer only
   * looks in the inbox).
   */
  status: { ifNotPending: StatusChange; ifPending: StatusChange } | undefined;
  /** The store clock's time when append() was called: the events' `atMs`. */
  nowMs: number;
}

/**
 * Applies one fenced append inside the writer's open transaction: moves the head if the fence
 * is current and the head is where the writer read it, then writes the events and side rows.
 * An append whose id is the session's last committed one is answered as it was then.
 */
export function applyAppend(db: WriterDb, write: AppendWrite): AppendResult {
  const { fence, expectedSeq, encoded: a, status, nowMs: now } = write;
  const moved = db
    .stmt(sql.advanceHead)
    .run(a.newHeadSeq, now, fence.sessionId, fence.epoch, fence.owner, expectedSeq, a.appendId);
  if (moved.changes === 0) {
    const last = db.stmt(sql.lastAppend).get(fence.sessionId);
    if (last !== undefined && last.last_append_id === a.appendId) {
      // The same append sent again: it committed before; answer as it was answered then.
      return { headSeq: a.newHeadSeq, atMs: Number(last.last_append_at_ms) };
    }
    const headSeq = fencedRow(db, fence).head_seq as number;
    throw new WriterFailure(
      'SEQ_CONFLICT',
      `session ${fence.sessionId} is at seq ${headSeq}, not ${expectedSeq}; re-read the log and decide again`,
      { details: { headSeq } },
    );
  }
  a.events.forEach((e, i) => {
    db.stmt(sql.insertEvent).run(
      fence.sessionId,
      expectedSeq + 1 + i,
      e.type,
      e.v,
      packJson(e.data),
      now,
      fence.epoch,
    );
  });
  for (const e of a.effects) {
    db.stmt(sql.upsertEffect).run(
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
  if (a.checkpoint) writeCheckpoint(db, fence.sessionId, a.checkpoint, now);
  for (const signalId of a.consumeSignals) {
    if (db.stmt(sql.consumeSignal).run(now, signalId, fence.sessionId).changes === 0) {
      throw new WriterFailure(
        'INVALID_STATE',
        `signal ${signalId} is not pending for session ${fence.sessionId}`,
      );
    }
  }
  if (status) {
    const waitingFor = status.ifNotPending.waitingFor;
    const inbox = (name: string): boolean =>
      db.stmt(sql.pendingSignals).get(fence.sessionId, name) !== undefined;
    // A cancel sent while the session still ran must not wait behind the wait it parks on.
    const pending =
      status.ifNotPending.status === 'waiting' &&
      ((waitingFor != null && inbox(waitingFor)) || inbox(cancelSignalName));
    const s = pending ? status.ifPending : status.ifNotPending;
    db.stmt(sql.setStatus).run(
      s.status,
      s.reason ?? null,
      s.wakeAtMs ?? null,
      s.waitingFor ?? null,
      fence.sessionId,
    );
  }
  if (a.releaseLease) db.stmt(sql.releaseLease).run(now, fence.sessionId, fence.epoch, fence.owner);
  return { headSeq: a.newHeadSeq, atMs: now };
}

/**
 * Replaces the session's checkpoint unless the stored one is as new or newer; when it replaces
 * it, applies the write's parts (CheckpointWrite): removes those below `keepFrom`, adds each new
 * index (an index the session has keeps its value).
 */
export function writeCheckpoint(
  db: WriterDb,
  sessionId: string,
  checkpoint: EncodedCheckpoint,
  nowMs: number,
): void {
  const { seq, state, parts } = checkpoint;
  const replaced = db.stmt(sql.upsertCheckpoint).run(sessionId, seq, packJson(state), nowMs);
  if (replaced.changes === 0 || parts === undefined) return;
  db.stmt(sql.deleteCheckpointParts).run(sessionId, parts.keepFrom);
  for (const part of parts.add)
    db.stmt(sql.insertCheckpointPart).run(sessionId, part.index, packJson(part.value));
}
