import type { JsonValue, StoredEvent } from '@longrun/core';

/** Fields that legitimately differ between an interrupted run and an uninterrupted one. */
const volatileFields = new Set([
  'atMs',
  'epoch',
  'attempt',
  'untilMs',
  'sessionId',
  'idempotencyKey',
]);

function strip(value: JsonValue): JsonValue {
  if (Array.isArray(value)) return value.map(strip);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) if (!volatileFields.has(k)) out[k] = strip(v);
    return out;
  }
  return value;
}

/**
 * A session's log as transcript equality compares it (TESTING.md): seq, type and data, without
 * timestamps, attempt numbers, worker epochs, and ids derived from the session id.
 */
export function normalizeTranscript(events: readonly StoredEvent[]): string[] {
  return events.map((e) => `${e.seq} ${e.type} ${JSON.stringify(strip(e.data as JsonValue))}`);
}
