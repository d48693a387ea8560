import type { BudgetSetter, TokenUsage } from '../events.ts';
import type { Budget, BudgetName } from './budget-spec.ts';

/** List prices of a model, US dollars per million tokens. Cache prices default to the input price. */
export interface ModelPrice {
  inputUsdPerMTok: number;
  outputUsdPerMTok: number;
  cacheReadUsdPerMTok?: number;
  cacheWriteUsdPerMTok?: number;
}

/** What calls cost or may cost, in the units of the budget. */
export interface Spend {
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  cacheTokens: number;
}

/** Which model call a reservation is for; `subagent`: what a `run_subagents` call gave its children. */
export type ChargeKind = 'step' | 'compaction' | 'evaluator' | 'subagent';

/**
 * A model call's projected spend, charged before the call and until it is settled; or, kind
 * `subagent`, the budgets a `run_subagents` call carved for its children, held until they end
 * and settled with what they spent (their tool calls and own sub-agents included).
 */
export interface Reservation extends Spend {
  reservationId: string;
  kind: ChargeKind;
  modelId: string;
  /** Tool calls held for children (kind `subagent`). */
  toolCalls?: number;
  /** Children started (kind `subagent`): counted against `subAgents` from the reservation on. */
  children?: number;
}

/** What a settlement charges beyond spend: children's tool calls and their own sub-agents. */
export interface SettledCounts {
  toolCalls?: number;
  subAgents?: number;
}

/**
 * A session's budget and what it has spent, folded from its log (`budget.set`, `budget.reserved`,
 * `budget.settled`, `tool.started`). The charge rule, which makes a crash at any point safe:
 *
 * - **charged = settled spend + every open reservation.** A reservation is written (and
 *   committed) before its model call is sent, so no call goes out uncharged.
 * - A `budget.settled` closes its reservation and replaces it with the real usage. It applies
 *   only to a reservation still open: a second settlement of the same id changes nothing, so
 *   a call is never charged twice.
 * - A worker that dies between a reservation and its settlement leaves the reservation open, so
 *   it stays charged at its projection. The next worker settles every open reservation it finds
 *   as `interrupted` at that projection before it reserves anything (the call may have been
 *   billed by the provider; its usage is unknowable). The retried call is a new reservation.
 */
export interface BudgetLedger {
  limits: Budget;
  /** Settled spend. */
  spent: Spend;
  /** Reservations not yet settled, in the order made. */
  open: Reservation[];
  /** Tool calls started (re-runs of an interrupted call are not new calls), in total and by tool. */
  toolCalls: number;
  toolCallsByTool: Record<string, number>;
  /** Sub-agents started by the session and by its descendants (settled); absent: none. */
  subAgents?: number;
  /**
   * Set by the first `budget.set`: the agent's defaults have been merged (the runner records
   * them once, before any change a person makes).
   */
  defaultsApplied?: boolean;
  /** Who gave the creation budget (`session.created`'s `budgetSetBy`); absent: as the agent's. */
  setBy?: BudgetSetter;
}

/** Tokens a reservation assumes a call may write when the request names no `maxOutputTokens`. */
export const defaultReservedOutputTokens = 8_192;

export const zeroSpend: Spend = { costUsd: 0, inputTokens: 0, outputTokens: 0, cacheTokens: 0 };

export function newLedger(limits: Budget): BudgetLedger {
  return { limits, spent: zeroSpend, open: [], toolCalls: 0, toolCallsByTool: {} };
}

export function addSpend(a: Spend, b: Spend): Spend {
  return {
    costUsd: a.costUsd + b.costUsd,
    inputTokens: a.inputTokens + b.inputTokens,
    outputTokens: a.outputTokens + b.outputTokens,
    cacheTokens: a.cacheTokens + b.cacheTokens,
  };
}

/** Settled spend plus every open reservation: what the budget counts as used. */
export function chargedSpend(ledger: BudgetLedger): Spend {
  return ledger.open.reduce<Spend>((sum, r) => addSpend(sum, r), ledger.spent);
}

/** Opens a reservation (a `budget.reserved`). */
export function reserve(ledger: BudgetLedger, reservation: Reservation): BudgetLedger {
  const next = { ...ledger, open: [...ledger.open, reservation] };
  if (reservation.children) next.subAgents = (ledger.subAgents ?? 0) + reservation.children;
  return next;
}

/**
 * Closes reservation `id` with what the call really spent (a `budget.settled`). A settlement of
 * a reservation that is not open — settled before, or never made — changes nothing.
 */
export function settle(
  ledger: BudgetLedger,
  id: string,
  actual: Spend & SettledCounts,
): BudgetLedger {
  const index = ledger.open.findIndex((r) => r.reservationId === id);
  if (index < 0) return ledger;
  const open = ledger.open.slice();
  open.splice(index, 1);
  const next = { ...ledger, open, spent: addSpend(ledger.spent, actual) };
  if (actual.toolCalls) next.toolCalls = ledger.toolCalls + actual.toolCalls;
  if (actual.subAgents) next.subAgents = (ledger.subAgents ?? 0) + actual.subAgents;
  return next;
}

export function countToolCall(ledger: BudgetLedger, tool: string): BudgetLedger {
  return {
    ...ledger,
    toolCalls: ledger.toolCalls + 1,
    toolCallsByTool: {
      ...ledger.toolCallsByTool,
      [tool]: (perToolCount(ledger.toolCallsByTool, tool) ?? 0) + 1,
    },
  };
}

const perM = (tokens: number, usdPerMTok: number) => (tokens * usdPerMTok) / 1_000_000;

/**
 * What `usage` costs at `price`. `inputTokens` includes cached input; cache reads and writes are
 * priced at their own rates and the rest of the input at the input rate.
 */
