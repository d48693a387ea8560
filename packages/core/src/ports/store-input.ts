import { LongrunError } from '../errors.ts';
import { eventSchemaVersion, isEventType } from '../events.ts';
import { encodeCheckpointState, encodePayload } from '../json.ts';
import type {
  AppendRequest,
  CheckpointPart,
  CheckpointWrite,
  ClaimFilter,
  EffectChange,
  LeaseFence,
  SessionStatus,
  SignalWake,
  StatusChange,
} from './session-store.ts';
import { newAppendId, sessionId, workerId } from '../ids.ts';

/**
 * Input checks shared by every store, so each rejects bad input the same way, with a typed error,
 * before it opens a transaction. They return the payloads already encoded for storage.
 */
export interface EncodedEvent {
  type: string;
  v: number;
  data: string;
}

export interface EncodedAppend {
  /** The request's appendId, or a fresh one. */
  appendId: string;
  events: EncodedEvent[];
  newHeadSeq: number;
  effects: EffectChange[];
  status: StatusChange | undefined;
  checkpoint: EncodedCheckpoint | undefined;
  consumeSignals: string[];
  releaseLease: boolean;
}

/** A checkpoint checked and encoded for storage: its state and parts as ASCII JSON texts. */
export interface EncodedCheckpoint {
  seq: number;
  state: string;
  parts: { add: { index: number; value: string }[]; keepFrom: number } | undefined;
}

/** The most parts one checkpoint write may add. */
export const maxCheckpointPartsAdded = 1_024;
/** The highest checkpoint part index (and keepFrom): what a 32-bit column holds. */
export const maxCheckpointPartIndex = 2_147_483_647;

function checkPartIndex(name: string, value: unknown): number {
  const index = checkCount(name, value);
  if (index > maxCheckpointPartIndex)
    throw bad(`${name} must be at most ${maxCheckpointPartIndex} (got ${index})`);
  return index;
}

/**
 * Checks and encodes a checkpoint write whose seq may be at most `headSeq`: a typed
 * INVALID_ARGUMENT for a bad seq, a part index that is not an integer ≥ 0, below `keepFrom` or
 * given twice, or too many parts; each value within the checkpoint size limit.
 */
export function encodeCheckpoint(
  checkpoint: CheckpointWrite,
  headSeq: number,
  what = 'checkpoint',
): EncodedCheckpoint {
  const seq = checkCount(`${what}.seq`, checkpoint.seq, 1);
  if (seq > headSeq) throw bad(`${what}.seq ${seq} is past the head seq ${headSeq}`);
  const state = encodeCheckpointState(checkpoint.state);
  if (checkpoint.parts === undefined) return { seq, state, parts: undefined };
  const { add, keepFrom } = checkpoint.parts as { add: unknown; keepFrom: unknown };
  const from = checkPartIndex(`${what}.parts.keepFrom`, keepFrom);
  if (!Array.isArray(add)) throw bad(`${what}.parts.add must be an array of parts`);
  if (add.length > maxCheckpointPartsAdded)
    throw bad(
      `${what}.parts.add has ${add.length} parts; at most ${maxCheckpointPartsAdded} may be added at once`,
    );
  const seen = new Set<number>();
  const parts = (add as CheckpointPart[]).map((part, i) => {
    const index = checkPartIndex(`${what}.parts.add[${i}].index`, part?.index);
    if (index < from)
      throw bad(
        `${what}.parts.add[${i}].index ${index} is below keepFrom ${from}: it would be removed`,
      );
    if (seen.has(index)) throw bad(`${what}.parts.add gives index ${index} twice`);
    seen.add(index);
    return { index, value: encodeCheckpointState(part.value) };
  });
  return { seq, state, parts: { add: parts, keepFrom: from } };
}

const effectClasses = new Set(['pure', 'idempotent', 'keyed', 'unsafe']);
const effectStatuses = new Set(['started', 'completed', 'unknown']);
/** Every session status, in lifecycle order. */
export const sessionStatusNames = [
  'queued',
  'running',
  'waiting',
  'paused',
  'completed',
  'failed',
  'cancelled',
] as const satisfies readonly SessionStatus[];
export const sessionStatuses: ReadonlySet<string> = new Set(sessionStatusNames);

function bad(message: string): LongrunError {
  return new LongrunError('INVALID_ARGUMENT', message);
}

export function checkCount(name: string, value: unknown, min = 0): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw bad(`${name} must be an integer ≥ ${min} (got ${String(value)})`);
  }
  return value;
}

