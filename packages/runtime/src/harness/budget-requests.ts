import {
  applyBudgetChange,
  event,
  readSignal,
  signalNames,
  type Budget,
  type NewEvent,
} from '@longrun/core';
import type { AgentRunContext } from '../agent/agent-context.ts';

/**
 * Records the session's budget changes as `budget.set`, in one commit: first, once per session,
 * the agent's `budget` under the limits the session was created with; then each person's change
 * (`budget` signals, consumed with it) in the order sent. Run after a claim (after the resume
 * requests, whose head check must see the log as it was paused) and again when a call would pass
 * the budget, so a raise sent meanwhile is seen before the session pauses. Returns whether a
 * change was recorded.
 */
export async function takeBudgetRequests(ctx: AgentRunContext): Promise<boolean> {
  const { writer, agent } = ctx;
  const pending = await ctx.store.pendingSignals(writer.lease.sessionId, signalNames.budget);
  const ledger = writer.state.budget ?? null;
  const events: NewEvent[] = [];
  let current: Budget = ledger?.limits ?? {};
  if (agent.budget !== undefined && ledger?.defaultsApplied !== true) {
    current = { ...agent.budget, ...current };
    events.push(event('budget.set', { budget: current, by: `agent:${agent.name}`, reason: null }));
  }
  for (const signal of pending) {
    const request = readSignal(signalNames.budget, signal.payload);
    if (request === null) continue;
    current = applyBudgetChange(current, request.change);
    events.push(
      event('budget.set', {
        budget: current,
        by: request.by,
        reason: request.reason,
        change: request.change,
      }),
    );
  }
  if (events.length === 0 && pending.length === 0) return false;
  await writer.append(events, { consumeSignals: pending.map((s) => s.id) });
  return events.length > 0;
}