export function costOf(usage: TokenUsage, price: ModelPrice): number {
  const read = usage.cacheReadTokens ?? 0;
  const write = usage.cacheWriteTokens ?? 0;
  const plain = Math.max(0, usage.inputTokens - read - write);
  return (
    perM(plain, price.inputUsdPerMTok) +
    perM(read, price.cacheReadUsdPerMTok ?? price.inputUsdPerMTok) +
    perM(write, price.cacheWriteUsdPerMTok ?? price.inputUsdPerMTok) +
    perM(usage.outputTokens, price.outputUsdPerMTok)
  );
}

/**
 * What a call with `usage` spent: the provider's cost when it reported one (`usage.costUsd`),
 * else list price; null price and no reported cost → cost 0 (only allowed without a cost budget).
 */
export function spendOf(usage: TokenUsage, price: ModelPrice | null): Spend {
  return {
    costUsd: usage.costUsd ?? (price === null ? 0 : costOf(usage, price)),
    inputTokens: usage.inputTokens,
    outputTokens: usage.outputTokens,
    cacheTokens: (usage.cacheReadTokens ?? 0) + (usage.cacheWriteTokens ?? 0),
  };
}

/** A limit a call would pass: which, the limit, what is used, what the call needs on top. */
export interface BudgetBreach {
  budget: BudgetName;
  limit: number;
  used: number;
  needed: number;
}

/** The units of `Spend`: the spend limits of a budget, a tenant's day and a sub-agent's carve. */
export const spendKeys = ['costUsd', 'inputTokens', 'outputTokens', 'cacheTokens'] as const;

/**
 * The first limit that a model call projected to spend `projected` does not fit in, or null. A
 * call fits when charged + projected ≤ limit; so spend passes a limit only by what a call spent
 * beyond its own reservation. `elapsedMs` since the session was created is checked against
 * `wallClockMs`.
 */
export function modelCallBreach(
  ledger: BudgetLedger,
  projected: Spend,
  elapsedMs: number,
): BudgetBreach | null {
  const charged = chargedSpend(ledger);
  for (const key of spendKeys) {
    const limit = ledger.limits[key];
    if (limit !== undefined && charged[key] + projected[key] > limit) {
      return { budget: key, limit, used: charged[key], needed: projected[key] };
    }
  }
  const wall = ledger.limits.wallClockMs;
  if (wall !== undefined && elapsedMs >= wall) {
    return { budget: 'wallClockMs', limit: wall, used: elapsedMs, needed: 0 };
  }
  return null;
}

/** The step limit, checked before each model turn (`steps` taken so far). */
export function stepBreach(ledger: BudgetLedger, steps: number): BudgetBreach | null {
  const limit = ledger.limits.steps;
  return limit !== undefined && steps >= limit
    ? { budget: 'steps', limit, used: steps, needed: 1 }
    : null;
}

/**
 * `tool`'s entry of a per-tool record (a limit or a count), own properties only: a tool named
 * `constructor` or `toString` must not read Object.prototype's member (which made its limit
 * never hold).
 */
export function perToolCount(
  record: Readonly<Record<string, number>> | undefined,
  tool: string,
): number | undefined {
  return record !== undefined && Object.hasOwn(record, tool) ? record[tool] : undefined;
}

/** The tool-call limits, in total and for `tool`, checked before a call of it starts. */
export function toolCallBreach(ledger: BudgetLedger, tool: string): BudgetBreach | null {
  const total = ledger.limits.toolCalls;
  // Children's tool calls are held by their call's reservation until they end.
  const held = ledger.open.reduce((n, r) => n + (r.toolCalls ?? 0), ledger.toolCalls);
  if (total !== undefined && held >= total) {
    return { budget: 'toolCalls', limit: total, used: held, needed: 1 };
  }
  const perTool = perToolCount(ledger.limits.toolCallsPerTool, tool);
  const used = perToolCount(ledger.toolCallsByTool, tool) ?? 0;
  if (perTool !== undefined && used >= perTool) {
    return { budget: `toolCallsPerTool.${tool}`, limit: perTool, used, needed: 1 };
  }
  return null;
}

/** The words of a pause: which budget, how much is used, and how to go on. */
export function describeBreach(breach: BudgetBreach): string {
  const fmt = (n: number) => (breach.budget === 'costUsd' ? `$${n.toFixed(4)}` : String(n));
  const needs = breach.needed > 0 ? `, and the next call needs ${fmt(breach.needed)} more` : '';
  return `BUDGET_EXCEEDED: the ${breach.budget} budget of ${fmt(breach.limit)} is used up (${fmt(breach.used)} used${needs}); raise it (longrun sessions budget <id> ${budgetFlagOf(breach.budget)}, or POST /v1/sessions/{id}/budget) to resume`;
}

/**
 * The `longrun sessions budget` flag that raises `budget`, with `<n>` for the new limit:
 * `--cost-usd <n>`, and a tool's own limit `--tool <name>=<n>` (the CLI's budget-flags.ts; a
 * test there parses every one of these with the CLI's parser).
 */
export function budgetFlagOf(budget: BudgetName): string {
  const perTool = 'toolCallsPerTool.';
  if (budget.startsWith(perTool)) return `--tool ${budget.slice(perTool.length)}=<n>`;
  return `--${budget.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} <n>`;
}

/** Remaining room under each limit set (never negative); null for a limit not set. */
export function remainingBudget(ledger: BudgetLedger): Partial<Record<keyof Spend, number>> {
  const charged = chargedSpend(ledger);
  const out: Partial<Record<keyof Spend, number>> = {};
  for (const key of spendKeys) {
    const limit = ledger.limits[key];
    if (limit !== undefined) out[key] = Math.max(0, limit - charged[key]);
  }
  return out;
}
