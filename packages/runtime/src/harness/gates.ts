import type {
  GatePoint,
  JsonObject,
  OpenCall,
  SessionFailureCode,
  SessionState,
  Tool,
} from '@longrun/core';
import type { AgentDefinition } from '../agent/define-agent.ts';

/**
 * A gate's answer about one call:
 * - `allow`: the next gate is asked; the call goes ahead when every gate allowed it;
 * - `deny`: the call is not made. Before a model call the session fails (with `code`, default
 *   GATE_DENIED); before a tool call the model gets the reason as the call's error result;
 * - `ask`: a person decides (a durable approval bound to the tool call and its exact arguments, or
 *   to the step of a model call). A granted approval satisfies every gate that asks about the
 *   call; a denied or expired one answers the call like a deny;
 * - `pause`: the session is parked as `paused` with the reason; when a person resumes it, the
 *   chain is asked again (so raising a limit and resuming lets it go on). `evidence` is what
 *   the gate saw, recorded with its decision for the person who decides whether to resume;
 *   `code` names why when there is a code for it (BUDGET_EXCEEDED), also recorded.
 */
export type GateDecision =
  | { decision: 'allow'; reason?: string; rule?: GateRule }
  | { decision: 'deny'; reason: string; code?: SessionFailureCode; rule?: GateRule }
  | { decision: 'ask'; reason: string; rule?: GateRule }
  | { decision: 'pause'; reason: string; rule?: GateRule; evidence?: JsonObject; code?: string };

/** What decided, for a gate that names its rules (the policy: its layer and rule). */
export interface GateRule {
  layer: string;
  rule: string;
}

export const allow: { decision: 'allow' } = { decision: 'allow' };

/** What a gate sees before a model call (every attempt, retries included). */
export interface ModelCallGate {
  agent: AgentDefinition;
  /** The folded state the call would be made from. */
  state: SessionState;
  /** The step the call would make. */
  step: number;
}

/** What a gate sees before a tool call starts (not when an interrupted call is recovered). */
export interface ToolCallGate {
  agent: AgentDefinition;
  state: SessionState;
  step: number;
  call: OpenCall;
  tool: Tool;
  /** The call's arguments, validated by the tool's input schema. */
  input: unknown;
}

/**
 * One link of the harness's chain (DESIGN §11). Gates are synchronous and decide from what they
 * are given (the folded log and the call): they run before every model call and tool call, so a
 * gate that needs data keeps it in the log, where a resumed worker finds it too. Limits, policy,
 * budgets and loop control are gates and live nowhere else.
 */
export interface Gate {
  /** Named in every decision it records. */
  readonly name: string;
  /**
   * Its tool-call decisions are recorded as `policy.decided`, every one of them (allow included),
   * instead of `gate.decided` for the others only.
   */
  readonly recordsEveryDecision?: 'policy.decided';
  beforeModelCall?(at: ModelCallGate): GateDecision;
  beforeToolCall?(at: ToolCallGate): GateDecision;
}

/** The first gate of `gates` that does not allow the call, with its decision; null if all allow. */
export type Verdict<D> = {
  gate: string;
  point: GatePoint;
  decision: Exclude<D, { decision: 'allow' }>;
  /** Set for a gate that records every decision (`Gate.recordsEveryDecision`). */
  records?: 'policy.decided';
};

/** A decision that let a tool call go ahead, of a gate that records every decision. */
export interface Passed {
  gate: string;
  records: 'policy.decided';
  /** An allow, or an ask a person granted: never a pause or a deny, which stop the call. */
  decision: Extract<GateDecision, { decision: 'allow' | 'ask' }>;
  /** An `ask` a person already granted. */
  approved: boolean;
}

/** `approved`: a person granted the call, which satisfies every gate that asks about it. */
export function checkModelCall(
  gates: readonly Gate[],
  at: ModelCallGate,
  approved = false,
): Verdict<GateDecision> | null {
  for (const gate of gates) {
    const decided = gate.beforeModelCall?.(at);
    if (decided === undefined || decided.decision === 'allow') continue;
    if (!(approved && decided.decision === 'ask'))
      return { gate: gate.name, point: 'model.call', decision: decided };
  }
  return null;
}

/**
 * `approved`: a person granted the call, which satisfies every gate that asks about it.
 * `passed`: where the decisions that let the call go ahead are collected, for the gates that
 * record every decision; the caller records them with the call's start.
 */
export function checkToolCall(
  gates: readonly Gate[],
  at: ToolCallGate,
  approved = false,
  passed?: Passed[],
): Verdict<GateDecision> | null {
  for (const gate of gates) {
    const decided = gate.beforeToolCall?.(at);
    if (decided === undefined) continue;
    const records = gate.recordsEveryDecision;
    if (decided.decision !== 'allow' && !(approved && decided.decision === 'ask'))
      return {
        gate: gate.name,
        point: 'tool.call',
        decision: decided,
        ...(records === undefined ? {} : { records }),
      };
    if (records !== undefined && passed !== undefined)
      passed.push({
        gate: gate.name,
        records,
        decision: decided,
        approved: decided.decision === 'ask',
      });
  }
  return null;
}
