import type { JsonValue } from './json.ts';
import { checkBudgetChange, type BudgetChange } from './budget/budget-spec.ts';
import { isApprovalScope, type ApprovalScope } from './events.ts';

/**
 * The signals longrun sends a session itself, by name, and their payloads (DESIGN §11: a closed
 * vocabulary). Any other name is the agent's own: a durable wait for a signal of that name.
 */
export interface SignalPayloadByName {
  /** A follow-up message from a person: starts a new turn. */
  'user.message': { text: string };
  /** A person cancels the session. */
  cancel: { by: string; reason: string | null };
  /**
   * A person resumes a paused session. `pausedAtSeq`, the head they saw it paused at, tells this
   * resume from one that came after the session had moved on.
   */
  resume: { by: string; reason: string | null; pausedAtSeq: number };
  /** A person changes the session's budget; the runner records it as `budget.set`. */
  budget: { by: string; reason: string | null; change: BudgetChange };
}

export type SignalName = keyof SignalPayloadByName;

export const signalNames = {
  userMessage: 'user.message',
  cancel: 'cancel',
  resume: 'resume',
  budget: 'budget',
} as const satisfies Record<string, SignalName>;

/** What the name of every approval's signal starts with; a session waiting on a person waits for one. */
export const approvalSignalPrefix = 'approval:';

/** What the name of every webhook's signal starts with: a delivery to `POST /v1/hooks/{token}`. */
export const webhookSignalPrefix = 'hook:';

/** The signal a webhook's deliveries arrive as. */
export function webhookSignal(hookId: string): string {
  return `${webhookSignalPrefix}${hookId}`;
}

/**
 * Whether a signal name is the runtime's own (messages, cancel, resume, approval decisions,
 * webhook deliveries): such a signal is sent only through its own command, with its checks.
 */
export function isRuntimeSignal(name: string): boolean {
  return (
    (Object.values(signalNames) as string[]).includes(name) ||
    name.startsWith(approvalSignalPrefix) ||
    name.startsWith(webhookSignalPrefix) ||
    name.startsWith(subAgentSignalPrefix)
  );
}

/**
 * What the name of the signal starts with that wakes a parent when a sub-agent's session ends:
 * `subagent:<step>:<callIndex>`, the call that started it. Its payload is not trusted: the
 * parent reads its children's outcomes from the store.
 */
export const subAgentSignalPrefix = 'subagent:';

export function subAgentSignal(step: number, callIndex: number): string {
  return `${subAgentSignalPrefix}${step}:${callIndex}`;
}

/** The signal a person's decision on an approval arrives as. */
export function approvalSignal(approvalId: string): string {
  return `${approvalSignalPrefix}${approvalId}`;
}

/** A person's decision on an approval: the payload of `approvalSignal(id)`. */
export interface ApprovalDecision {
  decision: 'granted' | 'denied';
  by: string;
  reason: string | null;
  /** If given, must equal the requested call's hash: a decision made about other arguments is refused. */
  argsHash?: string;
  /** How far a grant reaches (absent: `call`); a decision with a scope that is not one is malformed. */
  scope?: ApprovalScope;
}

function asObject(payload: JsonValue): Record<string, JsonValue | undefined> | null {
  return payload !== null && typeof payload === 'object' && !Array.isArray(payload)
    ? payload
    : null;
}

const readers: { [N in SignalName]: (payload: JsonValue) => SignalPayloadByName[N] | null } = {
  'user.message': (payload) => {
    const text = asObject(payload)?.text;
    return typeof text === 'string' ? { text } : null;
  },
  cancel: (payload) => {
    const p = asObject(payload);
    return {
      by: typeof p?.by === 'string' ? p.by : 'unknown',
      reason: typeof p?.reason === 'string' ? p.reason : null,
    };
  },
  resume: (payload) => {
    const p = asObject(payload);
    if (p === null) return null;
    const { by, reason, pausedAtSeq } = p;
    if (typeof by !== 'string' || typeof pausedAtSeq !== 'number') return null;
    if (reason !== null && typeof reason !== 'string') return null;
    return { by, reason, pausedAtSeq };
  },
  budget: (payload) => {
    const p = asObject(payload);
    if (p === null || typeof p.by !== 'string') return null;
    const reason = typeof p.reason === 'string' ? p.reason : null;
    try {
      return { by: p.by, reason, change: checkBudgetChange(p.change) };
    } catch {
      return null;
    }
  },
};

/**
 * Reads a signal's payload as its name's; null for a payload that is not one (signals are not
 * fenced: anyone may send anything). A cancel is always a cancel: `by` and `reason` default.
 */
export function readSignal<N extends SignalName>(
  name: N,
  payload: JsonValue,
): SignalPayloadByName[N] | null {
  return readers[name](payload);
}

/** Reads a decision signal's payload; anything malformed counts as no decision at all. */
export function readDecision(payload: JsonValue): ApprovalDecision | null {
  const p = asObject(payload);
  if (p === null) return null;
  const { decision, by, reason, argsHash: hash, scope } = p;
  if (decision !== 'granted' && decision !== 'denied') return null;
  if (typeof by !== 'string') return null;
  if (scope !== undefined && !isApprovalScope(scope)) return null;
  return {
    decision,
    by,
    reason: typeof reason === 'string' ? reason : null,
    ...(typeof hash === 'string' ? { argsHash: hash } : {}),
    ...(scope === undefined ? {} : { scope }),
  };
}
