import {
  checkDay,
  checkFence,
  checkName,
  checkSpend,
  checkTenantCharge,
  tenantId as checkTenantId,
  utcDay,
  type LeaseFence,
  type Spend,
  type TenantCharge,
  type TenantDayBreach,
  type TenantDaySpend,
  type TenantSpendStore,
} from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';
import { tenantSpendSql } from './sqlite-tenant-spend-writes.ts';

/** Tenants' daily spend in the SQLite file; both writes run on the writer thread. */
export class SqliteTenantSpend implements TenantSpendStore {
  readonly #db: SqliteAccess;

  constructor(access: SqliteAccess) {
    this.#db = access;
  }

  async reserve(fence: LeaseFence, charge: TenantCharge): Promise<TenantDayBreach | null> {
    const c = checkTenantCharge(charge);
    const outcome = await this.#db.write('reserveTenantSpend', {
      fence: checkFence(fence),
      reservationId: c.reservationId,
      spend: c.spend,
      limits: c.limits,
      nowMs: this.#db.nowMs(),
    });
    return outcome.breach;
  }

  async settle(fence: LeaseFence, reservationId: string, actual: Spend): Promise<void> {
    await this.#db.write('settleTenantSpend', {
      fence: checkFence(fence),
      reservationId: checkName('reservationId', reservationId),
      actual: checkSpend(actual),
    });
  }

  async daySpend(tenantId: string, day?: string): Promise<TenantDaySpend> {
    const tenant = checkTenantId(tenantId);
    const d = day === undefined ? utcDay(this.#db.nowMs()) : checkDay(day);
    return this.#db.run('reading a tenant’s daily spend', () => {
      const row = this.#db.stmt(tenantSpendSql.day).get(tenant, d) as
        Record<string, unknown> | undefined;
      return {
        tenantId: tenant,
        day: d,
        costUsd: Number(row?.cost_usd ?? 0),
        inputTokens: Number(row?.input_tokens ?? 0),
        outputTokens: Number(row?.output_tokens ?? 0),
        cacheTokens: Number(row?.cache_tokens ?? 0),
        calls: Number(row?.calls ?? 0),
      };
    });
  }
}
