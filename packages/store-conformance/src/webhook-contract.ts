import { expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { event, webhookSignal, type LeaseFence } from '@longrun/core';
import {
  claimedSession,
  expectCode,
  leaseMs,
  workerB,
  type ContractContext,
} from './contract-helpers.ts';

const hashOf = (token: string): string => createHash('sha256').update(token).digest('hex');

/**
 * Webhooks of durable waits (WebhookStore): made by the lease holder, delivered by anyone with a
 * token, as the signal `hook:<id>` of their session; single-use ones exactly once.
 */
export function webhooksContract(ctx: ContractContext): void {
  async function parkOnHook(fence: LeaseFence, hookId: string): Promise<void> {
    await ctx.store.append({
      fence,
      expectedSeq: (await ctx.store.getSession(fence.sessionId)).headSeq,
      events: [
        event('wait.started', { waitId: 'w1', kind: 'signal', signal: webhookSignal(hookId) }),
      ],
      status: { status: 'waiting', waitingFor: webhookSignal(hookId) },
      releaseLease: true,
    });
  }

  it('delivers a single-use hook once, as its signal, waking the session that waits for it', async () => {
    const lease = await claimedSession(ctx.store);
    const made = await ctx.store.webhooks.register(lease, {
      hookId: 'h1',
      tokenHash: hashOf('tok-1'),
      multiUse: false,
      expiresAtMs: null,
    });
    expect(made).toEqual({ hookId: 'h1', multiUse: false, expiresAtMs: null, deliveries: 0 });
    await parkOnHook(lease, 'h1');
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
    const signal = await ctx.store.webhooks.deliver(hashOf('tok-1'), { ok: true });
    expect(signal).toMatchObject({
      sessionId: lease.sessionId,
      name: webhookSignal('h1'),
      payload: { ok: true },
    });
    expect(typeof signal.createdAtMs).toBe('number');
    await expectCode(ctx.store.webhooks.deliver(hashOf('tok-1'), { again: true }), 'GONE');
    const pending = await ctx.store.pendingSignals(lease.sessionId, webhookSignal('h1'));
    expect(pending.map((s) => s.payload)).toEqual([{ ok: true }]);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toMatchObject({
      sessionId: lease.sessionId,
    });
  });

  it("keeps a hook's first settings: a second token of it delivers to the same hook, once in all", async () => {
    const lease = await claimedSession(ctx.store);
    const expiresAtMs = ctx.clock.nowMs() + 60_000;
    await ctx.store.webhooks.register(lease, {
      hookId: 'h1',
      tokenHash: hashOf('first'),
      multiUse: false,
      expiresAtMs,
    });
    const again = await ctx.store.webhooks.register(lease, {
      hookId: 'h1',
      tokenHash: hashOf('second'),
      multiUse: true,
      expiresAtMs: expiresAtMs + 1_000,
    });
    expect(again).toEqual({ hookId: 'h1', multiUse: false, expiresAtMs, deliveries: 0 });
    await ctx.store.webhooks.deliver(hashOf('first'), 1);
    await expectCode(ctx.store.webhooks.deliver(hashOf('second'), 2), 'GONE');
  });

  it('takes every delivery of a multi-use hook until it expires by the store clock', async () => {
    const lease = await claimedSession(ctx.store);
    const expiresAtMs = ctx.clock.nowMs() + 1_000;
    await ctx.store.webhooks.register(lease, {
      hookId: 'm',
      tokenHash: hashOf('multi'),
      multiUse: true,
      expiresAtMs,
    });
    for (const n of [1, 2, 3]) await ctx.store.webhooks.deliver(hashOf('multi'), n);
    ctx.clock.advance(1_000);
    await expectCode(ctx.store.webhooks.deliver(hashOf('multi'), 4), 'GONE');
    const pending = await ctx.store.pendingSignals(lease.sessionId, webhookSignal('m'));
    expect(pending.map((s) => s.payload)).toEqual([1, 2, 3]);
  });

  it('refuses unknown and malformed tokens (NOT_FOUND), stale fences and ended sessions', async () => {
    const lease = await claimedSession(ctx.store);
    await expectCode(ctx.store.webhooks.deliver(hashOf('nobody'), null), 'NOT_FOUND');
    await expectCode(ctx.store.webhooks.deliver('not-a-hash', null), 'NOT_FOUND');
    const stale = { ...lease, epoch: lease.epoch + 1 };
    const token = { hookId: 'h', tokenHash: hashOf('t'), multiUse: true, expiresAtMs: null };
    await expectCode(ctx.store.webhooks.register(stale, token), 'LEASE_LOST');
    await expectCode(
      ctx.store.webhooks.register(lease, { ...token, hookId: 'a b' }),
      'INVALID_ARGUMENT',
    );
    await ctx.store.webhooks.register(lease, token);
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [event('session.completed', { output: null })],
      status: { status: 'completed' },
      releaseLease: true,
    });
    await expectCode(ctx.store.webhooks.deliver(hashOf('t'), null), 'GONE');
  });

  it('delivers a single-use hook exactly once under concurrent deliveries', async () => {
    const lease = await claimedSession(ctx.store);
    await ctx.store.webhooks.register(lease, {
      hookId: 'race',
      tokenHash: hashOf('race-1'),
      multiUse: false,
      expiresAtMs: null,
    });
    await ctx.store.webhooks.register(lease, {
      hookId: 'race',
      tokenHash: hashOf('race-2'),
      multiUse: false,
      expiresAtMs: null,
    });
    const outcomes = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        ctx.store.webhooks.deliver(hashOf(i % 2 === 0 ? 'race-1' : 'race-2'), i),
      ),
    );
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const pending = await ctx.store.pendingSignals(lease.sessionId, webhookSignal('race'));
    expect(pending).toHaveLength(1);
  });
}
