import { afterEach, expect, it } from 'vitest';
import {
  event,
  workerId,
  type AppendRequest,
  type AppendResult,
  type CheckpointWrite,
  type JsonValue,
  type Lease,
} from '@longrun/core';
import { PostgresStore } from './postgres-store.ts';
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

const step = (n: number) =>
  event('tool.completed', { step: n, callIndex: 0, tool: 't', ok: true, output: n, attempt: 1 });

/** Values that an array literal, a JSON item and a text column must all carry exactly. */
const values: JsonValue[] = [
  { role: 'user', content: 'quote " backslash \\ newline \n tab \t' },
  ['é ü 漢字 🙂', null, 1.5, true],
  'a plain string, with a comma, and {braces}',
  { nested: { deeper: [1, 2, { x: 'NULL' }] } },
  'NULL',
];

/**
 * Checkpoint parts against a real server, written by a lone append (append_events), by an append
 * in a batch (append_batch_flat: with maxInFlight 1, appends called in one turn go out together), and
 * by saveCheckpoint (save_checkpoint).
 */
describeWithServer('postgres checkpoint parts', unavailable, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function openStore(schema = randomSchema()) {
    // track_functions: to see that the batched appends did go through append_batch_flat.
    const url = new URL(testUrl);
    url.searchParams.set('options', '-c track_functions=pl');
    const store = await PostgresStore.open({
      url: url.href,
      schema,
      appendBatching: { maxInFlight: 1 },
    });
    cleanup.push(
      () => dropSchema(schema),
      () => store.close(),
    );
    return store;
  }

  async function leased(store: PostgresStore): Promise<Lease> {
    const s = await store.createSession({ agent: 'parts', input: null });
    return (await store.claim(s.id, w, 60_000)) as Lease;
  }

  /** How the appends of a test are made: alone, or each beside another session's in one batch. */
  async function writer(store: PostgresStore, batched: boolean) {
    const filler = await leased(store);
    let fillerHead = filler.headSeq;
    return async (request: AppendRequest): Promise<AppendResult> => {
      if (!batched) return store.append(request);
      const [mine, other] = await Promise.allSettled([
        store.append(request),
        store.append({ fence: filler, expectedSeq: fillerHead, events: [step(fillerHead)] }),
      ]);
      if (other.status === 'rejected') throw other.reason;
      fillerHead++;
      if (mine.status === 'rejected') throw mine.reason;
      return mine.value;
    };
  }

  /** The calls of append_batch_flat in the schema so far (function statistics arrive within ~1 s). */
  async function batchCalls(schema: string, atLeast: number): Promise<number> {
    return eventually(async () => {
      const { rows } = await withAdmin((c) =>
        c.query<{ n: string }>(
          `SELECT coalesce(sum(calls), 0) AS n FROM pg_stat_user_functions
           WHERE schemaname = $1 AND funcname = 'append_batch_flat'`,
          [schema],
        ),
      );
      const n = Number(rows[0]?.n ?? 0);
      return n >= atLeast ? n : null;
    });
  }

  const parts = (...indexes: number[]) =>
    indexes.map((index) => ({ index, value: values[index % values.length] as JsonValue }));

  for (const batched of [false, true]) {
    const how = batched ? 'an append in a batch' : 'a lone append';

    it(`applies the parts written by ${how} only when its checkpoint replaces the stored one`, async () => {
      const schema = randomSchema();
      const store = await openStore(schema);
      const write = await writer(store, batched);
      const lease = await leased(store);
      const id = lease.sessionId;
      let head = lease.headSeq;
      const append = async (checkpoint?: CheckpointWrite) => {
        await write({
          fence: lease,
          expectedSeq: head,
          events: [step(head)],
          ...(checkpoint ? { checkpoint } : {}),
        });
        head++;
      };
      const stored = async () => {
        const c = await store.latestCheckpoint(id);
        return c && { seq: c.seq, state: c.state, parts: c.parts };
      };

      expect(await store.latestCheckpoint(id)).toBeNull();
      // Written with the first checkpoint.
      await append({ seq: 2, state: { at: 2 }, parts: { add: parts(0, 1, 2, 3), keepFrom: 0 } });
      expect(await stored()).toEqual({ seq: 2, state: { at: 2 }, parts: parts(0, 1, 2, 3) });
      expect(await store.latestCheckpoint(id)).toMatchObject({ sessionId: id });

      // keepFrom removes those below it; an index the session has keeps its stored value.
      await append({
        seq: 3,
        state: { at: 3 },
        parts: {
          add: [
            { index: 3, value: 'not this one' },
            { index: 5, value: values[0] as JsonValue },
            { index: 4, value: values[4] as JsonValue },
          ],
          keepFrom: 2,
        },
      });
      expect(await stored()).toEqual({ seq: 3, state: { at: 3 }, parts: parts(2, 3, 4, 5) });

      // An older or equal seq changes nothing, parts included.
      for (const seq of [2, 3]) {
        await append({
          seq,
          state: { stale: seq },
          parts: { add: [{ index: 9, value: 'stale' }], keepFrom: 5 },
        });
        expect(await stored()).toEqual({ seq: 3, state: { at: 3 }, parts: parts(2, 3, 4, 5) });
      }

      // A checkpoint without parts replaces the state and leaves the parts as they are.
      await append({ seq: head + 1, state: { plain: true } });
      expect(await stored()).toEqual({
        seq: head,
        state: { plain: true },
        parts: parts(2, 3, 4, 5),
      });

      // Empty add with a keepFrom past every part: none left.
      await append({ seq: head + 1, state: { empty: true }, parts: { add: [], keepFrom: 100 } });
      expect(await stored()).toEqual({ seq: head, state: { empty: true }, parts: [] });

      // A stale epoch writes nothing: no events, no checkpoint, no parts.
      await append({ seq: head + 1, state: { again: 1 }, parts: { add: parts(7), keepFrom: 0 } });
      const before = await stored();
      await store.releaseLease(lease);
      await store.claim(id, workerId('other'), 60_000);
      await expect(
        write({
          fence: lease,
          expectedSeq: head,
          events: [step(head)],
          checkpoint: {
            seq: head + 1,
            state: { fenced: true },
            parts: { add: parts(8), keepFrom: 8 },
          },
        }),
      ).rejects.toMatchObject({ code: 'LEASE_LOST' });
      expect(await stored()).toEqual(before);
      expect(before?.parts).toEqual(parts(7));
      expect((await store.getSession(id)).headSeq).toBe(head);

      // Another session's parts are its own.
      const other = await leased(store);
      expect(await store.latestCheckpoint(other.sessionId)).toBeNull();
      await write({
        fence: other,
        expectedSeq: other.headSeq,
        events: [],
        checkpoint: { seq: other.headSeq, state: null, parts: { add: parts(0), keepFrom: 0 } },
      });
      expect(await store.latestCheckpoint(other.sessionId)).toMatchObject({
        seq: other.headSeq,
        state: null,
        parts: parts(0),
      });
      expect((await stored())?.parts).toEqual(parts(7));

      expect(await batchCalls(schema, batched ? 9 : 0)).toBe(batched ? 9 : 0);
    });
  }

  it('applies the parts saveCheckpoint writes only when its checkpoint replaces the stored one', async () => {
    const store = await openStore();
    const lease = await leased(store);
    const id = lease.sessionId;
    await store.append({ fence: lease, expectedSeq: 1, events: [step(1), step(2), step(3)] });
    const save = (checkpoint: CheckpointWrite) => store.saveCheckpoint(lease, checkpoint);
    const stored = async () => {
      const c = await store.latestCheckpoint(id);
      return c && { seq: c.seq, state: c.state, parts: c.parts };
    };

    await save({ seq: 2, state: 'two', parts: { add: parts(1, 2), keepFrom: 1 } });
    expect(await stored()).toEqual({ seq: 2, state: 'two', parts: parts(1, 2) });
    // Saved again with the same seq: a no-op.
    await save({ seq: 2, state: 'again', parts: { add: parts(3), keepFrom: 2 } });
    expect(await stored()).toEqual({ seq: 2, state: 'two', parts: parts(1, 2) });
    // Newer: keepFrom applies, index 2 is kept as stored.
    await save({
      seq: 3,
      state: 'three',
      parts: { add: [{ index: 2, value: 'other' }, ...parts(3)], keepFrom: 2 },
    });
    expect(await stored()).toEqual({ seq: 3, state: 'three', parts: parts(2, 3) });
    // Without parts: they stay.
    await save({ seq: 4, state: 'four' });
    expect(await stored()).toEqual({ seq: 4, state: 'four', parts: parts(2, 3) });
    // Past the head, or with a stale fence: nothing written.
    await expect(
      save({ seq: 5, state: 'five', parts: { add: [], keepFrom: 9 } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await store.releaseLease(lease);
    await store.claim(id, workerId('other'), 60_000);
    await expect(
      save({ seq: 4, state: 'fenced', parts: { add: [], keepFrom: 9 } }),
    ).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await stored()).toEqual({ seq: 4, state: 'four', parts: parts(2, 3) });
  });

  it('rejects bad parts before writing, and reads a part that does not parse as a typed error', async () => {
    const store = await openStore();
    const lease = await leased(store);
    const id = lease.sessionId;
    await expect(
      store.append({
        fence: lease,
        expectedSeq: 1,
        events: [step(1)],
        checkpoint: { seq: 2, state: 1, parts: { add: parts(1, 1), keepFrom: 0 } },
      }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(
      store.saveCheckpoint(lease, { seq: 1, state: 1, parts: { add: parts(0), keepFrom: 1 } }),
    ).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((await store.getSession(id)).headSeq).toBe(1);
    expect(await store.latestCheckpoint(id)).toBeNull();

    await store.saveCheckpoint(lease, { seq: 1, state: 1, parts: { add: parts(0), keepFrom: 0 } });
    await withAdmin((c) =>
      c.query(`UPDATE "${store.schema}".checkpoint_parts SET value = '{"cut'`),
    );
    await expect(store.latestCheckpoint(id)).rejects.toMatchObject({ code: 'INTERNAL' });
  });
});
