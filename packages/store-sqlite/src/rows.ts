import {
  LongrunError,
  sessionStatusNames,
  decodePayload,
  sessionId,
  workerId,
  type Checkpoint,
  type EffectRecord,
  type EffectClass,
  type EffectStatus,
  type EventType,
  type SessionCounts,
  type SessionRecord,
  type SessionStatus,
  type JsonValue,
  type Signal,
  type StoredEvent,
} from '@longrun/core';
import { unpackJson } from '@longrun/core/packed-json';

// The one place rows become port types. node:sqlite returns INTEGER as number (read-bigints off).
type Row = Record<string, unknown>;

/** A JSON column (event data, checkpoint state): text, or packed (@longrun/core/packed-json). */
function jsonColumn(v: unknown, what: string): JsonValue {
  const text = typeof v === 'string' || v instanceof Uint8Array ? unpackJson(v) : null;
  if (text === null)
    throw new LongrunError(
      'SCHEMA_TOO_NEW',
      `${what} is stored in a form this longrun cannot read (${v instanceof Uint8Array ? `packed with format ${v[0]}` : typeof v}); a newer longrun wrote it: upgrade longrun to read this database`,
    );
  return decodePayload(text);
}

const num = (v: unknown): number => v as number;
const numOrNull = (v: unknown): number | null => (v === null ? null : (v as number));
const strOrNull = (v: unknown): string | null => (v === null ? null : (v as string));

export function toSession(row: Row): SessionRecord {
  return {
    id: sessionId(row.id),
    tenantId: row.tenant_id as string,
    agent: row.agent as string,
    status: row.status as SessionStatus,
    statusReason: strOrNull(row.status_reason),
    headSeq: num(row.head_seq),
    leaseOwner: row.lease_owner === null ? null : workerId(row.lease_owner),
    leaseEpoch: num(row.lease_epoch),
    leaseExpiresAtMs: numOrNull(row.lease_expires_at_ms),
    wakeAtMs: numOrNull(row.wake_at_ms),
    waitingFor: strOrNull(row.waiting_for),
    createdAtMs: num(row.created_at_ms),
    updatedAtMs: num(row.updated_at_ms),
  };
}

export function toEvent(row: Row): StoredEvent {
  return {
    sessionId: sessionId(row.session_id),
    seq: num(row.seq),
    type: row.type as EventType,
    v: num(row.v),
    data: jsonColumn(row.data, `event ${String(row.seq)} of session ${String(row.session_id)}`),
    atMs: num(row.at_ms),
    epoch: num(row.epoch),
  } as StoredEvent;
}

/**
 * A checkpoint from readCheckpoint's rows: its own row first (index -1), then its parts by
 * index. Null when the session has no checkpoint.
 */
export function toCheckpoint(id: string, rows: Row[]): Checkpoint | null {
  const [head, ...parts] = rows;
  if (head === undefined || num(head.idx) !== -1) return null;
  const what = `the checkpoint of session ${id}`;
  return {
    sessionId: sessionId(id),
    seq: num(head.seq),
    state: jsonColumn(head.value, what),
    parts: parts.map((row) => {
      const index = num(row.idx);
      return { index, value: jsonColumn(row.value, `part ${index} of ${what}`) };
    }),
  };
}

export function toEffect(row: Row): EffectRecord {
  return {
    sessionId: sessionId(row.session_id),
    step: num(row.step),
    callIndex: num(row.call_index),
    tool: row.tool as string,
    effect: row.effect as EffectClass,
    idempotencyKey: row.idempotency_key as string,
    status: row.status as EffectStatus,
    attempts: num(row.attempts),
    updatedAtMs: num(row.updated_at_ms),
  };
}

export function toSignal(row: Row): Signal {
  return {
    id: row.id as string,
    sessionId: sessionId(row.session_id),
    name: row.name as string,
    payload: decodePayload(row.payload as string),
    createdAtMs: num(row.created_at_ms),
  };
}

/** Rows of `countSessions` (status, n, due): every status present, 0 where no row. */
export function toSessionCounts(rows: readonly Row[]): SessionCounts {
  const byStatus = Object.fromEntries(
    sessionStatusNames.map((s) => [s, 0]),
  ) as SessionCounts['byStatus'];
  let dueWaits = 0;
  for (const r of rows) {
    byStatus[r.status as SessionStatus] = num(r.n);
    dueWaits += num(r.due ?? 0);
  }
  return { byStatus, dueWaits };
}
