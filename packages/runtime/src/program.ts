import type {
  EffectClass,
  JsonObject,
  JsonValue,
  SessionId,
  SessionState,
  TokenUsage,
  WaitSpec,
} from '@longrun/core';

/** What the tool receives besides its arguments. */
export interface ToolContext {
  sessionId: SessionId;
  step: number;
  callIndex: number;
  /**
   * Derived from (session, step, call index): the same on every attempt of this call, so a
   * `keyed` tool hands it to the system it changes and that system applies the call once.
   */
  idempotencyKey: string;
  /** 1 on the first run; more when a resumed step runs the call again. */
  attempt: number;
  /** Aborted when the worker loses its lease or stops: stop side effects promptly. */
  signal: AbortSignal;
  /**
   * Whether this worker still holds the session by its own clocks (its lease and its liveness),
   * checked now. It turns false the moment either has lapsed — also before `signal` aborts, e.g.
   * right after the process was frozen, when callbacks run in whatever order they became due. A
   * tool with several external steps checks it before each one and stops when it is false.
   */
  holding(): boolean;
}

export type VerifyOutcome =
  { applied: true; output: JsonValue } | { applied: false } | { applied: 'unknown' };

export interface ToolDefinition {
  name: string;
  effect: EffectClass;
  run(args: JsonObject, context: ToolContext): Promise<JsonValue>;
  /** For `unsafe` tools: tells whether an interrupted call took effect, so it is not repeated blindly. */
  verify?(args: JsonObject, context: ToolContext): Promise<VerifyOutcome>;
}

/** What the model decided to do next. */
export type ModelDecision =
  | {
      kind: 'tool-calls';
      text: string;
      toolCalls: { tool: string; args: JsonObject }[];
      usage: TokenUsage;
    }
  | { kind: 'wait'; wait: WaitSpec }
  | { kind: 'finish'; output: JsonValue };

/**
 * The minimal step program the durable core runs: a model that decides from the folded state and
 * the tools it may call. The agent harness builds real agents on the same loop.
 */
export interface StepProgram {
  name: string;
  decide(state: SessionState): Promise<ModelDecision>;
  tools: readonly ToolDefinition[];
}

export function idempotencyKeyFor(sessionId: SessionId, step: number, callIndex: number): string {
  return `${sessionId}:${step}:${callIndex}`;
}
