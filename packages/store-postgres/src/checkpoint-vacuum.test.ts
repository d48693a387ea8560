import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { event, workerId } from '@longrun/core';
import { PostgresStore } from './postgres-store.ts';
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

  /** Writes `versions` checkpoints of ~64 kB; the checkpoints table's size then, and one's. */
  async function rewriteCheckpoints(versions: number): Promise<{ bytes: number; live: number }> {
    const schema = randomSchema();
    cleanup.push(() => dropSchema(schema));
    const store = await PostgresStore.open({ url: testUrl, schema, poolSize: 3 });
    cleanup.push(() => store.close());
    const session = await store.createSession({ agent: 'big', input: null });
    const lease = await store.claim(session.id, workerId('w'), 60_000);
    if (lease === null) throw new Error('not claimable');
    // Hex compresses poorly; both paths a checkpoint takes, in turn.
    for (let n = 1; n <= versions; n++) {
      const state = { n, blob: randomBytes(32 * 1024).toString('hex') };
      const completed = { step: n, callIndex: 0, tool: 't', ok: true, output: n, attempt: 1 };
      const events = [event('tool.completed', completed)];
      if (n % 2 === 0) {
        await store.append({ fence: lease, expectedSeq: n, events });
        await store.saveCheckpoint(lease, { seq: n + 1, state });
      } else {
        const checkpoint = { seq: n + 1, state };
        await store.append({ fence: lease, expectedSeq: n, events, checkpoint });
      }
    }
    expect((await store.latestCheckpoint(session.id))?.state).toMatchObject({ n: versions });
    await store.close(); // waits for a vacuum under way
    const { rows } = await withAdmin((c) =>
      c.query(
        `SELECT pg_total_relation_size(to_regclass($1))::int AS bytes,
           (SELECT pg_column_size(state) FROM "${schema}".checkpoints)::int AS live`,
        [`"${schema}".checkpoints`],
      ),
    );
    return rows[0] as { bytes: number; live: number };
  }

  it('keeps the checkpoints of a session that rewrites a large one within a few times its size', async () => {
    // Without the vacuum every version stays: 80 × live (5.6 MB here); with it, at most the
    // versions of 1 MiB of text (16) beside the live one, and their free-space maps. A vacuum cannot free
    // versions that a transaction of another client of the server may still see, so an attempt
    // that overlapped one is tried again, up to three times in all.
    const sizes: { bytes: number; live: number }[] = [];
    for (let attempt = 1; attempt <= 3; attempt++) {
      const size = await rewriteCheckpoints(80);
      sizes.push(size);
      expect(size.live).toBeGreaterThan(30_000);
      if (size.bytes < 24 * size.live) break;
    }
    const last = sizes.at(-1) as { bytes: number; live: number };
    expect(last.bytes, `sizes in the attempts: ${JSON.stringify(sizes)}`).toBeLessThan(
      24 * last.live,
    );
  });
});
