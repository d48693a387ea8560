import { failureCode, type JsonValue, type StoredEvent } from '@longrun/core';

/**
 * What a replay compares: the log without what only the recording's circumstances made, which an
 * offline re-run cannot make and which does not change what the agent did:
 * - streamed text and the request records (`model.streamed`, `model.requested`): the replay
 *   model answers at once;
 * - attempts a dead worker left (`model.failed` WORKER_STOPPED, and the budget reservation of
 *   such an attempt, settled `interrupted`): the transcript is the same without them (DESIGN §4);
 * - workspace snapshots: replayed tools return their recorded results and touch no file;
 * - fields that name a moment, a process, an attempt or a random id (approval, wait, signal and
 *   reservation ids, seqs the dropped events shift).
 */
const droppedTypes = new Set(['model.streamed', 'model.requested', 'workspace.snapshotted']);

const volatileFields = new Set([
  'atMs',
  'epoch',
  'attempt',
  'sessionId',
  'idempotencyKey',
  'approvalId',
  'waitId',
  'signalId',
  'reservationId',
  'transcriptSeq',
  'requestedModelId',
  'untilMs',
  'expiresAtMs',
  'retryInMs',
  'fromSeq',
  'throughSeq',
  'seq',
  'seqs',
  // A kept output's reference: the replayed result is its view, kept whole (replay-agent.ts).
  'outputRef',
  // Workspace edits a call's result carries: replayed tools touch no file (as snapshots, above).
  'workspaceEdits',
]);

function strip(value: JsonValue): JsonValue {
  if (typeof value === 'string') return value.startsWith('approval:') ? 'approval:*' : value;
  if (Array.isArray(value)) return value.map(strip);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value)) if (!volatileFields.has(k)) out[k] = strip(v);
    return out;
  }
  return value;
}

export interface ComparedEvent {
  /** Its seq in its own log. */
  seq: number;
  type: string;
  data: JsonValue;
}

/** The events a replay compares, in order, each with its seq in its own log. */
export function comparableEvents(events: readonly StoredEvent[]): ComparedEvent[] {
  const superseded = new Set<string>();
  const interrupted = new Set<string>();
  for (const e of events) {
    if (e.type === 'model.failed' && e.data.code === failureCode.workerStopped)
      superseded.add(`${e.data.step}:${e.data.attempt}`);
    if (e.type === 'budget.settled' && e.data.outcome === 'interrupted')
      interrupted.add(e.data.reservationId);
  }
  return events.flatMap((e): ComparedEvent[] => {
    if (droppedTypes.has(e.type)) return [];
    if (e.type === 'model.failed' && e.data.code === failureCode.workerStopped) return [];
    if (e.type === 'budget.settled' && interrupted.has(e.data.reservationId)) return [];
    if (
      e.type === 'budget.reserved' &&
      (interrupted.has(e.data.reservationId) || superseded.has(`${e.data.step}:${e.data.attempt}`))
    )
      return [];
    return [{ seq: e.seq, type: e.type, data: strip(e.data as JsonValue) }];
  });
}

export interface Divergence {
  /** Position among the compared events (0-based). */
  index: number;
  /** The recorded event's seq, or null when the recording has no more events. */
  expectedSeq: number | null;
  /** The replayed event's seq, or null when the replay made no more events. */
  gotSeq: number | null;
  expectedType: string | null;
  gotType: string | null;
  expected: JsonValue | null;
  got: JsonValue | null;
  /** Where the two differ: `path: expected → got` lines (at most 10). */
  diff: string[];
}

/** The fields where two JSON values differ, as `path: a → b` lines. */
export function jsonDiff(a: JsonValue | undefined, b: JsonValue | undefined, path = ''): string[] {
  if (JSON.stringify(a) === JSON.stringify(b)) return [];
  const objects =
    a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && a !== undefined;
  if (!objects || Array.isArray(a) !== Array.isArray(b)) {
    const show = (v: JsonValue | undefined) => {
      const text = v === undefined ? '(absent)' : JSON.stringify(v);
      return text.length > 200 ? `${text.slice(0, 200)}…` : text;
    };
    return [`${path || '.'}: ${show(a)} → ${show(b)}`];
  }
  const ao = a as Record<string, JsonValue>;
  const bo = b as Record<string, JsonValue>;
  const keys = [...new Set([...Object.keys(ao), ...Object.keys(bo)])];
  return keys.flatMap((k) => jsonDiff(ao[k], bo[k], `${path}.${k}`));
}

/** The first place the replayed events differ from the recorded ones, if any. */
export function firstDivergence(
  expected: readonly ComparedEvent[],
  got: readonly ComparedEvent[],
  options: { complete: boolean },
): Divergence | null {
  const length = options.complete ? Math.max(expected.length, got.length) : got.length;
  for (let i = 0; i < length; i++) {
    const e = expected[i];
    const g = got[i];
    if (e !== undefined && g !== undefined && e.type === g.type) {
      const diff = jsonDiff(e.data, g.data);
      if (diff.length === 0) continue;
      return divergence(i, e, g, diff.slice(0, 10));
    }
    return divergence(i, e, g, [`type: ${e?.type ?? '(none)'} → ${g?.type ?? '(none)'}`]);
  }
  return null;
}

function divergence(
  index: number,
  e: ComparedEvent | undefined,
  g: ComparedEvent | undefined,
  diff: string[],
): Divergence {
  return {
    index,
    expectedSeq: e?.seq ?? null,
    gotSeq: g?.seq ?? null,
    expectedType: e?.type ?? null,
    gotType: g?.type ?? null,
    expected: e?.data ?? null,
    got: g?.data ?? null,
    diff,
  };
}
