import { chargedSpend, perToolCount, remainingBudget, type SessionState } from '@longrun/core';
import type { SessionViewData } from './schemas.ts';

/**
 * A session's budget as the API shows it: the limits, what is used (settled spend plus open
 * reservations: what the harness checks the next call against), and the room left under each
 * limit set. `nowMs` only ages the wall clock for display; the harness checks it by the store's clock.
 */
export function budgetView(state: SessionState, nowMs: number): SessionViewData['budget'] {
  const ledger = state.budget;
  if (!ledger) return null;
  const charged = chargedSpend(ledger);
  const { limits } = ledger;
  const remaining: Record<string, number> = { ...remainingBudget(ledger) };
  const left = (limit: number, used: number) => Math.max(0, limit - used);
  if (limits.toolCalls !== undefined)
    remaining.toolCalls = left(limits.toolCalls, ledger.toolCalls);
  for (const [tool, limit] of Object.entries(limits.toolCallsPerTool ?? {})) {
    remaining[`toolCallsPerTool.${tool}`] = left(
      limit,
      perToolCount(ledger.toolCallsByTool, tool) ?? 0,
    );
  }
  if (limits.steps !== undefined) remaining.steps = left(limits.steps, state.steps);
  if (limits.subAgents !== undefined)
    remaining.subAgents = left(limits.subAgents, ledger.subAgents ?? 0);
  if (limits.wallClockMs !== undefined && state.createdAtMs !== undefined) {
    remaining.wallClockMs = left(limits.wallClockMs, nowMs - state.createdAtMs);
  }
  return {
    limits,
    used: {
      ...charged,
      toolCalls: ledger.toolCalls,
      steps: state.steps,
      subAgents: ledger.subAgents ?? 0,
    },
    reservedUsd: ledger.open.reduce((sum, r) => sum + r.costUsd, 0),
    remaining,
  };
}