export function checkLeaseMs(leaseMs: unknown): number {
  checkCount('leaseMs', leaseMs, 1);
  if ((leaseMs as number) > 24 * 3600 * 1000) throw bad('leaseMs must be at most 24 hours');
  return leaseMs as number;
}

export function checkFence(fence: LeaseFence): LeaseFence {
  if (typeof fence !== 'object' || fence === null)
    throw bad('fence must be { sessionId, owner, epoch }');
  return {
    sessionId: sessionId(fence.sessionId),
    owner: workerId(fence.owner),
    epoch: checkCount('fence.epoch', fence.epoch, 1),
  };
}

/** The agent names of a claim filter, deduplicated; null when the filter names none (any agent). */
export function checkClaimFilter(filter: ClaimFilter | undefined): string[] | null {
  if (filter === undefined || filter.agents === undefined) return null;
  if (!Array.isArray(filter.agents) || filter.agents.length > 1_000) {
    throw bad('filter.agents must be an array of at most 1,000 agent names');
  }
  return [...new Set(filter.agents.map((name) => checkName('filter.agents[]', name)))];
}

export function checkName(what: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) {
    throw bad(`${what} must be a non-empty string of at most 200 characters`);
  }
  return value;
}

function checkAppendId(value: unknown): string {
  if (typeof value !== 'string' || !/^[\x21-\x7e]{8,100}$/.test(value)) {
    throw bad('appendId must be 8 to 100 printable ASCII characters without spaces');
  }
  return value;
}

function checkEffect(change: EffectChange, i: number): EffectChange {
  const at = `effects[${i}]`;
  checkCount(`${at}.step`, change.step);
  checkCount(`${at}.callIndex`, change.callIndex);
  checkName(`${at}.tool`, change.tool);
  checkName(`${at}.idempotencyKey`, change.idempotencyKey);
  if (!effectClasses.has(change.effect))
    throw bad(`${at}.effect must be pure, idempotent, keyed or unsafe`);
  if (!effectStatuses.has(change.status))
    throw bad(`${at}.status must be started, completed or unknown`);
  return change;
}

export function encodeAppend(request: AppendRequest): EncodedAppend {
  if (typeof request !== 'object' || request === null)
    throw bad('append request must be an object');
  checkFence(request.fence);
  const expectedSeq = checkCount('expectedSeq', request.expectedSeq);
  if (!Array.isArray(request.events)) throw bad('events must be an array');
  const events = request.events.map((e, i) => {
    const type: unknown = (e as { type?: unknown } | null)?.type;
    if (!isEventType(type))
      throw bad(`events[${i}].type ${JSON.stringify(type)} is not a known event type`);
    return { type, v: eventSchemaVersion, data: encodePayload(e.data, `events[${i}].data`) };
  });
  const newHeadSeq = expectedSeq + events.length;
  const status = request.status;
  if (status !== undefined && !sessionStatuses.has(status.status)) {
    throw bad(`status ${JSON.stringify(status.status)} is not a session status`);
  }
  if (status?.wakeAtMs != null) checkCount('status.wakeAtMs', status.wakeAtMs);
  if (status?.waitingFor != null) checkName('status.waitingFor', status.waitingFor);
  const checkpoint =
    request.checkpoint === undefined ? undefined : encodeCheckpoint(request.checkpoint, newHeadSeq);
  return {
    appendId: request.appendId === undefined ? newAppendId() : checkAppendId(request.appendId),
    events,
    newHeadSeq,
    effects: (request.effects ?? []).map(checkEffect),
    status,
    checkpoint,
    consumeSignals: (request.consumeSignals ?? []).map((id) => checkName('signal id', id)),
    releaseLease: request.releaseLease === true,
  };
}

/**
 * The status a session takes when an append changes it. A session that starts waiting while a
 * signal that would wake it is already in its inbox — the signal it waits for, or a cancel
 * request (sent while it still ran, before it parked) — does not wait at all: it is queued to be
 * claimed again at once. The store checks the inbox (`waitingFor`, and `cancel` for any wait).
 */
export function effectiveStatus(status: StatusChange, signalAlreadyPending: boolean): StatusChange {
  if (status.status === 'waiting' && signalAlreadyPending) {
    return { ...status, status: 'queued', waitingFor: null, wakeAtMs: null };
  }
  return status;
}

const signalWakes = new Set<SignalWake>(['if-waiting-for-it', 'interrupt', 'reopen']);

export function checkWake(wake: unknown): SignalWake {
  if (wake === undefined) return 'if-waiting-for-it';
  if (!signalWakes.has(wake as SignalWake)) {
    throw bad(`wake must be one of ${[...signalWakes].join(', ')} (got ${JSON.stringify(wake)})`);
  }
  return wake as SignalWake;
}
