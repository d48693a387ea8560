import {
  chargedSpend,
  perToolCount,
  spendKeys,
  type BudgetLedger,
  type Spend,
} from './budget-ledger.ts';
import type { Budget } from './budget-spec.ts';

/**
 * What one `run_subagents` call holds of its parent's budget while its children run: the sum of
 * the limits it gave them, under the parent's limits that are set. Recorded as the call's
 * `budget.reserved` (kind `subagent`) and settled with what the children really spent.
 */
export interface SubAgentHold extends Spend {
  toolCalls: number;
  /** The children started by the call (each counts against the parent's `subAgents` limit). */
  children: number;
}

/** The budgets of a call's children, or why the parent cannot give them what they ask for. */
export type SubAgentCarve =
  | { ok: true; budgets: Budget[]; hold: SubAgentHold }
  | { ok: false; limit: string; reason: string };

type CarvedKey = (typeof spendKeys)[number] | 'toolCalls' | 'subAgents';

/** Tool calls the ledger counts: started ones plus those open reservations hold (children's). */
export function heldToolCalls(ledger: BudgetLedger): number {
  return ledger.open.reduce((n, r) => n + (r.toolCalls ?? 0), ledger.toolCalls);
}

/** Sub-agents the ledger counts: started by the session and by its descendants. */
export function heldSubAgents(ledger: BudgetLedger): number {
  return ledger.subAgents ?? 0;
}

function remainingOf(ledger: BudgetLedger, key: CarvedKey): number | undefined {
  const limit = ledger.limits[key];
  if (limit === undefined) return undefined;
  const used =
    key === 'toolCalls'
      ? heldToolCalls(ledger)
      : key === 'subAgents'
        ? heldSubAgents(ledger)
        : chargedSpend(ledger)[key];
  return Math.max(0, limit - used);
}

const show = (key: string, n: number) => (key === 'costUsd' ? `$${n.toFixed(4)}` : String(n));

/**
 * Carves the budgets of `asked.length` children out of what their parent has left (DESIGN §7):
 * a child gets at most what was asked for it and never more than the parent has. Per limit the
 * parent sets (cost, tokens, tool calls in total and by tool, sub-agents):
 *
 * - the children's asks must fit together in what remains, else the call is refused, naming the
 *   limit (a request for more than the parent has gets nothing);
 * - children that ask nothing share the rest equally (whole units for counts);
 * - a child whose share would be nothing is refused too: it could not make one call.
 *
 * `wallClockMs` is not shared (children run in parallel): each gets the parent's time left, or
 * less if asked. `steps` counts a session's own turns, so a child gets what was asked, if
 * anything. Limits the parent does not set pass through as asked. `elapsedMs`: the parent's age.
 */
export function carveSubAgentBudgets(
  ledger: BudgetLedger | null | undefined,
  asked: readonly (Budget | undefined)[],
  elapsedMs: number,
): SubAgentCarve {
  const n = asked.length;
  const budgets: Budget[] = asked.map((a) => ({ ...a }));
  const hold: SubAgentHold = {
    costUsd: 0,
    inputTokens: 0,
    outputTokens: 0,
    cacheTokens: 0,
    toolCalls: 0,
    children: n,
  };
  if (!ledger) return { ok: true, budgets, hold };
  const subAgentsLeft = remainingOf(ledger, 'subAgents');
  if (subAgentsLeft !== undefined && n > subAgentsLeft) {
    return {
      ok: false,
      limit: 'subAgents',
      reason: `the subAgents budget has room for ${subAgentsLeft} more sub-agent(s); ${n} were asked for`,
    };
  }
  /**
   * Fills the limit (`get`/`set`) of the children that asked none with an equal share of what
   * `left` has after the asks; returns why not when the asks do not fit, or when a share is
   * nothing and `needed` (a child with none of it could not make one call).
   */
  const share = (
    key: string,
    left: number,
    integer: boolean,
    needed: boolean,
    get: (b: Budget) => number | undefined,
    set: (b: Budget, v: number) => void,
  ): string | null => {
    let askedSum = 0;
    let open = 0;
    for (const b of budgets) {
      const v = get(b);
      if (v === undefined) open++;
      else askedSum += v;
    }
    if (askedSum > left) {
      return `the children ask for ${show(key, askedSum)} of ${key} together and the parent has ${show(key, left)} left`;
    }
    if (open === 0) return null;
    const rest = left - askedSum;
    const each = integer ? Math.floor(rest / open) : rest / open;
    if (each <= 0 && needed) {
      return `the parent has ${show(key, rest)} of ${key} left to share among ${open} sub-agent(s): not enough for one call each`;
    }
    for (const b of budgets) if (get(b) === undefined) set(b, each);
    return null;
  };
  const limits: [CarvedKey, boolean][] = [
    ...spendKeys.map((k): [CarvedKey, boolean] => [k, k !== 'costUsd']),
    ['toolCalls', true],
    ['subAgents', true],
  ];
  for (const [key, integer] of limits) {
    const left = remainingOf(ledger, key);
    if (left === undefined) continue;
    // The children themselves count against the parent's subAgents; the rest is theirs to give,
    // and a child given none simply starts none.
    const room = key === 'subAgents' ? left - n : left;
    const refused = share(
      key,
      room,
      integer,
      key !== 'subAgents',
      (b) => b[key],
      (b, v) => {
        b[key] = v;
      },
    );
    if (refused !== null) return { ok: false, limit: key, reason: refused };
    if (key !== 'subAgents') hold[key] = sumOf(budgets, key);
  }
  for (const [tool, limit] of Object.entries(ledger.limits.toolCallsPerTool ?? {})) {
    const left = Math.max(0, limit - (perToolCount(ledger.toolCallsByTool, tool) ?? 0));
    const key = `toolCallsPerTool.${tool}`;
    // A child that gets no call of one tool still works with the others.
    const refused = share(
      key,
      left,
      true,
      false,
      (b) => b.toolCallsPerTool?.[tool],
      (b, v) => {
        b.toolCallsPerTool = { ...b.toolCallsPerTool, [tool]: v };
      },
    );
    if (refused !== null) return { ok: false, limit: key, reason: refused };
  }
  const wall = ledger.limits.wallClockMs;
  if (wall !== undefined) {
    const left = Math.max(0, wall - elapsedMs);
    if (left === 0) {
      return { ok: false, limit: 'wallClockMs', reason: 'the wallClockMs budget is used up' };
    }
    for (const b of budgets) b.wallClockMs = Math.min(b.wallClockMs ?? left, left);
  }
  return { ok: true, budgets, hold };
}

function sumOf(budgets: readonly Budget[], key: CarvedKey): number {
  return budgets.reduce((s, b) => s + (b[key] ?? 0), 0);
}
