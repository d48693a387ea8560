import type { JsonObject, JsonValue } from './json.ts';
import type { SessionId } from './ids.ts';

/** Bumped when an event's data changes shape; readers fold every version they know. */
export const eventSchemaVersion = 1;

/**
 * What a tool call does to the world, which decides what a resumed step may do with a call that
 * started but never recorded a result (DESIGN §4):
 * - `pure` / `idempotent`: run it again;
 * - `keyed`: run it again with the same idempotency key, which the tool hands to the system it
 *   changes so that system applies it once;
 * - `unsafe`: never run again blindly; the outcome is recorded as unknown.
 */
export type EffectClass = 'pure' | 'idempotent' | 'keyed' | 'unsafe';

export interface ToolCall {
  callIndex: number;
  tool: string;
  args: JsonObject;
}

export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
}

export type WaitSpec = { kind: 'signal'; signal: string } | { kind: 'timer'; untilMs: number };

/** Event data by type. Event names are facts: `noun.past-tense-verb`. */
export interface EventDataByType {
  'session.created': { agent: string; input: JsonValue };
  'model.responded': { step: number; text: string; toolCalls: ToolCall[]; usage: TokenUsage };
  'tool.started': {
    step: number;
    callIndex: number;
    tool: string;
    effect: EffectClass;
    idempotencyKey: string;
  };
  'tool.completed': {
    step: number;
    callIndex: number;
    tool: string;
    ok: boolean;
    output: JsonValue;
    /** How many times the tool was started for this call; ignored by transcript equality. */
    attempt: number;
  };
  /** An `unsafe` call started and its worker died before its result was recorded. */
  'tool.interrupted': { step: number; callIndex: number; tool: string; outcome: 'unknown' };
  'wait.started': { waitId: string } & WaitSpec;
  'wait.resolved': { waitId: string; signalId: string | null; payload: JsonValue };
  'session.completed': { output: JsonValue };
  'session.failed': { code: string; message: string };
}

export type EventType = keyof EventDataByType;
export const eventTypes = [
  'session.created',
  'model.responded',
  'tool.started',
  'tool.completed',
  'tool.interrupted',
  'wait.started',
  'wait.resolved',
  'session.completed',
  'session.failed',
] as const satisfies readonly EventType[];

export type NewEvent = {
  [T in EventType]: { type: T; data: EventDataByType[T] };
}[EventType];

/** An event as the store returns it: committed, with its position in the session's log. */
export type StoredEvent = NewEvent & {
  sessionId: SessionId;
  /** Contiguous from 1 per session. */
  seq: number;
  /** Schema version of `data`. */
  v: number;
  /** Commit time by the store's clock, epoch milliseconds. */
  atMs: number;
  /** Lease epoch of the writer; 0 for writes made without a lease (session creation). */
  epoch: number;
};

export function isEventType(value: unknown): value is EventType {
  return typeof value === 'string' && (eventTypes as readonly string[]).includes(value);
}

/** Builds an event with its data type checked against its name. */
export function event<T extends EventType>(type: T, data: EventDataByType[T]): NewEvent {
  return { type, data } as NewEvent;
}
