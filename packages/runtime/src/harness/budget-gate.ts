import {
  describeBreach,
  stepBreach,
  toolCallBreach,
  type BudgetBreach,
  type SessionState,
} from '@longrun/core';
import { allow, type Gate, type GateDecision } from './gates.ts';

export const budgetExceededCode = 'BUDGET_EXCEEDED';

function pauseFor(breach: BudgetBreach | null): GateDecision {
  if (breach === null) return allow;
  return { decision: 'pause', reason: describeBreach(breach), code: budgetExceededCode };
}

function ledgerOf(state: SessionState) {
  return state.budget ?? null;
}

/**
 * The session's budget for what is counted, not projected: model turns (`steps`) before a model
 * call, tool calls in total and per tool before a tool call. Passing one pauses the session
 * (BUDGET_EXCEEDED) until a person raises it. Spend (cost, tokens) and wall-clock time are
 * checked when each model call is reserved (budget-charge.ts), where its projection is known.
 */
export const budgetGate: Gate = {
  name: 'budget',
  beforeModelCall: ({ state }) => {
    const ledger = ledgerOf(state);
    return ledger === null ? allow : pauseFor(stepBreach(ledger, state.steps));
  },
  beforeToolCall: ({ state, call }) => {
    const ledger = ledgerOf(state);
    return ledger === null ? allow : pauseFor(toolCallBreach(ledger, call.tool));
  },
};
