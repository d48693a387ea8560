import { expect, it } from 'vitest';
import type { AppendRequest } from '@longrun/core';
import {
  claimedSession,
  expectCode,
  leaseMs,
  toolEvent,
  workerB,
  type ContractContext,
} from './contract-helpers.ts';

/**
 * Appends sent again (AppendRequest.appendId): a writer whose acknowledgement was lost cannot
 * tell whether its append committed, so it sends the very same request again. The store must
 * answer a committed one with its first result and write nothing twice; anything else at a moved
 * head is still SEQ_CONFLICT.
 */
export function appendRetries(ctx: ContractContext): void {
  it('answers an append sent again after it committed as the first time, and writes nothing twice', async () => {
    const lease = await claimedSession(ctx.store);
    const signal = await ctx.store.sendSignal(lease.sessionId, 'go', 1);
    const request: AppendRequest = {
      fence: lease,
      expectedSeq: 1,
      appendId: 'apd_contract_first',
      events: [toolEvent(1), toolEvent(2)],
      effects: [started(1)],
      consumeSignals: [signal.id],
      checkpoint: { seq: 3, state: { n: 3 } },
    };
    const first = await ctx.store.append(request);
    ctx.clock.advance(5);
    const again = await ctx.store.append(request);
    expect(again).toEqual(first);
    expect((await ctx.store.readEvents(lease.sessionId)).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await ctx.store.listEffects(lease.sessionId))[0]?.attempts).toBe(1);
    expect(await ctx.store.pendingSignals(lease.sessionId, 'go')).toEqual([]);
  });

  it('does not apply an append without events twice', async () => {
    const lease = await claimedSession(ctx.store);
    const signal = await ctx.store.sendSignal(lease.sessionId, 'go', 1);
    const request: AppendRequest = {
      fence: lease,
      expectedSeq: 1,
      appendId: 'apd_contract_empty',
      events: [],
      consumeSignals: [signal.id],
      status: { status: 'paused', reason: 'a person asked' },
    };
    const first = await ctx.store.append(request);
    // Without the id the consumed signal would fail it; with it, it is recognised.
    expect(await ctx.store.append(request)).toEqual(first);
    expect((await ctx.store.getSession(lease.sessionId)).status).toBe('paused');
  });

  it('still refuses another append, or an older one, at a moved head with SEQ_CONFLICT', async () => {
    const lease = await claimedSession(ctx.store);
    const older: AppendRequest = {
      fence: lease,
      expectedSeq: 1,
      appendId: 'apd_contract_older',
      events: [toolEvent(1)],
    };
    await ctx.store.append(older);
    const other = { ...older, appendId: 'apd_contract_other' };
    await expectCode(ctx.store.append(other), 'SEQ_CONFLICT');
    await ctx.store.append({ ...older, expectedSeq: 2, appendId: 'apd_contract_newer' });
    // The writer moved on: its earlier append is no longer the last one.
    await expectCode(ctx.store.append(older), 'SEQ_CONFLICT');
    expect((await ctx.store.readEvents(lease.sessionId)).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('recognises a committed append sent again after another worker took the session', async () => {
    const lease = await claimedSession(ctx.store);
    const request: AppendRequest = {
      fence: lease,
      expectedSeq: 1,
      appendId: 'apd_contract_taken',
      events: [toolEvent(1)],
    };
    const first = await ctx.store.append(request);
    ctx.clock.advance(leaseMs + 1);
    const taken = await ctx.store.claim(lease.sessionId, workerB, leaseMs);
    expect(taken?.epoch).toBe(2);
    // It did commit, so that is the answer; the old holder's next new write is fenced.
    expect(await ctx.store.append(request)).toEqual(first);
    await expectCode(
      ctx.store.append({ ...request, expectedSeq: 2, appendId: 'apd_contract_late' }),
      'LEASE_LOST',
    );
  });

  it('recognises an append sent again inside a group commit with other sessions', async () => {
    const a = await claimedSession(ctx.store);
    const b = await claimedSession(ctx.store);
    const request: AppendRequest = {
      fence: a,
      expectedSeq: 1,
      appendId: 'apd_contract_grouped',
      events: [toolEvent(1)],
    };
    const first = await ctx.store.append(request);
    // Issued in one turn, so both stores put them in one batch.
    const [again, other] = await Promise.all([
      ctx.store.append(request),
      ctx.store.append({ fence: b, expectedSeq: 1, events: [toolEvent(1)] }),
    ]);
    expect(again).toEqual(first);
    expect(other.headSeq).toBe(2);
    expect((await ctx.store.readEvents(a.sessionId)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('refuses a malformed append id', async () => {
    const lease = await claimedSession(ctx.store);
    for (const appendId of ['', 'short', 'has a space', 'x'.repeat(101)]) {
      await expectCode(
        ctx.store.append({ fence: lease, expectedSeq: 1, appendId, events: [toolEvent(1)] }),
        'INVALID_ARGUMENT',
      );
    }
  });
}

function started(step: number) {
  return {
    step,
    callIndex: 0,
    tool: 't',
    effect: 'keyed' as const,
    idempotencyKey: `k${step}`,
    status: 'started' as const,
  };
}
