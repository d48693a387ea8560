import { afterEach, expect, it } from 'vitest';
import {
  event,
  isLongrunError,
  workerId,
  type AppendRequest,
  type Lease,
  type SessionId,
} from '@longrun/core';
import { PostgresStore, type PostgresStoreOptions } from './postgres-store.ts';
import {
  describeWithServer,
  dropSchema,
  eventually,
  probeTestServer,
  randomSchema,
  testUrl,
  withAdmin,
} from './test-server.ts';

const unavailable = await probeTestServer();
const w = workerId('w');

/**
 * Group commit against a real server. With maxInFlight 1, appends called in one turn go out as
 * one append_batch_flat call (the batching policy itself is tested in append-batcher.test.ts).
 */
describeWithServer('postgres group commit', unavailable, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function openStore(options: Partial<PostgresStoreOptions> = {}, schema = randomSchema()) {
    const store = await PostgresStore.open({ url: testUrl, schema, ...options });
    cleanup.push(
      () => dropSchema(schema),
      () => store.close(),
    );
    return store;
  }

  async function leased(store: PostgresStore): Promise<Lease> {
    const s = await store.createSession({ agent: 'batch', input: null });
    return (await store.claim(s.id, w, 60_000)) as Lease;
  }

  const step = (n: number) =>
    event('tool.completed', { step: n, callIndex: 0, tool: 't', ok: true, output: n, attempt: 1 });

  /** Each request's outcome: its head seq, or its error's code and message. */
  async function outcomes(store: PostgresStore, requests: AppendRequest[]) {
    const settled = await Promise.allSettled(requests.map((r) => store.append(r)));
    return settled.map((s) =>
      s.status === 'fulfilled'
        ? { headSeq: s.value.headSeq }
        : isLongrunError(s.reason)
          ? { code: s.reason.code, message: s.reason.message, details: s.reason.details }
          : { unexpected: String(s.reason) },
    );
  }

  it('settles every append of one batch as it would have settled alone', async () => {
    const store = await openStore({ appendBatching: { maxInFlight: 1 } });
    const ok = await leased(store);
    const stale = await leased(store);
    await store.releaseLease(stale);
    await store.claim(stale.sessionId, workerId('other'), 60_000);
    const conflicted = await leased(store);
    const signalled = await leased(store);
    const badTool = await leased(store);
    const missing = { ...ok, sessionId: 'ses_missing' as SessionId };
    const effect = { step: 1, callIndex: 0, effect: 'pure', idempotencyKey: 'k' } as const;
    const requests: AppendRequest[] = [
      { fence: ok, expectedSeq: 1, events: [step(1)] },
      { fence: stale, expectedSeq: 1, events: [step(1)] },
      { fence: conflicted, expectedSeq: 5, events: [step(1)] },
      { fence: missing, expectedSeq: 1, events: [step(1)] },
      { fence: signalled, expectedSeq: 1, events: [step(1)], consumeSignals: ['sig_none'] },
      {
        fence: badTool,
        expectedSeq: 1,
        events: [step(1)],
        effects: [{ ...effect, tool: 'nul\u0000', status: 'started' }],
      },
      // After the first append of the same session, in the same batch.
      { fence: ok, expectedSeq: 2, events: [step(2), step(3)] },
      { fence: ok, expectedSeq: 2, events: [step(2)] },
    ];
    const batched = await outcomes(store, requests);
    expect(batched.map((o) => ('code' in o ? o.code : o))).toEqual([
      { headSeq: 2 },
      'LEASE_LOST',
      'SEQ_CONFLICT',
      'NOT_FOUND',
      'INVALID_STATE',
      'INVALID_ARGUMENT',
      { headSeq: 4 },
      'SEQ_CONFLICT',
    ]);
    expect(batched[2]).toMatchObject({ details: { headSeq: 1 } });
    // A failed append left nothing behind; the others committed.
    for (const lease of [stale, conflicted, signalled, badTool]) {
      expect((await store.readEvents(lease.sessionId)).map((e) => e.seq)).toEqual([1]);
    }
    expect((await store.readEvents(ok.sessionId)).map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    // The failures, made again one at a time (the solo statement), say exactly the same.
    const failures = [1, 2, 3, 4, 5, 7];
    const alone: unknown[] = [];
    for (const i of failures) alone.push(...(await outcomes(store, [requests[i]!])));
    const again = failures.map((i) => batched[i]);
    expect(alone.slice(0, 5)).toEqual(again.slice(0, 5));
    expect(alone[5]).toMatchObject({ code: 'SEQ_CONFLICT', details: { headSeq: 4 } });
  });

  it('sends a batch the server refused as a whole again one append at a time', async () => {
    const store = await openStore({ appendBatching: { maxInFlight: 1 } });
    const [a, b, c, d] = await Promise.all([0, 1, 2, 3].map(() => leased(store)));
    // A signal id is any text: one with a NUL reaches the server raw in the batch's text[] of
    // signals consumed, which PostgreSQL refuses (22021) before the function runs, for every
    // append of the batch. Sent again alone, each settles as it would have by itself.
    const settled = await outcomes(store, [
      { fence: a!, expectedSeq: 1, events: [step(1)] },
      { fence: b!, expectedSeq: 1, events: [step(1)], consumeSignals: ['sig_\u0000'] },
      { fence: c!, expectedSeq: 7, events: [step(1)] },
      { fence: d!, expectedSeq: 1, events: [step(1), step(2)] },
      { fence: a!, expectedSeq: 2, events: [step(2)] },
    ]);
    expect(settled.map((o) => ('code' in o ? o.code : o))).toEqual([
      { headSeq: 2 },
      'INVALID_ARGUMENT',
      'SEQ_CONFLICT',
      { headSeq: 3 },
      { headSeq: 3 },
    ]);
    expect(settled[2]).toMatchObject({ details: { headSeq: 1 } });
    expect((await store.readEvents(a!.sessionId)).map((e) => e.seq)).toEqual([1, 2, 3]);
    expect((await store.readEvents(b!.sessionId)).map((e) => e.seq)).toEqual([1]);
    expect((await store.readEvents(c!.sessionId)).map((e) => e.seq)).toEqual([1]);
    expect((await store.readEvents(d!.sessionId)).map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it('applies one session’s appends in call order across batches', async () => {
    const store = await openStore({ appendBatching: { maxInFlight: 3, splitMinItems: 1 } });
    const lease = await leased(store);
    const others = await Promise.all([0, 1, 2].map(() => leased(store)));
    const pending: Promise<unknown>[] = [];
    for (let i = 1; i <= 12; i++) {
      pending.push(store.append({ fence: lease, expectedSeq: i, events: [step(i)] }));
      const other = others[i % 3]!;
      pending.push(store.append({ fence: other, expectedSeq: 0, events: [] }).catch(() => null));
      // A turn between calls, so the appends spread over several batches in flight.
      if (i % 4 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all(pending);
    const seqs = (await store.readEvents(lease.sessionId)).map((e) => e.seq);
    expect(seqs).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
  });

  it('rejects every append of a batch whose connection dies, retryably, and commits none', async () => {
    const applicationName = randomSchema('lr_batch');
    const store = await openStore({ applicationName, appendBatching: { maxInFlight: 1 } });
    const leases = await Promise.all([0, 1, 2].map(() => leased(store)));
    const target = leases[1]!;
    await withAdmin(async (admin) => {
      // Hold the middle session's row so that the batch stops there, half applied.
      await admin.query('BEGIN');
      await admin.query(`SELECT 1 FROM "${store.schema}".sessions WHERE id = $1 FOR UPDATE`, [
        target.sessionId,
      ]);
      const appends = leases.map((fence) =>
        store.append({ fence, expectedSeq: 1, events: [step(1)] }).catch((e: unknown) => e),
      );
      await eventually(async () => {
        const { rows } = await admin.query(
          `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
          [applicationName],
        );
        return rows.length > 0 ? true : null;
      });
      await admin.query(
        'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1',
        [applicationName],
      );
      for (const failure of await Promise.all(appends)) {
        expect(isLongrunError(failure, 'STORE_UNAVAILABLE')).toBe(true);
        expect((failure as { retryable: boolean }).retryable).toBe(true);
      }
      await admin.query('ROLLBACK');
    });
    for (const lease of leases) {
      expect((await store.readEvents(lease.sessionId)).map((e) => e.seq)).toEqual([1]);
    }
    // The pool reconnects: the same appends now commit.
    const retried = await outcomes(
      store,
      leases.map((fence) => ({ fence, expectedSeq: 1, events: [step(1)] })),
    );
    expect(retried).toEqual(leases.map(() => ({ headSeq: 2 })));
  });

  it('sends the appends it accepted before close, and refuses later ones', async () => {
    const schema = randomSchema();
    const store = await openStore({}, schema);
    const leases = await Promise.all([0, 1, 2].map(() => leased(store)));
    const appends = leases.map((fence) =>
      store.append({ fence, expectedSeq: 1, events: [step(1)] }),
    );
    await store.close();
    expect((await Promise.all(appends)).map((r) => r.headSeq)).toEqual([2, 2, 2]);
    const refused = await store
      .append({ fence: leases[0]!, expectedSeq: 2, events: [] })
      .catch((e: unknown) => e);
    expect(isLongrunError(refused, 'STORE_UNAVAILABLE')).toBe(true);
    const reopened = await openStore({}, schema);
    for (const lease of leases)
      expect((await reopened.getSession(lease.sessionId)).headSeq).toBe(2);
  });
});
