import { expect, it } from 'vitest';
import { utcDay, type Lease, type SessionStore, type Spend } from '@longrun/core';
import { expectCode, leaseMs, workerA, workerB, type ContractContext } from './contract-helpers.ts';

const usd = (costUsd: number, inputTokens = 0): Spend => ({
  costUsd,
  inputTokens,
  outputTokens: 0,
  cacheTokens: 0,
});

async function tenantSession(store: SessionStore, tenantId: string): Promise<Lease> {
  const s = await store.createSession({ tenantId, agent: 'contract', input: null });
  const lease = await store.claim(s.id, workerA, leaseMs);
  if (lease === null) throw new Error('a new session must be claimable');
  return lease;
}

/**
 * Tenants' daily spend (TenantSpendStore): charged per model call at its projection, checked
 * against the day's limits atomically, settled with what the call spent, per tenant and UTC day.
 */
export function tenantSpendContract(ctx: ContractContext): void {
  it("charges a call's projection to its session's tenant for today, and settles it once with what it spent", async () => {
    const lease = await tenantSession(ctx.store, 'acme');
    const day = utcDay(ctx.clock.nowMs());
    const limits = { costUsd: 10 };
    expect(
      await ctx.store.tenantSpend.reserve(lease, {
        reservationId: 'r3',
        spend: usd(2, 100),
        limits,
      }),
    ).toBeNull();
    // The same reservation again (a retried call after a crash) charges nothing more.
    expect(
      await ctx.store.tenantSpend.reserve(lease, {
        reservationId: 'r3',
        spend: usd(2, 100),
        limits,
      }),
    ).toBeNull();
    expect(await ctx.store.tenantSpend.daySpend('acme')).toEqual({
      tenantId: 'acme',
      day,
      costUsd: 2,
      inputTokens: 100,
      outputTokens: 0,
      cacheTokens: 0,
      calls: 1,
    });
    await ctx.store.tenantSpend.settle(lease, 'r3', usd(0.5, 40));
    await ctx.store.tenantSpend.settle(lease, 'r3', usd(9, 900));
    // Settling a reservation never charged changes nothing.
    await ctx.store.tenantSpend.settle(lease, 'r99', usd(9, 900));
    expect(await ctx.store.tenantSpend.daySpend('acme', day)).toMatchObject({
      costUsd: 0.5,
      inputTokens: 40,
      calls: 1,
    });
    expect(await ctx.store.tenantSpend.daySpend('other')).toMatchObject({ costUsd: 0, calls: 0 });
  });

  it('refuses a charge that does not fit in the day, naming the limit, and charges nothing', async () => {
    const a = await tenantSession(ctx.store, 'acme');
    const b = await tenantSession(ctx.store, 'acme');
    const limits = { costUsd: 5, inputTokens: 1_000 };
    expect(
      await ctx.store.tenantSpend.reserve(a, { reservationId: 'r1', spend: usd(4, 10), limits }),
    ).toBeNull();
    const breach = await ctx.store.tenantSpend.reserve(b, {
      reservationId: 'r1',
      spend: usd(1.5, 10),
      limits,
    });
    expect(breach).toEqual({
      budget: 'costUsd',
      limit: 5,
      used: 4,
      needed: 1.5,
      day: utcDay(ctx.clock.nowMs()),
    });
    const tokens = await ctx.store.tenantSpend.reserve(b, {
      reservationId: 'r2',
      spend: usd(0, 991),
      limits,
    });
    expect(tokens).toMatchObject({ budget: 'inputTokens', used: 10, needed: 991 });
    expect(await ctx.store.tenantSpend.daySpend('acme')).toMatchObject({
      costUsd: 4,
      inputTokens: 10,
      calls: 1,
    });
    // Another tenant's day is its own.
    const c = await tenantSession(ctx.store, 'globex');
    expect(
      await ctx.store.tenantSpend.reserve(c, { reservationId: 'r1', spend: usd(5), limits }),
    ).toBeNull();
  });

  it('starts each UTC day at nothing, and settles a call on the day it was charged', async () => {
    const lease = await tenantSession(ctx.store, 'acme');
    const limits = { costUsd: 3 };
    const first = utcDay(ctx.clock.nowMs());
    expect(
      await ctx.store.tenantSpend.reserve(lease, { reservationId: 'r1', spend: usd(3), limits }),
    ).toBeNull();
    expect(
      await ctx.store.tenantSpend.reserve(lease, { reservationId: 'r2', spend: usd(1), limits }),
    ).toMatchObject({ budget: 'costUsd' });
    ctx.clock.advance(24 * 3_600_000);
    await ctx.store.renewLease(lease, leaseMs);
    const next = utcDay(ctx.clock.nowMs());
    expect(next).not.toBe(first);
    expect(
      await ctx.store.tenantSpend.reserve(lease, { reservationId: 'r2', spend: usd(1), limits }),
    ).toBeNull();
    await ctx.store.tenantSpend.settle(lease, 'r1', usd(2));
    expect(await ctx.store.tenantSpend.daySpend('acme', first)).toMatchObject({ costUsd: 2 });
    expect(await ctx.store.tenantSpend.daySpend('acme')).toMatchObject({ day: next, costUsd: 1 });
  });

  it('never lets concurrent sessions of a tenant pass its daily limit together', async () => {
    const leases = await Promise.all(
      Array.from({ length: 12 }, () => tenantSession(ctx.store, 'acme')),
    );
    const outcomes = await Promise.all(
      leases.map((lease) =>
        ctx.store.tenantSpend.reserve(lease, {
          reservationId: 'r1',
          spend: usd(1),
          limits: { costUsd: 5 },
        }),
      ),
    );
    expect(outcomes.filter((o) => o === null)).toHaveLength(5);
    expect(await ctx.store.tenantSpend.daySpend('acme')).toMatchObject({ costUsd: 5, calls: 5 });
  });

  it('is fenced by the lease, and refuses bad input with INVALID_ARGUMENT', async () => {
    const lease = await tenantSession(ctx.store, 'acme');
    const stale = { ...lease, owner: workerB };
    await expectCode(
      ctx.store.tenantSpend.reserve(stale, { reservationId: 'r1', spend: usd(1), limits: {} }),
      'LEASE_LOST',
    );
    await expectCode(ctx.store.tenantSpend.settle(stale, 'r1', usd(1)), 'LEASE_LOST');
    await expectCode(
      ctx.store.tenantSpend.reserve(lease, { reservationId: 'r1', spend: usd(-1), limits: {} }),
      'INVALID_ARGUMENT',
    );
    await expectCode(
      ctx.store.tenantSpend.reserve(lease, {
        reservationId: 'r1',
        spend: usd(1),
        limits: { dollars: 3 } as never,
      }),
      'INVALID_ARGUMENT',
    );
    await expectCode(ctx.store.tenantSpend.daySpend('acme', '04/12/2026'), 'INVALID_ARGUMENT');
    expect(await ctx.store.tenantSpend.daySpend('acme')).toMatchObject({ calls: 0 });
  });
}
