import type {
  EncodedCheckpoint,
  EncodedCreateSession,
  Lease,
  LeaseFence,
  SessionId,
  SignalWake,
  WorkerId,
} from '@longrun/core';
import { packJson } from '@longrun/core/packed-json';
import { writeCheckpoint } from './sqlite-append.ts';
import { sql } from './sql.ts';
import { WriterFailure } from './writer-failure.ts';
import { fencedRow, sessionRow, type SessionRow, type WriterDb } from './writer-db.ts';

/**
 * The session writes other than appends, as the writer thread runs them inside its open
 * transaction. Every time they write is read on the caller's thread when the call was made and
 * passed in (`nowMs`: the store's clock; `lease`: the lease clock), so an injected clock holds.
 */

/** A reading of the lease clock (lease-clock.ts): its boot and its time. */
export interface LeaseReading {
  bootId: string;
  nowMs: number;
}

export interface ClaimWrite {
  owner: WorkerId;
  leaseMs: number;
  nowMs: number;
  lease: LeaseReading;
}

function claimRow(db: WriterDb, id: string, c: ClaimWrite): Lease {
  const row = db
    .stmt(sql.claim)
    .get(
      c.owner,
      c.nowMs + c.leaseMs,
      c.nowMs,
      id,
      c.lease.bootId,
      c.lease.nowMs + c.leaseMs,
    ) as Record<string, number>;
  return {
    sessionId: id as SessionId,
    owner: c.owner,
    epoch: row.lease_epoch as number,
    expiresAtMs: c.nowMs + c.leaseMs,
    headSeq: row.head_seq as number,
  };
}

/** Inserts a checked new session and its `session.created` event; returns its row. */
export function insertSession(
  db: WriterDb,
  { id, tenantId, agent, data }: Pick<EncodedCreateSession, 'id' | 'tenantId' | 'agent' | 'data'>,
  nowMs: number,
): SessionRow {
  const inserted = db.stmt(sql.insertSession).run(id, tenantId, agent, nowMs, nowMs);
  if (inserted.changes === 0) {
    throw new WriterFailure(
      'INVALID_STATE',
      `session ${id} already exists; create it without an id or pick another`,
    );
  }
  db.stmt(sql.insertEvent).run(id, 1, 'session.created', 1, packJson(data), nowMs, 0);
  return sessionRow(db, id);
}

/** The claim rule's parameters ?1–?4 (sql.ts). */
const claimable = (c: ClaimWrite) => [c.nowMs, c.nowMs, c.lease.bootId, c.lease.nowMs] as const;

export const sessionWrites = {
  /**
   * The new session's row (the caller maps it), the earlier session's row for a key used before
   * with the same request, or `idempotencyConflict` for a key used with another.
   */
  createSession(
    db: WriterDb,
    w: EncodedCreateSession & { nowMs: number; held: ClaimWrite | null },
  ): { row: SessionRow } | { idempotencyConflict: true } {
    const { id, tenantId, agent, data, idempotency, nowMs: now } = w;
    if (idempotency !== null) {
      const earlier = db.stmt(sql.findIdempotencyKey).get(tenantId, idempotency.key);
      if (earlier !== undefined) {
        if (earlier.request_hash !== idempotency.requestHash) return { idempotencyConflict: true };
        return { row: sessionRow(db, earlier.session_id as SessionId) };
      }
      db.stmt(sql.insertIdempotencyKey).run(
        tenantId,
        idempotency.key,
        idempotency.requestHash,
        id,
        now,
      );
    }
    const row = insertSession(db, { id, tenantId, agent, data }, now);
    if (!w.held) return { row };
    // Claimed in the same transaction: no worker sees it unheld (CreateSessionInput.heldBy).
    claimRow(db, id, w.held);
    return { row: sessionRow(db, id) };
  },

  claimNext(db: WriterDb, c: ClaimWrite & { agents: string | null }): Lease | null {
    const row = db.stmt(sql.nextClaimable).get(...claimable(c), c.agents);
    return row === undefined ? null : claimRow(db, row.id as string, c);
  },

  claim(db: WriterDb, c: ClaimWrite & { id: SessionId }): Lease | null {
    const row = db.stmt(sql.claimableById).get(...claimable(c), c.id);
    return row === undefined ? null : claimRow(db, c.id, c);
  },

  reclaimOwned(db: WriterDb, c: ClaimWrite & { agents: string | null }): Lease[] {
    return db
      .stmt(sql.ownedUnfinished)
      .all(c.owner, c.agents)
      .map((row) => claimRow(db, row.id as string, c));
  },

  renewLease(
    db: WriterDb,
    w: { fence: LeaseFence; leaseMs: number; nowMs: number; lease: LeaseReading },
  ): Lease {
    const { fence: f, leaseMs, nowMs: now, lease } = w;
    const done = db
      .stmt(sql.renewLease)
      .run(now + leaseMs, now, f.sessionId, f.epoch, f.owner, lease.bootId, lease.nowMs + leaseMs);
    const row = done.changes === 0 ? fencedRow(db, f) : sessionRow(db, f.sessionId);
    return { ...f, expiresAtMs: now + leaseMs, headSeq: row.head_seq as number };
  },

  releaseLease(db: WriterDb, w: { fence: LeaseFence; nowMs: number }): void {
    const f = w.fence;
    db.stmt(sql.releaseLease).run(w.nowMs, f.sessionId, f.epoch, f.owner);
  },

  /** Inserts the signal (its id chosen by the caller) and wakes the session if it should. */
  sendSignal(
    db: WriterDb,
    w: {
      signalId: string;
      sessionId: SessionId;
      name: string;
      payload: string;
      wake: SignalWake;
      once?: boolean;
      nowMs: number;
    },
  ): void {
    sessionRow(db, w.sessionId);
    // Inside the writer's transaction: the check and the insert are one step for every process.
    if (w.once === true && db.stmt(sql.signalSent).get(w.sessionId, w.name) !== undefined) {
      throw new WriterFailure(
        'INVALID_STATE',
        `a signal ${w.name} was already sent to session ${w.sessionId}; only the first one counts`,
      );
    }
    db.stmt(sql.insertSignal).run(w.signalId, w.sessionId, w.name, w.payload, w.nowMs);
    db.stmt(sql.wakeForSignal).run(w.nowMs, w.sessionId, w.name, w.wake);
  },

  saveCheckpoint(
    db: WriterDb,
    w: { fence: LeaseFence; checkpoint: EncodedCheckpoint; nowMs: number },
  ): void {
    const headSeq = fencedRow(db, w.fence).head_seq as number;
    if (w.checkpoint.seq > headSeq) {
      throw new WriterFailure(
        'INVALID_ARGUMENT',
        `checkpoint seq ${w.checkpoint.seq} is past the session's head seq ${headSeq}`,
      );
    }
    writeCheckpoint(db, w.fence.sessionId, w.checkpoint, w.nowMs);
  },
};
