import {
  sessionStatusNames,
  LongrunError,
  decodePayload,
  sessionId,
  workerId,
  type Checkpoint,
  type EffectRecord,
  type EffectClass,
  type EffectStatus,
  type EventType,
  type JsonValue,
  type Lease,
  type SessionCounts,
  type SessionRecord,
  type SessionStatus,
  type Signal,
  type StoredEvent,
  type WorkerId,
} from '@longrun/core';
import { unpackJson } from '@longrun/core/packed-json';

// The one place rows become port types. pg returns int8 (bigint) as a string, to avoid losing
// precision past 2^53; every value here is a count or an epoch-ms time, so it must fit a safe
// integer, and one that does not is a corrupted row, not something to round silently.
export type Row = Record<string, unknown>;

export function num(v: unknown, column = 'value'): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n)) {
    throw new LongrunError('INTERNAL', `column ${column} holds ${String(v)}, not a safe integer`);
  }
  return n;
}

const numOrNull = (v: unknown, column: string): number | null =>
  v === null ? null : num(v, column);
const strOrNull = (v: unknown): string | null => (v === null ? null : (v as string));

export function toSession(row: Row): SessionRecord {
  return {
    id: sessionId(row.id),
    tenantId: row.tenant_id as string,
    agent: row.agent as string,
    status: row.status as SessionStatus,
    statusReason: strOrNull(row.status_reason),
    headSeq: num(row.head_seq, 'head_seq'),
    leaseOwner: row.lease_owner === null ? null : workerId(row.lease_owner),
    leaseEpoch: num(row.lease_epoch, 'lease_epoch'),
    leaseExpiresAtMs: numOrNull(row.lease_expires_at_ms, 'lease_expires_at_ms'),
    wakeAtMs: numOrNull(row.wake_at_ms, 'wake_at_ms'),
    waitingFor: strOrNull(row.waiting_for),
    createdAtMs: num(row.created_at_ms, 'created_at_ms'),
    updatedAtMs: num(row.updated_at_ms, 'updated_at_ms'),
  };
}

/** An event's data: its text, or its packed bytes unpacked (schema 15 on). */
function eventData(row: Row): JsonValue {
  if (row.data !== null) return decodePayload(row.data as string);
  const packed = row.packed as Uint8Array;
  const text = unpackJson(packed);
  if (text === null)
    throw new LongrunError(
      'SCHEMA_TOO_NEW',
      `event ${String(row.seq)} of session ${String(row.session_id)} is packed with format ${packed[0]}, which this longrun cannot read; a newer longrun wrote it: upgrade longrun to read this schema`,
    );
  return decodePayload(text);
}

export function toEvent(row: Row): StoredEvent {
  return {
    sessionId: sessionId(row.session_id),
    seq: num(row.seq, 'seq'),
    type: row.type as EventType,
    v: num(row.v, 'v'),
    data: eventData(row),
    atMs: num(row.at_ms, 'at_ms'),
    epoch: num(row.epoch, 'epoch'),
  } as StoredEvent;
}

/** A JSON text column; one that does not parse is a corrupted row (INTERNAL), named by `what`. */
function jsonColumn(text: unknown, what: string): JsonValue {
  try {
    return decodePayload(text as string);
  } catch (error) {
    throw new LongrunError('INTERNAL', `${what} is not valid JSON: ${(error as Error).message}`);
  }
}

/**
 * A checkpoint from readCheckpoint's rows: its own row first (index -1), then its parts by
 * index (schema 17 on). Null when the session has no checkpoint.
 */
export function toCheckpoint(id: string, rows: Row[]): Checkpoint | null {
  const [head, ...parts] = rows;
  if (head === undefined || num(head.idx, 'idx') !== -1) return null;
  const what = `the checkpoint of session ${id}`;
  return {
    sessionId: sessionId(id),
    seq: num(head.seq, 'seq'),
    state: jsonColumn(head.value, what),
    parts: parts.map((row) => {
      const index = num(row.idx, 'checkpoint_parts.idx');
      return { index, value: jsonColumn(row.value, `part ${index} of ${what}`) };
    }),
  };
}

export function toEffect(row: Row): EffectRecord {
  return {
    sessionId: sessionId(row.session_id),
    step: num(row.step, 'step'),
    callIndex: num(row.call_index, 'call_index'),
    tool: row.tool as string,
    effect: row.effect as EffectClass,
    idempotencyKey: row.idempotency_key as string,
    status: row.status as EffectStatus,
    attempts: num(row.attempts, 'attempts'),
    updatedAtMs: num(row.updated_at_ms, 'updated_at_ms'),
  };
}

export function toSignal(row: Row): Signal {
  return {
    id: row.id as string,
    sessionId: sessionId(row.session_id),
    name: row.name as string,
    payload: decodePayload(row.payload as string),
    createdAtMs: num(row.created_at_ms, 'created_at_ms'),
  };
}

export function toLease(row: Row, owner: WorkerId): Lease {
  return {
    sessionId: sessionId(row.id),
    owner,
    epoch: num(row.lease_epoch, 'lease_epoch'),
    expiresAtMs: num(row.lease_expires_at_ms, 'lease_expires_at_ms'),
    headSeq: num(row.head_seq, 'head_seq'),
  };
}

/** Rows of `countSessions` (status, n, due): every status present, 0 where no row. */
export function toSessionCounts(rows: readonly Row[]): SessionCounts {
  const byStatus = Object.fromEntries(
    sessionStatusNames.map((s) => [s, 0]),
  ) as SessionCounts['byStatus'];
  let dueWaits = 0;
  for (const r of rows) {
    byStatus[r.status as SessionStatus] = num(r.n, 'n');
    dueWaits += num(r.due, 'due');
  }
  return { byStatus, dueWaits };
}
