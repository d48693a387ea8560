import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { event, workerId } from '@longrun/core';
import { CheckpointVacuum } from './checkpoint-vacuum.ts';
import { PostgresStore } from './postgres-store.ts';
import { schemaName } from './schema-name.ts';
import {
  describeWithServer,
  dropSchema,
  probeTestServer,
  randomSchema,
  testUrl,
  withAdmin,
} from './test-server.ts';

const unavailable = await probeTestServer();

describeWithServer('postgres checkpoint vacuum', unavailable, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  /**
   * Writes `versions` checkpoints of ~64 kB (in their state, or in a part that replaces the part
   * before it, as a merge of parts does); the size of the checkpoints and their parts then, and of
   * the live ~64 kB value.
   */
  async function rewriteCheckpoints(
    versions: number,
    where: 'state' | 'part' = 'state',
  ): Promise<{ bytes: number; live: number }> {
    const schema = randomSchema();
    cleanup.push(() => dropSchema(schema));
    const store = await PostgresStore.open({ url: testUrl, schema, poolSize: 3 });
    cleanup.push(() => store.close());
    const session = await store.createSession({ agent: 'big', input: null });
    const lease = await store.claim(session.id, workerId('w'), 60_000);
    if (lease === null) throw new Error('not claimable');
    // Hex compresses poorly; both paths a checkpoint takes, in turn.
    for (let n = 1; n <= versions; n++) {
      const blob = { n, blob: randomBytes(32 * 1024).toString('hex') };
      const completed = { step: n, callIndex: 0, tool: 't', ok: true, output: n, attempt: 1 };
      const events = [event('tool.completed', completed)];
      const checkpoint =
        where === 'state'
          ? { seq: n + 1, state: blob }
          : { seq: n + 1, state: { n }, parts: { add: [{ index: n, value: blob }], keepFrom: n } };
      if (n % 2 === 0) {
        await store.append({ fence: lease, expectedSeq: n, events });
        await store.saveCheckpoint(lease, checkpoint);
      } else {
        await store.append({ fence: lease, expectedSeq: n, events, checkpoint });
      }
    }
    const latest = await store.latestCheckpoint(session.id);
    expect(latest?.state).toMatchObject({ n: versions });
    expect(latest?.parts.length).toBe(where === 'part' ? 1 : 0);
    await store.close(); // waits for a vacuum under way
    const live =
      where === 'state'
        ? `(SELECT pg_column_size(state) FROM "${schema}".checkpoints)`
        : `(SELECT pg_column_size(value) FROM "${schema}".checkpoint_parts)`;
    const { rows } = await withAdmin((c) =>
      c.query(
        `SELECT (pg_total_relation_size(to_regclass($1))
           + pg_total_relation_size(to_regclass($2)))::int AS bytes, ${live}::int AS live`,
        [`"${schema}".checkpoints`, `"${schema}".checkpoint_parts`],
      ),
    );
    return rows[0] as { bytes: number; live: number };
  }

  it.each(['state', 'part'] as const)(
    'keeps the checkpoints of a session that rewrites a large one within a few times its size (in its %s)',
    async (where) => {
      // Without the vacuum every version stays: 80 × live (5.6 MB here); with it, at most the
      // versions of 1 MiB of text (16; 256 KiB while vacuums are quick) beside the live one,
      // and their free-space maps. A vacuum cannot free versions that a transaction of another
      // client of the server may still see, so an attempt that overlapped one is tried again, up
      // to three times in all. A part removed by a later checkpoint (keepFrom, as a merge of
      // parts does) leaves its TOAST behind in the same way.
      const sizes: { bytes: number; live: number }[] = [];
      for (let attempt = 1; attempt <= 3; attempt++) {
        const size = await rewriteCheckpoints(80, where);
        sizes.push(size);
        expect(size.live).toBeGreaterThan(30_000);
        if (size.bytes < 24 * size.live) break;
      }
      const last = sizes.at(-1) as { bytes: number; live: number };
      expect(last.bytes, `sizes in the attempts: ${JSON.stringify(sizes)}`).toBeLessThan(
        24 * last.live,
      );
    },
  );
});

describe('when the checkpoint vacuum runs', () => {
  const kiB = 1024;
  /** A pool whose VACUUM takes `vacuumMs` of a manual clock; the times each one started. */
  function fakeServer(vacuumMs: number) {
    const clock = { ms: 1_000 };
    const vacuumsAt: number[] = [];
    const query = async (text: string) => {
      if (text.includes('reltoastrelid'))
        return { rows: [{ toast: 'pg_toast.pg_toast_1', v16: false }] };
      if (text.startsWith('VACUUM')) {
        vacuumsAt.push(clock.ms);
        clock.ms += vacuumMs;
        return { rows: [] };
      }
      return { rows: [{ bytes: '0' }] }; // the tables' size after it
    };
    const vacuum = new CheckpointVacuum(
      { query } as unknown as Pick<pg.Pool, 'query'>,
      schemaName('s'),
      undefined,
      () => clock.ms,
    );
    /** Reports `chars` written, and lets a vacuum it started finish. */
    const write = async (chars: number) => {
      vacuum.written(chars);
      await new Promise((resolve) => setImmediate(resolve));
    };
    return { clock, vacuumsAt, write };
  }

  it('vacuums every 256 KiB written while vacuums are quick', async () => {
    const { clock, vacuumsAt, write } = fakeServer(2);
    await write(200 * kiB);
    expect(vacuumsAt).toEqual([]);
    await write(60 * kiB);
    expect(vacuumsAt).toEqual([1_000]);
    // The next may start 19 × 2 ms after the last ended.
    clock.ms += 37;
    await write(260 * kiB);
    expect(vacuumsAt).toHaveLength(1);
    clock.ms += 1;
    await write(1);
    expect(vacuumsAt).toEqual([1_000, 1_040]);
  });

  it('spends at most 5% of the time vacuuming, unless 1 MiB was written since the last', async () => {
    const { clock, vacuumsAt, write } = fakeServer(100);
    await write(300 * kiB);
    expect(vacuumsAt).toEqual([1_000]); // ends at 1,100: the next not before 3,000
    clock.ms = 2_900;
    await write(300 * kiB);
    await write(300 * kiB);
    expect(vacuumsAt).toHaveLength(1);
    await write(424 * kiB); // 1 MiB since the last
    expect(vacuumsAt).toEqual([1_000, 2_900]);
    clock.ms = 4_899; // it ended at 3,000: the next not before 4,900
    await write(256 * kiB);
    expect(vacuumsAt).toHaveLength(2);
    clock.ms = 4_900;
    await write(1);
    expect(vacuumsAt).toEqual([1_000, 2_900, 4_900]);
  });
});
