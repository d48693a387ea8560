import {
  applyBudgetChange,
  capBudget,
  sameBudget,
  startingBudget,
  event,
  readSignal,
  signalNames,
  type Budget,
  type BudgetName,
  type BudgetSetter,
  type NewEvent,
} from '@longrun/core';
import type { AgentRunContext } from '../agent/agent-context.ts';

/**
 * Records the session's budget changes as `budget.set`, in one commit: first, once per session,
 * the agent's `budget` and the limits the session was created with (`startingEvent`); then each person's change
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
  const setBy = ledger?.setBy;
  const first = agent.budget !== undefined || cap !== undefined || setBy !== undefined;
  if (first && ledger?.defaultsApplied !== true) {
    const start = startingEvent(agent, current, setBy, bounded);
    current = start.budget;
    events.push(...start.events);
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

/**
 * The session's first `budget.set`, in one event (a fork copies a log up to any event: two would
 * let it end between them). From a log that names who gave the creation budget, recorded by them:
 * the creation budget over the agent's own, held to the agent's limits unless they may raise
 * them (`startingBudget`). From an older log, the two merged as the agent's own, as before.
 */
function startingEvent(
  agent: AgentRunContext['agent'],
  created: Budget,
  setBy: BudgetSetter | undefined,
  bounded: (budget: Budget) => Budget,
): { budget: Budget; events: NewEvent[] } {
  if (setBy === undefined) {
    const budget = bounded({ ...agent.budget, ...created });
    const by = `agent:${agent.name}`;
    return { budget, events: [event('budget.set', { budget, by, reason: null })] };
  }
  const start = startingBudget(agent.budget, created, setBy.mayRaise);
  const budget = bounded(start.budget);
  const reason = creationReason(agent.budget === undefined ? null : agent.name, start.lowered);
  return { budget, events: [event('budget.set', { budget, by: setBy.by, reason })] };
}

function creationReason(agentWithBudget: string | null, lowered: readonly BudgetName[]): string {
  const given = 'the budget the session was created with';
  if (agentWithBudget === null) return given;
  const over = `${given}, over agent ${agentWithBudget}'s own`;
  if (lowered.length === 0) return over;
  return `${over}; ${lowered.join(', ')} held to the agent's (only an admin may raise them)`;
}
