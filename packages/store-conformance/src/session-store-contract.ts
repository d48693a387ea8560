import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, event, isLongrunError, workerId } from '@longrun/core';
import type { ContractHarness } from './harness.ts';
import { appendRetries } from './append-retry-contract.ts';
import { jsonCases, signalWakes, waitsAndSignals } from './contract-parts.ts';
import { apiKeysContract, blobsContract, tenantsContract } from './tenant-contract.ts';
import { schedulesContract } from './schedule-contract.ts';
import { webhooksContract } from './webhook-contract.ts';
import { tenantSpendContract } from './tenant-spend-contract.ts';
import {
  claimedSession,
  expectCode,
  leaseMs,
  toolEvent,
  workerA,
  workerB,
  type ContractContext,
} from './contract-helpers.ts';

/**
 * The contract every session store passes. Time is a ManualClock injected into the store, so
 * expiry is tested without sleeping.
 */
export function sessionStoreContract(name: string, harness: ContractHarness): void {
  describe(`${name} session store contract`, () => {
    const ctx = {} as ContractContext;
    beforeEach(async () => {
      ctx.clock = new ManualClock();
      ctx.db = await harness.createDatabase();
      ctx.store = await ctx.db.open(ctx.clock);
    });
    afterEach(async () => {
      await ctx.store.close();
      await ctx.db.drop();
    });

    describe('the log', () => logContract(ctx));
    describe('appends sent again', () => appendRetries(ctx));
    describe('leases and fencing', () => leaseContract(ctx));
    describe('checkpoints, effects and transactions', () => recordsContract(ctx));
    describe('waits and signals', () => waitsAndSignals(ctx));
    describe('signal wake modes', () => signalWakes(ctx));
    describe('JSON round trips', () => jsonCases(ctx));
    describe('schema and durability', () => schemaContract(ctx));
    describe('tenants and idempotent creation', () => tenantsContract(ctx));
    describe('API keys', () => apiKeysContract(ctx));
    describe('blobs', () => blobsContract(ctx));
    describe('schedules', () => schedulesContract(ctx));
    describe('webhooks', () => webhooksContract(ctx));
    describe("tenants' daily spend", () => tenantSpendContract(ctx));
  });
}

