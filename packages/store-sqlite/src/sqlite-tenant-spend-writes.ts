import type { LeaseFence } from '@longrun/core';
import { fencedRow, type WriterDb } from './writer-db.ts';

/** The statements of the tenant spend tables (read here too, by the store). */
export const tenantSpendSql = {
  day: `SELECT * FROM tenant_day_spend WHERE tenant_id = ? AND day = ?`,
  charge: `SELECT * FROM tenant_charges WHERE session_id = ? AND reservation_id = ?`,
  insertCharge: `INSERT INTO tenant_charges (session_id, reservation_id, tenant_id, day, cost_usd,
    input_tokens, output_tokens, cache_tokens) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
  addToDay: `INSERT INTO tenant_day_spend (tenant_id, day, cost_usd, input_tokens, output_tokens,
    cache_tokens, calls) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (tenant_id, day) DO UPDATE SET cost_usd = cost_usd + excluded.cost_usd,
      input_tokens = input_tokens + excluded.input_tokens,
      output_tokens = output_tokens + excluded.output_tokens,
      cache_tokens = cache_tokens + excluded.cache_tokens, calls = calls + excluded.calls`,
  settleCharge: `UPDATE tenant_charges SET cost_usd = ?, input_tokens = ?, output_tokens = ?,
    cache_tokens = ?, settled = 1 WHERE session_id = ? AND reservation_id = ? AND settled = 0`,
} as const;

/** Spend as plain data (no @longrun/core values cross to the writer thread). */
export interface PlainSpend {
  costUsd: number;
  inputTokens: number;
  outputTokens: number;
  cacheTokens: number;
}

const keys = ['costUsd', 'inputTokens', 'outputTokens', 'cacheTokens'] as const;

function spendOf(row: Record<string, unknown> | undefined): PlainSpend {
  return {
    costUsd: Number(row?.cost_usd ?? 0),
    inputTokens: Number(row?.input_tokens ?? 0),
    outputTokens: Number(row?.output_tokens ?? 0),
    cacheTokens: Number(row?.cache_tokens ?? 0),
  };
}

/** The UTC day of a time, `YYYY-MM-DD` (core's utcDay, kept off the writer thread's imports). */
function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export interface TenantChargeOutcome {
  breach: {
    budget: (typeof keys)[number];
    limit: number;
    used: number;
    needed: number;
    day: string;
  } | null;
}

/**
 * The tenant spend writes, as the writer thread runs them. Writes are serial, so a charge's
 * check and its addition are one step: two sessions of a tenant never pass a limit together.
 */
export const tenantSpendWrites = {
  reserveTenantSpend(
    db: WriterDb,
    w: {
      fence: LeaseFence;
      reservationId: string;
      spend: PlainSpend;
      limits: Partial<PlainSpend>;
      nowMs: number;
    },
  ): TenantChargeOutcome {
    const row = fencedRow(db, w.fence);
    const tenant = row.tenant_id as string;
    if (db.stmt(tenantSpendSql.charge).get(w.fence.sessionId, w.reservationId) !== undefined) {
      return { breach: null };
    }
    const day = dayOf(w.nowMs);
    const spent = spendOf(db.stmt(tenantSpendSql.day).get(tenant, day));
    for (const key of keys) {
      const limit = w.limits[key];
      if (limit !== undefined && spent[key] + w.spend[key] > limit) {
        return { breach: { budget: key, limit, used: spent[key], needed: w.spend[key], day } };
      }
    }
    const s = w.spend;
    db.stmt(tenantSpendSql.insertCharge).run(
      w.fence.sessionId,
      w.reservationId,
      tenant,
      day,
      s.costUsd,
      s.inputTokens,
      s.outputTokens,
      s.cacheTokens,
    );
    db.stmt(tenantSpendSql.addToDay).run(
      tenant,
      day,
      s.costUsd,
      s.inputTokens,
      s.outputTokens,
      s.cacheTokens,
      1,
    );
    return { breach: null };
  },

  settleTenantSpend(
    db: WriterDb,
    w: { fence: LeaseFence; reservationId: string; actual: PlainSpend },
  ): void {
    fencedRow(db, w.fence);
    const charge = db.stmt(tenantSpendSql.charge).get(w.fence.sessionId, w.reservationId) as
      Record<string, unknown> | undefined;
    if (charge === undefined || Number(charge.settled) === 1) return;
    const held = spendOf(charge);
    const a = w.actual;
    db.stmt(tenantSpendSql.settleCharge).run(
      a.costUsd,
      a.inputTokens,
      a.outputTokens,
      a.cacheTokens,
      w.fence.sessionId,
      w.reservationId,
    );
    const delta = (key: (typeof keys)[number]) => a[key] - held[key];
    db.stmt(tenantSpendSql.addToDay).run(
      charge.tenant_id as string,
      charge.day as string,
      delta('costUsd'),
      delta('inputTokens'),
      delta('outputTokens'),
      delta('cacheTokens'),
      0,
    );
  },
};
