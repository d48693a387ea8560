import {
  LongrunError,
  costOf,
  defaultReservedOutputTokens,
  describeBreach,
  event,
  hasLimits,
  isLongrunError,
  modelCallBreach,
  spendOf,
  type BudgetBreach,
  type ChargeKind,
  type ModelPrice,
  type ModelResponse,
  type NewEvent,
  type Reservation,
  type Spend,
  type TenantDayBreach,
} from '@longrun/core';
import { priceOf } from '@longrun/models';
import type { AgentRunContext } from '../agent/agent-context.ts';

/** A model call about to be made: what it is for, its model, and its size. */
export interface ChargeRequest {
  kind: ChargeKind;
  step: number;
  attempt: number;
  modelId: string;
  /** Estimated input tokens of the request (instructions, tools and messages). */
  inputTokens: number;
  /** The request's output cap; absent: `defaultReservedOutputTokens`. */
  maxOutputTokens: number | undefined;
}

/** A reservation made for a call, with the price its settlement is made at. */
export interface HeldReservation {
  reservation: Reservation;
  price: ModelPrice | null;
  /** Also charged to the tenant's day (`tenantDailyBudget`): settled there after the log. */
  tenantDay: boolean;
}

/**
 * Reserves a model call's projected spend before the call is sent (every attempt: retries,
 * recovery attempts, compaction summaries, evaluator calls), per the charge rule of core's
 * `BudgetLedger`: reservations left open by a worker that died are settled first, as
 * `interrupted` at their projection; then the call must fit in what remains, and
 * `budget.reserved` is committed before this returns. Returns null for a session without a
 * budget (nothing is written). Throws BUDGET_EXCEEDED (`budgetStopOf`) when the call does not
 * fit, and INVALID_ARGUMENT when a cost budget meets a model with no price.
 */
export async function reserveModelCall(
  ctx: AgentRunContext,
  request: ChargeRequest,
): Promise<HeldReservation | null> {
  const state = ctx.writer.state;
  const ledger = state.budget && hasLimits(state.budget.limits) ? state.budget : null;
  const daily = ctx.tenantDailyBudget;
  if (ledger === null && daily === undefined) return null;
  const price = priceOf(request.modelId, ctx.agent.prices);
  if ((ledger?.limits.costUsd ?? daily?.costUsd) !== undefined && price === null) {
    const whose = ledger?.limits.costUsd === undefined ? "the tenant's daily" : "the session's";
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `${whose} budget has a costUsd limit but model ${request.modelId} has no known price: give agent ${ctx.agent.name} prices for it, or remove the costUsd limit`,
      { details: { budgetStop: 'unpriced' } },
    );
  }
  const outputTokens = request.maxOutputTokens ?? defaultReservedOutputTokens;
  const projected: Spend = {
    inputTokens: request.inputTokens,
    outputTokens,
    cacheTokens: 0,
    costUsd: price === null ? 0 : costOf({ inputTokens: request.inputTokens, outputTokens }, price),
  };
  // A state from a checkpoint written before `createdAtMs` was folded cannot age: the wall
  // clock then counts from nothing rather than pausing a session it cannot date.
  const createdAtMs = state.createdAtMs;
  if (ledger !== null) {
    const elapsedMs =
      ledger.limits.wallClockMs === undefined || createdAtMs === undefined
        ? 0
        : (await ctx.store.nowMs()) - createdAtMs;
    const breach = modelCallBreach(ledger, projected, elapsedMs);
    if (breach !== null) throw budgetExceeded(breach);
  }
  // A sub-agent call's hold is not a model call: it stays open until its children end.
  const orphans = (state.budget?.open ?? [])
    .filter((r) => r.kind !== 'subagent')
    .map((r) => settlementOf(r, 'interrupted', r));
  const reservation: Reservation = {
    // Unique in the session: the seq this reservation's event is committed at.
    reservationId: `r${state.seq + orphans.length + 1}`,
    kind: request.kind,
    modelId: request.modelId,
    ...projected,
  };
  // Charged to the tenant's day first: a crash before the reservation commits leaves the day
  // charged the projection (never less), and the call made again has the same reservation id,
  // which the day does not charge twice.
  if (daily !== undefined) {
    const dayBreach = await ctx.store.tenantSpend.reserve(ctx.writer.lease, {
      reservationId: reservation.reservationId,
      spend: projected,
      limits: daily,
    });
    if (dayBreach !== null) throw tenantDayExceeded(dayBreach);
  }
  await ctx.writer.append([
    ...orphans,
    event('budget.reserved', { ...reservation, step: request.step, attempt: request.attempt }),
  ]);
  return { reservation, price, tenantDay: daily !== undefined };
}