function logContract(ctx: ContractContext): void {
  it('counts the appends it commits and the commits that carried them: appends sent together share commits', async () => {
    const counts = () => {
      const now = ctx.store.appendCommits?.();
      if (now === undefined) throw new Error(`${ctx.store.kind} has no appendCommits()`);
      return now;
    };
    const a = await claimedSession(ctx.store);
    const start = counts();
    // One after another: a commit each.
    for (const seq of [1, 2, 3])
      await ctx.store.append({ fence: a, expectedSeq: seq, events: [toolEvent(seq)] });
    const alone = counts();
    expect(alone).toEqual({ commits: start.commits + 3, appends: start.appends + 3 });
    // Sent in one turn, 24 sessions' appends queue while the first commit runs; a refused one
    // (a stale head) is not counted.
    const leases = await Promise.all(Array.from({ length: 24 }, () => claimedSession(ctx.store)));
    const settled = await Promise.allSettled([
      ...leases.map((l) => ctx.store.append({ fence: l, expectedSeq: 1, events: [toolEvent(1)] })),
      ctx.store.append({ fence: a, expectedSeq: 2, events: [toolEvent(9)] }),
    ]);
    expect(settled.filter((r) => r.status === 'fulfilled')).toHaveLength(24);
    const together = counts();
    expect(together.appends - alone.appends).toBe(24);
    expect(together.commits - alone.commits).toBeGreaterThanOrEqual(1);
    expect(together.commits - alone.commits).toBeLessThanOrEqual(12);
  });

  it('creates a session at seq 1, queued, never leased', async () => {
    const s = await ctx.store.createSession({ agent: 'contract', input: { a: 1 } });
    expect(s).toMatchObject({
      agent: 'contract',
      status: 'queued',
      headSeq: 1,
      leaseEpoch: 0,
      leaseOwner: null,
    });
    expect(typeof s.createdAtMs).toBe('number');
    const events = await ctx.store.readEvents(s.id);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ seq: 1, type: 'session.created', v: 1, epoch: 0 });
    expect(events[0]?.data).toEqual({ agent: 'contract', input: { a: 1 } });
  });

  it('keeps seq contiguous from 1 across appends and pages', async () => {
    const lease = await claimedSession(ctx.store);
    let head = lease.headSeq;
    for (let step = 0; step < 5; step++) {
      const result = await ctx.store.append({
        fence: lease,
        expectedSeq: head,
        events: [toolEvent(step), toolEvent(step)],
      });
      expect(result.headSeq).toBe(head + 2);
      head = result.headSeq;
    }
    const all = await ctx.store.readEvents(lease.sessionId);
    expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    const page = await ctx.store.readEvents(lease.sessionId, 4, 3);
    expect(page.map((e) => e.seq)).toEqual([5, 6, 7]);
    expect(all.every((e) => typeof e.seq === 'number' && typeof e.atMs === 'number')).toBe(true);
    expect(all.slice(1).every((e) => e.epoch === 1)).toBe(true);
    expect((await ctx.store.getSession(lease.sessionId)).headSeq).toBe(11);
  });

  it('lets exactly one of two appends at the same expected seq win', async () => {
    const lease = await claimedSession(ctx.store);
    const results = await Promise.allSettled([
      ctx.store.append({ fence: lease, expectedSeq: 1, events: [toolEvent(1)] }),
      ctx.store.append({ fence: lease, expectedSeq: 1, events: [toolEvent(2)] }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected');
    expect(isLongrunError(lost?.reason, 'SEQ_CONFLICT')).toBe(true);
    expect((await ctx.store.readEvents(lease.sessionId)).map((e) => e.seq)).toEqual([1, 2]);
  });

  it('refuses unknown ids, traversal ids and unknown event types with typed errors', async () => {
    await expectCode(ctx.store.getSession('ses_missing' as never), 'NOT_FOUND');
    await expectCode(ctx.store.getSession('../../etc/passwd' as never), 'INVALID_ARGUMENT');
    await expectCode(ctx.store.readEvents('a/b' as never), 'INVALID_ARGUMENT');
    const lease = await claimedSession(ctx.store);
    await expectCode(
      ctx.store.append({
        fence: lease,
        expectedSeq: 1,
        events: [{ type: 'made.up', data: {} } as never],
      }),
      'INVALID_ARGUMENT',
    );
    await expectCode(
      ctx.store.append({ fence: lease, expectedSeq: -1, events: [] }),
      'INVALID_ARGUMENT',
    );
    await expectCode(
      ctx.store.createSession({ id: lease.sessionId, agent: 'x', input: null }),
      'INVALID_STATE',
    );
  });

  it('lists sessions by status with keyset pages', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ctx.clock.advance(1);
      ids.push((await ctx.store.createSession({ agent: 'contract', input: i })).id);
    }
    await ctx.store.claim(ids[0]!, workerA, leaseMs);
    const queued = await ctx.store.listSessions({ status: 'queued' });
    expect(queued.map((s) => s.id)).toEqual(ids.slice(1));
    const first = await ctx.store.listSessions({ limit: 2 });
    const second = await ctx.store.listSessions({ limit: 2, afterId: first[1]!.id });
    expect([...first, ...second].map((s) => s.id)).toEqual(ids.slice(0, 4));
  });

  it('counts sessions by status, and the timer waits that are due', async () => {
    const zero = {
      queued: 0,
      running: 0,
      waiting: 0,
      paused: 0,
      completed: 0,
      failed: 0,
      cancelled: 0,
    };
    expect(await ctx.store.countSessions()).toEqual({ byStatus: zero, dueWaits: 0 });
    const waiting = await claimedSession(ctx.store);
    const untilMs = ctx.clock.nowMs() + 60_000;
    await ctx.store.append({
      fence: waiting,
      expectedSeq: 1,
      events: [event('wait.started', { waitId: 'w1', kind: 'timer', untilMs })],
      status: { status: 'waiting', wakeAtMs: untilMs },
      releaseLease: true,
    });
    for (let i = 0; i < 3; i++) await ctx.store.createSession({ agent: 'contract', input: i });
    const running = await ctx.store.claimNext(workerA, leaseMs);
    expect(running).not.toBeNull();
    const byStatus = { ...zero, queued: 2, running: 1, waiting: 1 };
    expect(await ctx.store.countSessions()).toEqual({ byStatus, dueWaits: 0 });
    ctx.clock.advance(60_000);
    expect(await ctx.store.countSessions()).toEqual({ byStatus, dueWaits: 1 });
  });
}

