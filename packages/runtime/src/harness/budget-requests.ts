import {
  applyBudgetChange,
  capBudget,
  sameBudget,
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
 * (`budget` signals, consumed with it) in the order sent. Every budget recorded is bounded by the
 * tenant's `cap` (`WorkerOptions.tenantBudgets`): a raise past it is recorded as the cap, and a
 * cap tighter than the recorded budget (the worker's configuration changed) is recorded too. Run after a claim (after the resume
 * requests, whose head check must see the log as it was paused) and again when a call would pass
 * the budget, so a raise sent meanwhile is seen before the session pauses. Returns whether a
 * change was recorded.
 */
export async function takeBudgetRequests(
  ctx: AgentRunContext,
  cap: Budget | undefined = ctx.tenantBudget,
): Promise<boolean> {
  const { writer, agent } = ctx;
  const bounded = (budget: Budget) => (cap === undefined ? budget : capBudget(budget, cap));
  const pending = await ctx.store.pendingSignals(writer.lease.sessionId, signalNames.budget);
  const ledger = writer.state.budget ?? null;
  const events: NewEvent[] = [];
  let current: Budget = ledger?.limits ?? {};
  if ((agent.budget !== undefined || cap !== undefined) && ledger?.defaultsApplied !== true) {
    current = bounded({ ...agent.budget, ...current });
    events.push(event('budget.set', { budget: current, by: `agent:${agent.name}`, reason: null }));
  }
  for (const signal of pending) {
    const request = readSignal(signalNames.budget, signal.payload);
    if (request === null) continue;
    current = bounded(applyBudgetChange(current, request.change));
    events.push(
      event('budget.set', {
        budget: current,
        by: request.by,
        reason: request.reason,
        change: request.change,
      }),
    );
  }
  if (events.length === 0 && ledger !== null && !sameBudget(bounded(current), current)) {
    current = bounded(current);
    events.push(event('budget.set', { budget: current, by: 'tenant', reason: 'the tenant cap' }));
  }
  if (events.length === 0 && pending.length === 0) return false;
  await writer.append(events, { consumeSignals: pending.map((s) => s.id) });
  return events.length > 0;
}