/**
 * After the settlement of `held` committed to the log: the tenant's day gets the same figure.
 * A worker that dies in between leaves the day charged the call's projection (never less).
 */
export async function settleTenantDay(
  ctx: AgentRunContext,
  held: HeldReservation | null,
  settlement: NewEvent | undefined,
): Promise<void> {
  if (held === null || !held.tenantDay || settlement?.type !== 'budget.settled') return;
  const { costUsd, inputTokens, outputTokens, cacheTokens } = settlement.data;
  await ctx.store.tenantSpend.settle(ctx.writer.lease, held.reservation.reservationId, {
    costUsd,
    inputTokens,
    outputTokens,
    cacheTokens,
  });
}

function tenantDayExceeded(breach: TenantDayBreach): LongrunError {
  const fmt = (n: number) => (breach.budget === 'costUsd' ? `$${n.toFixed(4)}` : String(n));
  return new LongrunError(
    'BUDGET_EXCEEDED',
    `BUDGET_EXCEEDED: the tenant's daily ${breach.budget} budget of ${fmt(breach.limit)} is used up for ${breach.day} (UTC) (${fmt(breach.used)} used, and the next call needs ${fmt(breach.needed)} more); it starts again at 00:00 UTC, or the operator raises tenantDailyBudgets; then resume the session (longrun sessions resume <id>)`,
    {
      details: {
        budgetStop: 'exceeded',
        breach: { ...breach, budget: `tenantDaily.${breach.budget}` },
      },
    },
  );
}

/** The `budget.settled` of a call that answered: its reported usage at its price. */
export function settleResponded(held: HeldReservation, response: ModelResponse): NewEvent {
  return settlementOf(held.reservation, 'responded', spendOf(response.usage, held.price));
}

/**
 * The `budget.settled` of a call that failed. A provider bills no refused request, so a failure
 * before any output is settled at nothing; one that failed after output arrived (a cut stream)
 * is charged its projected input and the output that arrived (about four characters a token).
 */
export function settleFailed(held: HeldReservation, streamedChars: number): NewEvent {
  if (streamedChars === 0) return settlementOf(held.reservation, 'failed', zero);
  const usage = {
    inputTokens: held.reservation.inputTokens,
    outputTokens: Math.ceil(streamedChars / 4),
  };
  return settlementOf(held.reservation, 'failed', spendOf(usage, held.price));
}

const zero: Spend = { costUsd: 0, inputTokens: 0, outputTokens: 0, cacheTokens: 0 };

function settlementOf(
  reservation: Reservation,
  outcome: 'responded' | 'failed' | 'interrupted',
  actual: Spend,
): NewEvent {
  return event('budget.settled', {
    reservationId: reservation.reservationId,
    outcome,
    costUsd: actual.costUsd,
    inputTokens: actual.inputTokens,
    outputTokens: actual.outputTokens,
    cacheTokens: actual.cacheTokens,
  });
}

/**
 * A model call made outside the main step (a compaction summary, an evaluator call): reserved
 * before, settled in a commit of its own right after, whatever the outcome.
 */
export async function chargedCall(
  ctx: AgentRunContext,
  request: ChargeRequest,
  call: () => Promise<ModelResponse>,
): Promise<ModelResponse> {
  const held = await reserveModelCall(ctx, request);
  if (held === null) return call();
  let response: ModelResponse;
  try {
    response = await call();
  } catch (error) {
    if (!ctx.signal.aborted && !isLongrunError(error, 'LEASE_LOST')) {
      const settled = settleFailed(held, 0);
      await ctx.writer.append([settled]);
      await settleTenantDay(ctx, held, settled);
    }
    throw error;
  }
  const settled = settleResponded(held, response);
  await ctx.writer.append([settled]);
  await settleTenantDay(ctx, held, settled);
  return response;
}

export function budgetExceeded(breach: BudgetBreach): LongrunError {
  return new LongrunError('BUDGET_EXCEEDED', describeBreach(breach), {
    details: { budgetStop: 'exceeded', breach },
  });
}

/** What stops a session for its budget: `exceeded` pauses it, `unpriced` fails it; null otherwise. */
export function budgetStopOf(
  error: unknown,
): { kind: 'exceeded' | 'unpriced'; error: LongrunError } | null {
  if (!isLongrunError(error)) return null;
  const kind = error.details?.budgetStop;
  return kind === 'exceeded' || kind === 'unpriced' ? { kind, error } : null;
}

/** Estimated tokens of a request's messages and tools, about four characters a token. */
export function estimateRequestTokens(messages: unknown, tools: unknown): number {
  return Math.ceil((JSON.stringify(messages).length + JSON.stringify(tools).length) / 4);
}
