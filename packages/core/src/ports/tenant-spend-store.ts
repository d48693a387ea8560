import { spendKeys, type Spend } from '../budget/budget-ledger.ts';
import { LongrunError } from '../errors.ts';
import type { LeaseFence } from './session-store.ts';
import { checkName } from './store-input.ts';

/**
 * What a tenant may spend in one UTC day, across all its sessions (DESIGN §7): the spend limits
 * of a session budget. Charged at each model call's reservation, like a session's budget.
 */
export interface DailyBudget {
  costUsd?: number;
  inputTokens?: number;
  outputTokens?: number;
  cacheTokens?: number;
}

/** A tenant's spend on one day: settled spend plus open reservations. */
export interface TenantDaySpend extends Spend {
  tenantId: string;
  /** `YYYY-MM-DD`, UTC, by the store's clock. */
  day: string;
  /** Model calls charged that day. */
  calls: number;
}

/** A reservation of one model call on its tenant's day. */
export interface TenantCharge {
  /** The session's reservation id (`budget.reserved`): one charge per (session, id). */
  reservationId: string;
  /** The call's projected spend. */
  spend: Spend;
  /** The tenant's daily limits, as the worker is configured with them. */
  limits: DailyBudget;
}

/** Why a charge did not fit: the limit, the day's spend so far, and what the call needed. */
export interface TenantDayBreach {
  budget: keyof DailyBudget;
  limit: number;
  used: number;
  needed: number;
  day: string;
}

/**
 * The tenants' daily spend, in the same database as the sessions (the session's tenant is the
 * store's, never the caller's word). A reservation is charged to the day of the store's clock
 * when it is made, and settled on that day whenever it settles.
 */
export interface TenantSpendStore {
  /**
   * Charges a model call's projected spend to its session's tenant for today, if it fits under
   * `limits` (day spend + projection ≤ limit) — atomically, so concurrent sessions of one tenant
   * on any number of workers never pass a limit together. Idempotent per (session,
   * reservation id): charging the same reservation again charges nothing and returns null.
   * Returns the breach when it does not fit (nothing charged). Fenced by the session's lease.
   */
  reserve(fence: LeaseFence, charge: TenantCharge): Promise<TenantDayBreach | null>;
  /**
   * Replaces a reservation's projection with what the call really spent, on the day it was
   * charged. Settling twice, or a reservation never charged, changes nothing.
   */
  settle(fence: LeaseFence, reservationId: string, actual: Spend): Promise<void>;
  /** A tenant's spend on `day` (`YYYY-MM-DD`, default today by the store's clock). */
  daySpend(tenantId: string, day?: string): Promise<TenantDaySpend>;
}

/** The UTC day of an epoch-milliseconds time, `YYYY-MM-DD`. */
export function utcDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

const dailyKeys = spendKeys;

/** The first daily limit that `spent` + `projected` passes, or null (pure; both stores use it). */
export function dailyBreach(
  spent: Spend,
  projected: Spend,
  limits: DailyBudget,
  day: string,
): TenantDayBreach | null {
  for (const key of dailyKeys) {
    const limit = limits[key];
    if (limit !== undefined && spent[key] + projected[key] > limit) {
      return { budget: key, limit, used: spent[key], needed: projected[key], day };
    }
  }
  return null;
}

function bad(message: string): LongrunError {
  return new LongrunError('INVALID_ARGUMENT', message);
}

/** A charge as a store takes it: a reservation id, spend ≥ 0 in every unit, limits checked. */
export function checkTenantCharge(charge: TenantCharge): TenantCharge {
  const problem = dailyBudgetProblem(charge.limits);
  if (problem !== null) throw bad(problem);
  return {
    reservationId: checkName('reservationId', charge.reservationId),
    spend: checkSpend(charge.spend),
    limits: { ...charge.limits },
  };
}

/** Spend as a store takes it: four numbers ≥ 0 (token counts whole). */
export function checkSpend(spend: Spend): Spend {
  const out = {} as Record<(typeof dailyKeys)[number], number>;
  for (const key of dailyKeys) {
    const v: unknown = spend[key];
    const whole = key !== 'costUsd';
    if (
      typeof v !== 'number' ||
      !Number.isFinite(v) ||
      v < 0 ||
      (whole && !Number.isSafeInteger(v))
    )
      throw bad(
        `spend.${key} must be ${whole ? 'a whole number' : 'a number'} ≥ 0 (got ${JSON.stringify(v)})`,
      );
    out[key] = v;
  }
  return out;
}

/** A day as the stores key it: `YYYY-MM-DD`. */
export function checkDay(day: unknown): string {
  if (typeof day !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(day) || Number.isNaN(Date.parse(day)))
    throw bad(`a day is YYYY-MM-DD (UTC), e.g. 2026-12-04 (got ${JSON.stringify(day)})`);
  return day;
}

/** Checks daily limits from outside (worker options); INVALID_ARGUMENT-ready message or null. */
export function dailyBudgetProblem(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'a daily budget is an object such as { "costUsd": 50 }';
  for (const [key, limit] of Object.entries(value)) {
    if (!(dailyKeys as readonly string[]).includes(key))
      return `a daily budget has no limit ${key}; known: ${dailyKeys.join(', ')}`;
    if (typeof limit !== 'number' || !Number.isFinite(limit) || limit < 0)
      return `daily ${key} must be a number ≥ 0 (got ${JSON.stringify(limit)})`;
  }
  return null;
}
