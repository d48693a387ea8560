import type {
  EffectClass,
  JsonObject,
  JsonValue,
  SessionId,
  SessionState,
  TokenUsage,
  ToolContext as CoreToolContext,
  VerifyOutcome,
  WaitSpec,
} from '@longrun/core';

/**
 * What a step program's tool receives besides its arguments: the one tool context (core's Tool
 * port) without the workspace and the sandbox, which only agents have.
 */
export type ToolContext = Omit<CoreToolContext, 'files' | 'sandbox'>;

export type { VerifyOutcome };

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
