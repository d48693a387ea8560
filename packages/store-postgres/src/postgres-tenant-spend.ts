import {
  checkDay,
  checkFence,
  checkName,
  checkSpend,
  checkTenantCharge,
  tenantId as checkTenantId,
  type LeaseFence,
  type Spend,
  type TenantCharge,
  type TenantDayBreach,
  type TenantDaySpend,
  type TenantSpendStore,
} from '@longrun/core';
import type { PostgresAccess } from './postgres-access.ts';
import { num } from './rows.ts';

/** A double precision column (dollars, or a limit that may be dollars). */
function real(v: unknown, column: string): number {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n)) throw new Error(`column ${column} holds ${String(v)}, not a number`);
  return n;
}

/** Tenants' daily spend in the store's schema; a charge is one statement (`reserve_tenant_spend`). */
export class PostgresTenantSpend implements TenantSpendStore {
  readonly #db: PostgresAccess;

  constructor(access: PostgresAccess) {
    this.#db = access;
  }

  async reserve(fence: LeaseFence, charge: TenantCharge): Promise<TenantDayBreach | null> {
    const f = checkFence(fence);
    const c = checkTenantCharge(charge);
    const rows = await this.#db.write(
      "charging a model call to its tenant's day",
      'reserveTenantSpend',
      [
        this.#db.nowParam(),
        f.sessionId,
        f.owner,
        f.epoch,
        c.reservationId,
        c.spend.costUsd,
        c.spend.inputTokens,
        c.spend.outputTokens,
        c.spend.cacheTokens,
        c.limits.costUsd ?? null,
        c.limits.inputTokens ?? null,
        c.limits.outputTokens ?? null,
        c.limits.cacheTokens ?? null,
      ],
    );
    const row = rows[0];
    if (row === undefined) return null;
    return {
      budget: row.r_budget as TenantDayBreach['budget'],
      limit: real(row.r_limit, 'r_limit'),
      used: real(row.r_used, 'r_used'),
      needed: real(row.r_needed, 'r_needed'),
      day: row.r_day as string,
    };
  }

  async settle(fence: LeaseFence, reservationId: string, actual: Spend): Promise<void> {
    const f = checkFence(fence);
    const a = checkSpend(actual);
    await this.#db.write("settling a model call on its tenant's day", 'settleTenantSpend', [
      f.sessionId,
      f.owner,
      f.epoch,
      checkName('reservationId', reservationId),
      a.costUsd,
      a.inputTokens,
      a.outputTokens,
      a.cacheTokens,
    ]);
  }

  async daySpend(tenantId: string, day?: string): Promise<TenantDaySpend> {
    const tenant = checkTenantId(tenantId);
    const rows = await this.#db.read("reading a tenant's daily spend", 'tenantDaySpend', [
      this.#db.nowParam(),
      tenant,
      day === undefined ? null : checkDay(day),
    ]);
    const row = rows[0];
    if (row === undefined) throw new Error('tenant_day_spend read returned no row');
    return {
      tenantId: tenant,
      day: row.r_day as string,
      costUsd: real(row.cost_usd, 'cost_usd'),
      inputTokens: num(row.input_tokens, 'input_tokens'),
      outputTokens: num(row.output_tokens, 'output_tokens'),
      cacheTokens: num(row.cache_tokens, 'cache_tokens'),
      calls: num(row.calls, 'calls'),
    };
  }
}