function leaseContract(ctx: ContractContext): void {
  it('claims with epoch 1 and refuses a second holder while the lease lives', async () => {
    const lease = await claimedSession(ctx.store);
    expect(lease).toMatchObject({ owner: workerA, epoch: 1, headSeq: 1 });
    expect(lease.expiresAtMs).toBe(ctx.clock.nowMs() + leaseMs);
    expect(await ctx.store.claim(lease.sessionId, workerB, leaseMs)).toBeNull();
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
    expect((await ctx.store.getSession(lease.sessionId)).status).toBe('running');
  });

  it('creates a session held by its creator (heldBy): no claimer takes it until released', async () => {
    const held = await ctx.store.createSession({
      agent: 'contract',
      input: null,
      heldBy: { owner: workerA, leaseMs },
    });
    expect(held).toMatchObject({
      status: 'running',
      leaseOwner: workerA,
      leaseEpoch: 1,
      headSeq: 1,
    });
    expect(held.leaseExpiresAtMs).toBe(ctx.clock.nowMs() + leaseMs);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
    expect(await ctx.store.claim(held.id, workerB, leaseMs)).toBeNull();
    // The record's lease is the fence of the creator's writes.
    const fence = { sessionId: held.id, owner: workerA, epoch: held.leaseEpoch };
    await ctx.store.append({ fence, expectedSeq: 1, events: [toolEvent(1)] });
    await ctx.store.releaseLease(fence);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toMatchObject({
      sessionId: held.id,
      epoch: 2,
      headSeq: 2,
    });
    await expectCode(
      ctx.store.createSession({
        agent: 'contract',
        input: null,
        heldBy: { owner: workerA, leaseMs },
        idempotencyKey: 'k',
        requestHash: 'h',
      }),
      'INVALID_ARGUMENT',
    );
    await expectCode(
      ctx.store.createSession({
        agent: 'contract',
        input: null,
        heldBy: { owner: workerA, leaseMs: 0 },
      }),
      'INVALID_ARGUMENT',
    );
  });

  it('expires leases by the store clock, not before', async () => {
    const lease = await claimedSession(ctx.store);
    ctx.clock.advance(leaseMs - 1);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
    ctx.clock.advance(1);
    const taken = await ctx.store.claimNext(workerB, leaseMs);
    expect(taken).toMatchObject({ sessionId: lease.sessionId, owner: workerB, epoch: 2 });
  });

  it('fences every write of a superseded holder in the same transaction', async () => {
    const old = await claimedSession(ctx.store);
    ctx.clock.advance(leaseMs);
    const current = await ctx.store.claim(old.sessionId, workerB, leaseMs);
    expect(current?.epoch).toBe(2);
    await expectCode(
      ctx.store.append({ fence: old, expectedSeq: 1, events: [toolEvent(1)] }),
      'LEASE_LOST',
    );
    await expectCode(ctx.store.renewLease(old, leaseMs), 'LEASE_LOST');
    await expectCode(ctx.store.saveCheckpoint(old, { seq: 1, state: {} }), 'LEASE_LOST');
    await ctx.store.releaseLease(old); // a stale release changes nothing
    expect((await ctx.store.getSession(old.sessionId)).leaseOwner).toBe(workerB);
    expect(await ctx.store.readEvents(old.sessionId)).toHaveLength(1);
    await ctx.store.append({ fence: current!, expectedSeq: 1, events: [toolEvent(1)] });
    expect((await ctx.store.readEvents(old.sessionId)).map((e) => e.epoch)).toEqual([0, 2]);
  });

  it('renews a live lease and releases it for the next claimer', async () => {
    const lease = await claimedSession(ctx.store);
    ctx.clock.advance(leaseMs - 1);
    const renewed = await ctx.store.renewLease(lease, leaseMs);
    expect(renewed.expiresAtMs).toBe(ctx.clock.nowMs() + leaseMs);
    ctx.clock.advance(leaseMs - 1);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
    await ctx.store.releaseLease(renewed);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toMatchObject({ epoch: 2, owner: workerB });
  });

  it('lets a restarted owner reclaim its unfinished sessions with a new epoch', async () => {
    const lease = await claimedSession(ctx.store);
    const other = await ctx.store.createSession({ agent: 'contract', input: null });
    const reclaimed = await ctx.store.reclaimOwned(workerA, leaseMs);
    expect(reclaimed.map((l) => [l.sessionId, l.epoch])).toEqual([[lease.sessionId, 2]]);
    expect((await ctx.store.getSession(other.id)).leaseOwner).toBeNull();
    await expectCode(ctx.store.append({ fence: lease, expectedSeq: 1, events: [] }), 'LEASE_LOST');
  });

  it('claims only sessions of the agents a claimer names, leaving the others claimable', async () => {
    const coder = await ctx.store.createSession({ agent: 'coder', input: null });
    const writer = await ctx.store.createSession({ agent: 'writer', input: null });
    expect(await ctx.store.claimNext(workerA, leaseMs, { agents: [] })).toBeNull();
    expect(await ctx.store.claimNext(workerA, leaseMs, { agents: ['reviewer'] })).toBeNull();
    const byWriter = await ctx.store.claimNext(workerA, leaseMs, { agents: ['writer', 'writer'] });
    expect(byWriter?.sessionId).toBe(writer.id);
    expect(await ctx.store.claimNext(workerA, leaseMs, { agents: ['writer'] })).toBeNull();
    expect((await ctx.store.getSession(coder.id)).leaseOwner).toBeNull();
    const byAny = await ctx.store.claimNext(workerB, leaseMs);
    expect(byAny?.sessionId).toBe(coder.id);
    await expectCode(ctx.store.claimNext(workerA, leaseMs, { agents: [''] }), 'INVALID_ARGUMENT');
    await expectCode(
      ctx.store.claimNext(workerA, leaseMs, { agents: 'coder' as unknown as string[] }),
      'INVALID_ARGUMENT',
    );
  });

  it('reclaims only the owned sessions of the agents a restarted owner names', async () => {
    const kept = await claimedSession(ctx.store);
    const other = await ctx.store.createSession({ agent: 'writer', input: null });
    const left = await ctx.store.claim(other.id, workerA, leaseMs);
    const reclaimed = await ctx.store.reclaimOwned(workerA, leaseMs, { agents: ['contract'] });
    expect(reclaimed.map((l) => [l.sessionId, l.epoch])).toEqual([[kept.sessionId, 2]]);
    expect(await ctx.store.getSession(other.id)).toMatchObject({
      leaseOwner: workerA,
      leaseEpoch: left?.epoch,
    });
  });

  it('gives exactly one of several simultaneous claimers the lease', async () => {
    const peers = await Promise.all([1, 2, 3].map(() => ctx.db.open(ctx.clock)));
    try {
      for (let trial = 0; trial < 20; trial++) {
        const s = await ctx.store.createSession({ agent: 'race', input: trial });
        const claims = await Promise.all(
          [ctx.store, ...peers].map((store, i) =>
            store.claim(s.id, workerId(`racer-${i}`), leaseMs),
          ),
        );
        expect(claims.filter((c) => c !== null)).toHaveLength(1);
      }
    } finally {
      await Promise.all(peers.map((p) => p.close()));
    }
  });

  it('never claims a finished or paused session', async () => {
    for (const status of ['completed', 'failed', 'cancelled', 'paused'] as const) {
      const lease = await claimedSession(ctx.store);
      await ctx.store.append({
        fence: lease,
        expectedSeq: 1,
        events: [],
        status: { status },
        releaseLease: true,
      });
    }
    ctx.clock.advance(leaseMs * 10);
    expect(await ctx.store.claimNext(workerB, leaseMs)).toBeNull();
  });
}

