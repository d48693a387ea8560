import {
  LongrunError,
  checkBudgetChange,
  signalNames,
  type BudgetChange,
  type SessionId,
  type SessionRecord,
  type SessionStore,
  type SignalPayloadByName,
} from '@longrun/core';
import { resumeSession } from './session-commands.ts';

/** What a pause for the budget's reason starts with (core's `describeBreach`). */
const budgetPausePrefix = 'BUDGET_EXCEEDED';

export interface BudgetChangeRequest {
  by: string;
  reason: string | null;
  /** A number sets a limit, `null` removes it; limits not named stay as they are. */
  change: BudgetChange;
}

/**
 * Changes a session's budget (raise a limit, add one, or remove one with `null`). The change is
 * a `budget` signal, which the runner records as `budget.set` (the log stays written only by the
 * lease holder): at its next claim, or before it would pause for the budget. A session paused for
 * BUDGET_EXCEEDED is resumed with it, so the runner that claims it re-checks the call that did
 * not fit (and pauses again if the raise was not enough). A finished session: INVALID_STATE.
 */
export async function changeBudget(
  store: SessionStore,
  id: SessionId,
  request: BudgetChangeRequest,
): Promise<{ session: SessionRecord; resumed: boolean }> {
  const change = checkBudgetChange(request.change);
  const session = await store.getSession(id);
  if (['completed', 'failed', 'cancelled'].includes(session.status)) {
    throw new LongrunError(
      'INVALID_STATE',
      `session ${id} is ${session.status}; a budget applies only to a session that can still run`,
    );
  }
  const payload = {
    by: request.by,
    reason: request.reason,
    change,
  } satisfies SignalPayloadByName['budget'];
  await store.sendSignal(id, signalNames.budget, payload);
  const pausedForBudget =
    session.status === 'paused' && (session.statusReason ?? '').startsWith(budgetPausePrefix);
  if (!pausedForBudget) return { session, resumed: false };
  await resumeSession(store, id, {
    by: request.by,
    reason: request.reason ?? 'the budget was raised',
  });
  return { session, resumed: true };
}
