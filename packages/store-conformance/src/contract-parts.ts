import { expect, it } from 'vitest';
import { event, type JsonValue, type Signal } from '@longrun/core';
import {
  claimedSession,
  expectCode,
  leaseMs,
  workerB,
  type ContractContext,
} from './contract-helpers.ts';

const awkwardValues: Record<string, JsonValue> = {
  maxSafeInteger: Number.MAX_SAFE_INTEGER,
  minSafeInteger: Number.MIN_SAFE_INTEGER,
  fraction: 0.1 + 0.2,
  tiny: 5e-324,
  unicode: 'naïve café — 日本語 — עברית — 🧪🚀 — \u0000 nul — \u2028 line sep',
  loneSurrogate: 'broken \ud800 pair',
  protoKey: JSON.parse('{"__proto__": {"polluted": true}, "constructor": "x"}') as JsonValue,
  nested: { a: [1, [2, [3, { b: null }]]], empty: {}, emptyList: [] },
  bools: [true, false, null],
};

/** Payloads come back with the same JS types and values, byte for byte. */
export function jsonCases(ctx: ContractContext): void {
  it('round-trips awkward JSON values with their JS types', async () => {
    const lease = await claimedSession(ctx.store);
    const output = awkwardValues;
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [
        event('tool.completed', { step: 1, callIndex: 0, tool: 't', ok: true, output, attempt: 1 }),
      ],
    });
    const [, stored] = await ctx.store.readEvents(lease.sessionId);
    const data = stored?.data as { output: Record<string, unknown> };
    expect(JSON.stringify(data.output)).toBe(JSON.stringify(output));
    expect(typeof data.output.maxSafeInteger).toBe('number');
    expect(data.output.maxSafeInteger).toBe(Number.MAX_SAFE_INTEGER);
    expect(Object.getPrototypeOf(data.output.protoKey)).toBe(Object.prototype);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('round-trips a large payload', async () => {
    const lease = await claimedSession(ctx.store);
    const big = 'x'.repeat(1024 * 1024) + '🧪';
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [
        event('tool.completed', {
          step: 1,
          callIndex: 0,
          tool: 't',
          ok: true,
          output: big,
          attempt: 1,
        }),
      ],
    });
    const [, stored] = await ctx.store.readEvents(lease.sessionId);
    expect((stored?.data as { output: string }).output).toBe(big);
  });

  it('refuses payloads JSON cannot round-trip, and lands nothing', async () => {
    const lease = await claimedSession(ctx.store);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const bad: unknown[] = [
      10n,
      Number.NaN,
      Infinity,
      2 ** 60,
      cyclic,
      () => 1,
      new Date(0),
      'x'.repeat(5 * 1024 * 1024),
    ];
    for (const output of bad) {
      await expectCode(
        ctx.store.append({
          fence: lease,
          expectedSeq: 1,
          events: [
            event('tool.completed', {
              step: 1,
              callIndex: 0,
              tool: 't',
              ok: true,
              output: output as JsonValue,
              attempt: 1,
            }),
          ],
        }),
        'INVALID_PAYLOAD',
      );
    }
    await expectCode(
      ctx.store.createSession({ agent: 'a', input: 10n as never }),
      'INVALID_PAYLOAD',
    );
    expect(await ctx.store.readEvents(lease.sessionId)).toHaveLength(1);
  });
}