function recordsContract(ctx: ContractContext): void {
  it('keeps one checkpoint: the same seq twice is a no-op, an older one never replaces a newer', async () => {
    const lease = await claimedSession(ctx.store);
    await ctx.store.append({ fence: lease, expectedSeq: 1, events: [toolEvent(1), toolEvent(2)] });
    await ctx.store.saveCheckpoint(lease, { seq: 3, state: { n: 3 } });
    await ctx.store.saveCheckpoint(lease, { seq: 3, state: { n: 3 } });
    await ctx.store.saveCheckpoint(lease, { seq: 2, state: { n: 2 } });
    expect(await ctx.store.latestCheckpoint(lease.sessionId)).toMatchObject({
      seq: 3,
      state: { n: 3 },
    });
    await expectCode(ctx.store.saveCheckpoint(lease, { seq: 9, state: {} }), 'INVALID_ARGUMENT');
    await ctx.store.append({
      fence: lease,
      expectedSeq: 3,
      events: [toolEvent(3)],
      checkpoint: { seq: 4, state: { n: 4 } },
    });
    expect(await ctx.store.latestCheckpoint(lease.sessionId)).toMatchObject({
      seq: 4,
      state: { n: 4 },
    });
  });

  it('keeps checkpoint parts: each index once, removed below keepFrom, applied only by a checkpoint that replaces the stored one', async () => {
    const lease = await claimedSession(ctx.store);
    const parts = async () => (await ctx.store.latestCheckpoint(lease.sessionId))?.parts;
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [toolEvent(1)],
      checkpoint: {
        seq: 2,
        state: { n: 2 },
        parts: {
          add: [
            { index: 1, value: { m: 'b' } },
            { index: 0, value: ['a'] },
          ],
          keepFrom: 0,
        },
      },
    });
    expect(await ctx.store.latestCheckpoint(lease.sessionId)).toEqual({
      sessionId: lease.sessionId,
      seq: 2,
      state: { n: 2 },
      parts: [
        { index: 0, value: ['a'] },
        { index: 1, value: { m: 'b' } },
      ],
    });
    // An index the session has keeps its value; a new one is added.
    await ctx.store.append({
      fence: lease,
      expectedSeq: 2,
      events: [toolEvent(2)],
      checkpoint: {
        seq: 3,
        state: { n: 3 },
        parts: {
          add: [
            { index: 1, value: 'changed' },
            { index: 2, value: 'c' },
          ],
          keepFrom: 0,
        },
      },
    });
    expect(await parts()).toEqual([
      { index: 0, value: ['a'] },
      { index: 1, value: { m: 'b' } },
      { index: 2, value: 'c' },
    ]);
    // A checkpoint that does not replace the stored one (same or older seq) changes no part.
    const stale = { add: [{ index: 9, value: 'no' }], keepFrom: 3 };
    await ctx.store.saveCheckpoint(lease, { seq: 3, state: { n: 3 }, parts: stale });
    await ctx.store.saveCheckpoint(lease, { seq: 2, state: { n: 2 }, parts: stale });
    expect((await parts())?.map((p) => p.index)).toEqual([0, 1, 2]);
    // Without parts, a new checkpoint leaves them as they are.
    await ctx.store.append({
      fence: lease,
      expectedSeq: 3,
      events: [toolEvent(3)],
      checkpoint: { seq: 4, state: { n: 4 } },
    });
    expect((await parts())?.map((p) => p.index)).toEqual([0, 1, 2]);
    // keepFrom removes the parts below it, through saveCheckpoint as through an append.
    await ctx.store.saveCheckpoint(lease, {
      seq: 4,
      state: { n: 4 },
      parts: { add: [], keepFrom: 1 },
    });
    expect((await parts())?.map((p) => p.index)).toEqual([0, 1, 2]); // seq 4 again: no change
    await ctx.store.append({ fence: lease, expectedSeq: 4, events: [toolEvent(4)] });
    await ctx.store.saveCheckpoint(lease, {
      seq: 5,
      state: { n: 5 },
      parts: { add: [{ index: 3, value: 'd' }], keepFrom: 2 },
    });
    expect(await ctx.store.latestCheckpoint(lease.sessionId)).toMatchObject({
      seq: 5,
      parts: [
        { index: 2, value: 'c' },
        { index: 3, value: 'd' },
      ],
    });
    // Another session's parts are its own.
    const other = await claimedSession(ctx.store);
    await ctx.store.saveCheckpoint(other, {
      seq: 1,
      state: {},
      parts: { add: [{ index: 2, value: 'other' }], keepFrom: 0 },
    });
    expect((await ctx.store.latestCheckpoint(other.sessionId))?.parts).toEqual([
      { index: 2, value: 'other' },
    ]);
    expect((await parts())?.map((p) => p.value)).toEqual(['c', 'd']);
  });

  it('writes no checkpoint part for a superseded holder, a failed append or a bad part', async () => {
    const old = await claimedSession(ctx.store);
    const parts = { add: [{ index: 0, value: 'x' }], keepFrom: 0 };
    ctx.clock.advance(leaseMs);
    const current = (await ctx.store.claim(old.sessionId, workerB, leaseMs))!;
    await expectCode(
      ctx.store.append({
        fence: old,
        expectedSeq: 1,
        events: [toolEvent(1)],
        checkpoint: { seq: 2, state: {}, parts },
      }),
      'LEASE_LOST',
    );
    await expectCode(ctx.store.saveCheckpoint(old, { seq: 1, state: {}, parts }), 'LEASE_LOST');
    await expectCode(
      ctx.store.append({
        fence: current,
        expectedSeq: 7,
        events: [toolEvent(1)],
        checkpoint: { seq: 2, state: {}, parts },
      }),
      'SEQ_CONFLICT',
    );
    for (const bad of [
      { add: [{ index: 0, value: 'x' }], keepFrom: 1 },
      { add: [{ index: -1, value: 'x' }], keepFrom: 0 },
      { add: [{ index: 1.5, value: 'x' }], keepFrom: 0 },
      {
        add: [
          { index: 0, value: 'x' },
          { index: 0, value: 'y' },
        ],
        keepFrom: 0,
      },
      { add: [], keepFrom: -1 },
      { add: [{ index: 2 ** 31, value: 'x' }], keepFrom: 0 },
    ]) {
      await expectCode(
        ctx.store.append({
          fence: current,
          expectedSeq: 1,
          events: [toolEvent(1)],
          checkpoint: { seq: 2, state: {}, parts: bad },
        }),
        'INVALID_ARGUMENT',
      );
    }
    expect(await ctx.store.latestCheckpoint(old.sessionId)).toBeNull();
    expect(await ctx.store.readEvents(old.sessionId)).toHaveLength(1);
  });

  it('records effects by (session, step, call) and counts attempts', async () => {
    const lease = await claimedSession(ctx.store);
    const change = {
      step: 1,
      callIndex: 0,
      tool: 'ledger',
      effect: 'keyed',
      idempotencyKey: 'k-1-0',
    } as const;
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [],
      effects: [{ ...change, status: 'started' }],
    });
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [],
      effects: [{ ...change, status: 'started' }],
    });
    let effects = await ctx.store.listEffects(lease.sessionId);
    expect(effects).toMatchObject([
      { step: 1, callIndex: 0, status: 'started', attempts: 2, idempotencyKey: 'k-1-0' },
    ]);
    await ctx.store.append({
      fence: lease,
      expectedSeq: 1,
      events: [toolEvent(1)],
      effects: [{ ...change, status: 'completed' }],
    });
    effects = await ctx.store.listEffects(lease.sessionId);
    expect(effects).toMatchObject([{ status: 'completed', attempts: 2 }]);
  });

  it('rolls back the whole append when any part of it fails', async () => {
    const lease = await claimedSession(ctx.store);
    const effect = {
      step: 1,
      callIndex: 0,
      tool: 't',
      effect: 'pure',
      idempotencyKey: 'k',
      status: 'started',
    } as const;
    await expectCode(
      ctx.store.append({
        fence: lease,
        expectedSeq: 1,
        events: [toolEvent(1)],
        effects: [effect],
        checkpoint: { seq: 2, state: { partial: true } },
        status: { status: 'completed' },
        consumeSignals: ['sig_does_not_exist'],
      }),
      'INVALID_STATE',
    );
    expect(await ctx.store.readEvents(lease.sessionId)).toHaveLength(1);
    expect(await ctx.store.listEffects(lease.sessionId)).toEqual([]);
    expect(await ctx.store.latestCheckpoint(lease.sessionId)).toBeNull();
    expect(await ctx.store.getSession(lease.sessionId)).toMatchObject({
      headSeq: 1,
      status: 'running',
    });
  });
}

function schemaContract(ctx: ContractContext): void {
  it('runs migrations twice and concurrently without harm', async () => {
    await ctx.store.migrate();
    await ctx.store.migrate();
    const peers = await Promise.all([1, 2, 3, 4].map(() => ctx.db.open(ctx.clock)));
    await Promise.all(peers.map((p) => p.migrate()));
    await Promise.all(peers.map((p) => p.close()));
    const s = await ctx.store.createSession({ agent: 'after-migrations', input: null });
    expect((await ctx.store.getSession(s.id)).agent).toBe('after-migrations');
  });

  it('refuses a database written by a newer schema version', async () => {
    await ctx.db.writeNewerSchemaVersion();
    await expectCode(ctx.db.open(ctx.clock), 'SCHEMA_TOO_NEW');
  });

  it('reports durability settings that keep every acknowledged commit', () => {
    const report = ctx.store.durability();
    expect(report.safe).toBe(true);
    expect(Object.keys(report.settings).length).toBeGreaterThan(0);
  });
}