/** Waits are rows: a waiting session holds no lease and is claimable again only when it resolves. */
export function waitsAndSignals(ctx: ContractContext): void {
  it('parks a session on a signal and wakes it when the signal arrives', async () => {
    const lease = await claimedSession(ctx.store);
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [event('wait.started', { waitId: 'w1', kind: 'signal', signal: 'go' })],
      status: { status: 'waiting', waitingFor: 'go', reason: 'waiting for signal go' },
      releaseLease: true,
    });
    expect(await ctx.store.getSession(lease.sessionId)).toMatchObject({
      status: 'waiting',
      leaseOwner: null,
      waitingFor: 'go',
    });
    ctx.clock.advance(leaseMs * 100);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
    await ctx.store.sendSignal(lease.sessionId, 'other', null);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
    const signal = await ctx.store.sendSignal(lease.sessionId, 'go', { approved: true });
    const next = await ctx.store.claimNext(workerB, leaseMs);
    expect(next).toMatchObject({ sessionId: lease.sessionId, epoch: 2 });
    expect((await ctx.store.pendingSignals(lease.sessionId, 'go')).map((s) => s.payload)).toEqual([
      { approved: true },
    ]);
    await ctx.store.append({
      fence: next!,
      expectedSeq: 2,
      events: [
        event('wait.resolved', { waitId: 'w1', signalId: signal.id, payload: { approved: true } }),
      ],
      consumeSignals: [signal.id],
    });
    expect(await ctx.store.pendingSignals(lease.sessionId, 'go')).toEqual([]);
    await expectCode(
      ctx.store.append({ fence: next!, expectedSeq: 3, events: [], consumeSignals: [signal.id] }),
      'INVALID_STATE',
    );
  });

  it('lands exactly one of several signals sent once at the same instant, and none after it was consumed', async () => {
    const lease = await claimedSession(ctx.store);
    const other = await claimedSession(ctx.store);
    const sent = await Promise.allSettled(
      Array.from({ length: 12 }, (_, i) =>
        ctx.store.sendSignal(lease.sessionId, 'approval:a1', { i }, { once: true }),
      ),
    );
    const landed = sent.filter((r) => r.status === 'fulfilled');
    expect(landed).toHaveLength(1);
    for (const r of sent)
      if (r.status === 'rejected') expect(r.reason).toMatchObject({ code: 'INVALID_STATE' });
    const pending = await ctx.store.pendingSignals(lease.sessionId, 'approval:a1');
    expect(pending.map((s) => s.id)).toEqual([
      (landed[0] as PromiseFulfilledResult<Signal>).value.id,
    ]);
    // Another name, another session, or a signal not sent once: each is its own.
    await ctx.store.sendSignal(lease.sessionId, 'approval:a2', 1, { once: true });
    await ctx.store.sendSignal(other.sessionId, 'approval:a1', 1, { once: true });
    await ctx.store.sendSignal(lease.sessionId, 'note', 1, { once: true });
    await ctx.store.sendSignal(lease.sessionId, 'note', 2);
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [],
      consumeSignals: pending.map((s) => s.id),
    });
    await expectCode(
      ctx.store.sendSignal(lease.sessionId, 'approval:a1', { late: true }, { once: true }),
      'INVALID_STATE',
    );
  });

  it('does not wait for a signal that already arrived', async () => {
    const lease = await claimedSession(ctx.store);
    await ctx.store.sendSignal(lease.sessionId, 'go', 1);
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [event('wait.started', { waitId: 'w1', kind: 'signal', signal: 'go' })],
      status: { status: 'waiting', waitingFor: 'go' },
      releaseLease: true,
    });
    expect((await ctx.store.getSession(lease.sessionId)).status).toBe('queued');
    expect(await ctx.store.claimNext(workerB, leaseMs)).toMatchObject({
      sessionId: lease.sessionId,
    });
  });

  it('does not park a session on any wait while a cancel request sent as it ran is pending', async () => {
    for (const wait of [
      { status: 'waiting' as const, waitingFor: 'go' },
      { status: 'waiting' as const, wakeAtMs: ctx.clock.nowMs() + 3_600_000 },
    ]) {
      const lease = await claimedSession(ctx.store);
      // Sent while the session runs: its interrupt wake finds nothing waiting to wake.
      await ctx.store.sendSignal(
        lease.sessionId,
        'cancel',
        { by: 'ops', reason: null },
        {
          wake: 'interrupt',
        },
      );
      expect((await ctx.store.getSession(lease.sessionId)).status).toBe('running');
      await ctx.store.append({
        fence: lease,
        expectedSeq: 1,
        events: [],
        status: wait,
        releaseLease: true,
      });
      expect((await ctx.store.getSession(lease.sessionId)).status).toBe('queued');
      expect(await ctx.store.claim(lease.sessionId, workerB, leaseMs)).toMatchObject({
        sessionId: lease.sessionId,
      });
    }
  });

  it('reads signals sent in one millisecond in the order they were sent', async () => {
    const lease = await claimedSession(ctx.store);
    const sent = [];
    for (let i = 0; i < 12; i++)
      sent.push((await ctx.store.sendSignal(lease.sessionId, 'go', i)).id);
    const pending = await ctx.store.pendingSignals(lease.sessionId, 'go');
    expect(pending.map((s) => s.id)).toEqual(sent);
    expect(pending.map((s) => s.payload)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  it('wakes a timer wait at its time by the store clock', async () => {
    const lease = await claimedSession(ctx.store);
    const untilMs = ctx.clock.nowMs() + 60_000;
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [event('wait.started', { waitId: 'w1', kind: 'timer', untilMs })],
      status: { status: 'waiting', wakeAtMs: untilMs },
      releaseLease: true,
    });
    ctx.clock.advance(59_999);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
    ctx.clock.advance(1);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toMatchObject({
      sessionId: lease.sessionId,
      epoch: 2,
    });
    expect((await ctx.store.getSession(lease.sessionId)).status).toBe('running');
  });

  it('refuses a signal for a session that does not exist', async () => {
    await expectCode(ctx.store.sendSignal('ses_nope' as never, 'go', null), 'NOT_FOUND');
  });
}

/** Which sessions a signal wakes: cancel requests interrupt any wait, follow-up messages reopen. */
export function signalWakes(ctx: ContractContext): void {
  async function parkedOn(status: 'waiting' | 'paused' | 'completed') {
    const lease = await claimedSession(ctx.store);
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [],
      status: status === 'waiting' ? { status, waitingFor: 'approval:x' } : { status },
      releaseLease: true,
    });
    return lease.sessionId;
  }

  it('wakes only what each wake mode names', async () => {
    const waiting = await parkedOn('waiting');
    await ctx.store.sendSignal(waiting, 'user.message', { text: 'hi' }, { wake: 'reopen' });
    expect((await ctx.store.getSession(waiting)).status).toBe('waiting');
    await ctx.store.sendSignal(waiting, 'cancel', null, { wake: 'interrupt' });
    expect((await ctx.store.getSession(waiting)).status).toBe('queued');

    const paused = await parkedOn('paused');
    await ctx.store.sendSignal(paused, 'nudge', null);
    expect((await ctx.store.getSession(paused)).status).toBe('paused');
    await ctx.store.sendSignal(paused, 'cancel', null, { wake: 'interrupt' });
    expect((await ctx.store.getSession(paused)).status).toBe('queued');

    const completed = await parkedOn('completed');
    await ctx.store.sendSignal(completed, 'cancel', null, { wake: 'interrupt' });
    expect((await ctx.store.getSession(completed)).status).toBe('completed');
    await ctx.store.sendSignal(completed, 'user.message', { text: 'more' }, { wake: 'reopen' });
    expect((await ctx.store.getSession(completed)).status).toBe('queued');
    expect(await ctx.store.claimNext(workerB, leaseMs)).not.toBeNull();
    await expectCode(
      ctx.store.sendSignal(completed, 'x', null, { wake: 'always' as never }),
      'INVALID_ARGUMENT',
    );
  });
}
