import { randomBytes } from 'node:crypto';
import { afterEach, expect, it } from 'vitest';
import { sessionStoreContract } from '@longrun/store-conformance/testing';
import { event, isLongrunError, workerId, type SessionStore } from '@longrun/core';
import { PostgresStore } from './postgres-store.ts';
import { latestSchemaVersion } from './migrations.ts';
import {
  describeWithServer,
  dropSchema,
  probeTestServer,
  randomSchema,
  testUrl,
  withAdmin,
} from './test-server.ts';

const unavailable = await probeTestServer();

describeWithServer('postgres', unavailable, () => {
  sessionStoreContract('postgres', {
    async createDatabase() {
      const schema = randomSchema('lrc');
      const opened: SessionStore[] = [];
      return {
        async open(clock) {
          const store = await PostgresStore.open({ url: testUrl, schema, clock, poolSize: 4 });
          opened.push(store);
          return store;
        },
        async writeNewerSchemaVersion() {
          await withAdmin((c) =>
            c.query(`UPDATE "${schema}".longrun_meta SET value = $1 WHERE key = 'schema_version'`, [
              String(latestSchemaVersion + 1),
            ]),
          );
        },
        async drop() {
          await Promise.all(opened.map((s) => s.close()));
          await dropSchema(schema);
        },
      };
    },
  });
});

describeWithServer('postgres store specifics', unavailable, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function openStore(
    options: { url?: string; applicationName?: string } = {},
  ): Promise<PostgresStore> {
    const schema = randomSchema();
    const store = await PostgresStore.open({
      url: options.url ?? testUrl,
      schema,
      applicationName: options.applicationName,
    });
    cleanup.push(
      () => dropSchema(schema),
      () => store.close(),
    );
    return store;
  }

  it('runs every connection with synchronous_commit=on and reports the default it overrode', async () => {
    const store = await openStore();
    expect(store.durability()).toMatchObject({
      safe: true,
      settings: { synchronous_commit: 'on' },
    });
    // A connection whose default is off (as a role or database setting would make it) is overridden.
    const url = new URL(testUrl);
    url.searchParams.set('options', '-c synchronous_commit=off');
    const relaxedByDefault = await openStore({ url: url.href });
    expect(relaxedByDefault.durability()).toMatchObject({
      safe: true,
      settings: { synchronous_commit: 'on', 'synchronous_commit (server default)': 'off' },
    });
    expect(relaxedByDefault.durability().notes.join(' ')).toMatch(
      /synchronous_commit=off overridden to on/,
    );
  });

  it('compresses checkpoints with lz4 where the server has it, unless the URL names a compression', async () => {
    const hasLz4 = await withAdmin(
      async (c) =>
        (
          await c.query(
            `SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY (enumvals)`,
          )
        ).rows.length > 0,
    );
    // A transcript-like checkpoint, well over the ~2 kB past which PostgreSQL compresses a value.
    const state = { turns: Array.from({ length: 400 }, (_, i) => `step ${i}: appended a line`) };
    const compressionOf = async (url: string): Promise<unknown> => {
      const schema = randomSchema();
      const store = await PostgresStore.open({ url, schema });
      try {
        const s = await store.createSession({ agent: 'compression', input: null });
        const lease = await store.claim(s.id, workerId('w'), 60_000);
        if (lease === null) throw new Error('the new session was not claimed');
        const head = (await store.getSession(s.id)).headSeq;
        const completed = { step: 1, callIndex: 0, tool: 't', ok: true, output: null, attempt: 1 };
        await store.append({
          fence: lease,
          expectedSeq: head,
          events: [event('tool.completed', completed)],
        });
        await store.saveCheckpoint(lease, { seq: head + 1, state });
        expect((await store.latestCheckpoint(s.id))?.state).toEqual(state);
        const rows = await withAdmin(
          async (c) =>
            (
              await c.query<{ m: string }>(
                `SELECT pg_column_compression(state) AS m FROM "${schema}".checkpoints`,
              )
            ).rows,
        );
        return rows[0]?.m;
      } finally {
        await store.close();
        await dropSchema(schema);
      }
    };
    expect(await compressionOf(testUrl)).toBe(hasLz4 ? 'lz4' : 'pglz');
    const url = new URL(testUrl);
    url.searchParams.set('options', '-c default_toast_compression=pglz');
    expect(await compressionOf(url.href)).toBe('pglz');
  });

  it('packs an event of 64 characters or more when that saves an eighth, keeps the others as text, and reads both back', async () => {
    const schema = randomSchema();
    const store = await PostgresStore.open({ url: testUrl, schema });
    cleanup.push(
      () => dropSchema(schema),
      () => store.close(),
    );
    const line = `${'line 7 '.padEnd(64, '-')}\n`;
    const result = (step: number, extra: object) =>
      event('tool.completed', {
        step,
        callIndex: 0,
        tool: 'append_line',
        ok: true,
        output: { step, appended: 65 },
        attempt: 1,
        ...extra,
      });
    const events = [
      result(1, {}),
      result(2, { workspaceEdits: [{ path: 'peer.txt', at: 448, text: line }] }),
      result(3, { output: 'x'.repeat(5_000) }),
      event('model.responded', {
        step: 4,
        text: 'y'.repeat(600),
        toolCalls: [],
        usage: { inputTokens: 1, outputTokens: 1 },
      }),
      // Random hex: deflate's fixed codes spend 8 bits on each of its characters, saving nothing.
      event('model.responded', {
        step: 5,
        text: randomBytes(1_000).toString('hex'),
        toolCalls: [],
        usage: { inputTokens: 1, outputTokens: 1 },
      }),
      event('session.completed', { output: 'ok' }), // under 64 characters
    ];
    const claimed = async () => {
      const s = await store.createSession({ agent: 'packing', input: null });
      const lease = await store.claim(s.id, workerId('w'), 60_000);
      if (lease === null) throw new Error('the new session was not claimed');
      return { id: s.id, lease, head: (await store.getSession(s.id)).headSeq };
    };
    const [a, b] = [await claimed(), await claimed()];
    // Two sessions' appends in one turn (which the store may send as one append_batch_flat), then one.
    await Promise.all([
      store.append({ fence: a.lease, expectedSeq: a.head, events: events.slice(0, 2) }),
      store.append({ fence: b.lease, expectedSeq: b.head, events: events.slice(2) }),
    ]);
    await store.append({ fence: a.lease, expectedSeq: a.head + 2, events });
    const packedOf = async (id: string) =>
      withAdmin(async (c) =>
        (
          await c.query<{ packed: boolean }>(
            `SELECT l.packed IS NOT NULL AS packed FROM "${schema}".session_log l
               JOIN "${schema}".sessions s ON s.key = l.session_key
               WHERE s.id = $1 ORDER BY l.seq`,
            [id],
          )
        ).rows.map((r) => r.packed),
      );
    const packed = [true, true, true, true, false, false];
    // session.created (text) first, then the appends'.
    expect(await packedOf(a.id)).toEqual([false, ...packed.slice(0, 2), ...packed]);
    expect(await packedOf(b.id)).toEqual([false, ...packed.slice(2)]);
    const dataOf = async (id: string, head: number) =>
      (await store.readEvents(id as never, head, 10)).map(({ type, data }) => ({ type, data }));
    expect(await dataOf(a.id, a.head)).toEqual([...events.slice(0, 2), ...events]);
    expect(await dataOf(b.id, b.head)).toEqual(events.slice(2));
  });

  it('runs as a role that may only use the tables of a schema an owner migrated (no CREATE)', async () => {
    const schema = randomSchema();
    const owner = await PostgresStore.open({ url: testUrl, schema });
    cleanup.push(
      () => dropSchema(schema),
      () => owner.close(),
    );
    const created = await owner.createSession({ agent: 'a', input: null });
    // A new role has no CREATE on the database (PostgreSQL 15's default): it cannot make a schema.
    const role = `lr_dml_${Math.random().toString(36).slice(2, 10)}`;
    await withAdmin(async (c) => {
      await c.query(`CREATE ROLE ${role} LOGIN`);
      await c.query(`GRANT USAGE ON SCHEMA "${schema}" TO ${role}`);
      await c.query(
        `GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "${schema}" TO ${role}`,
      );
      await c.query(`GRANT USAGE ON ALL SEQUENCES IN SCHEMA "${schema}" TO ${role}`);
      await c.query(`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "${schema}" TO ${role}`);
    });
    cleanup.push(() =>
      withAdmin(async (c) => {
        await c.query(`DROP OWNED BY ${role}`);
        await c.query(`DROP ROLE ${role}`);
      }),
    );
    const url = new URL(testUrl);
    url.username = role;
    const limited = await PostgresStore.open({ url: url.href, schema });
    cleanup.push(() => limited.close());
    expect((await limited.getSession(created.id)).agent).toBe('a');
    const mine = await limited.createSession({ agent: 'b', input: 1 });
    expect((await owner.getSession(mine.id)).agent).toBe('b');
    // The same role on a schema nobody migrated: a clear refusal, not a half-made schema.
    const empty = randomSchema();
    await expect(PostgresStore.open({ url: url.href, schema: empty })).rejects.toThrow(
      /permission denied/,
    );
  });

  it('turns synchronous_commit off only when opted out by name', async () => {
    const schema = randomSchema();
    const optedOut = await PostgresStore.open({
      url: testUrl,
      schema,
      allowUnsafeDurability: 'synchronous_commit=off',
    });
    expect(optedOut.durability()).toMatchObject({
      safe: false,
      settings: { synchronous_commit: 'off' },
    });
    await optedOut.close();
    await dropSchema(schema);
    const error = await PostgresStore.open({
      url: testUrl,
      schema,
      allowUnsafeDurability: 'fsync=off' as never,
    }).catch((e: unknown) => e);
    expect(isLongrunError(error, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('gives typed errors quickly for a bad URL, an unreachable port and a bad schema name', async () => {
    for (const url of ['not a url', 'mysql://root@127.0.0.1/db', '']) {
      const error = await PostgresStore.open({ url }).catch((e: unknown) => e);
      expect(isLongrunError(error, 'STORE_URL_INVALID')).toBe(true);
      expect((error as Error).message).toContain('postgres://user:password@host:5432/database');
    }
    const started = Date.now();
    const refused = await PostgresStore.open({
      url: 'postgres://postgres:secret@127.0.0.1:1/test',
    }).catch((e: unknown) => e);
    expect(isLongrunError(refused, 'STORE_UNAVAILABLE')).toBe(true);
    expect((refused as { retryable: boolean }).retryable).toBe(true);
    expect((refused as Error).message).toMatch(/127\.0\.0\.1:1\/test.*host, port/);
    expect((refused as Error).message).not.toContain('secret');
    // A non-routable address: without a connect timeout this would hang for minutes.
    const blackhole = await PostgresStore.open({
      url: 'postgres://postgres@10.255.255.1:5432/test',
      connectTimeoutMs: 300,
    }).catch((e: unknown) => e);
    expect(isLongrunError(blackhole, 'STORE_UNAVAILABLE')).toBe(true);
    expect(Date.now() - started).toBeLessThan(3000);
    const badSchema = await PostgresStore.open({ url: testUrl, schema: 'Robert"; DROP' }).catch(
      (e: unknown) => e,
    );
    expect(isLongrunError(badSchema, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('uses the server clock when no clock is injected', async () => {
    const store = await openStore();
    const before = Date.now();
    const serverNow = await store.nowMs();
    // The server shares this host's clock here; the store must not be reading a stale or zero value.
    expect(Math.abs(serverNow - before)).toBeLessThan(5_000);
    const s = await store.createSession({ agent: 'clock', input: null });
    const lease = await store.claim(s.id, workerId('w'), 60_000);
    expect(lease!.expiresAtMs - s.createdAtMs).toBeGreaterThanOrEqual(60_000);
    expect(lease!.expiresAtMs - s.createdAtMs).toBeLessThan(65_000);
  });

  it('survives pg_terminate_backend of its pooled connections mid-use, with no unhandled error', async () => {
    // An unhandled 'error' event from pg would crash the worker; Vitest fails the run on one.
    const applicationName = randomSchema('lr_app');
    const store = await openStore({ applicationName });
    const sessions = await Promise.all(
      [0, 1, 2, 3].map(() => store.createSession({ agent: 'chaos', input: null })),
    );
    const leases = await Promise.all(sessions.map((s) => store.claim(s.id, workerId('w'), 60_000)));
    const terminate = (): Promise<unknown> =>
      withAdmin((c) =>
        c.query(
          'SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE application_name = $1',
          [applicationName],
        ),
      );
    const failures: unknown[] = [];
    const appendAll = (round: number): Promise<void>[] =>
      leases.map(async (lease) => {
        const head = (await store.getSession(lease!.sessionId)).headSeq;
        await store
          .append({
            fence: lease!,
            expectedSeq: head,
            events: [
              event('tool.completed', {
                step: round,
                callIndex: 0,
                tool: 't',
                ok: true,
                output: null,
                attempt: 1,
              }),
            ],
          })
          .catch((e: unknown) => failures.push(e));
      });
    for (let round = 0; round < 5; round++) {
      await Promise.all([...appendAll(round), terminate()]);
    }
    // Every failure is a retryable STORE_UNAVAILABLE (or a SEQ_CONFLICT when the dropped append had committed).
    for (const failure of failures) {
      expect(
        isLongrunError(failure, 'STORE_UNAVAILABLE') || isLongrunError(failure, 'SEQ_CONFLICT'),
      ).toBe(true);
      if (isLongrunError(failure, 'STORE_UNAVAILABLE')) expect(failure.retryable).toBe(true);
    }
    await terminate();
    // After the pool has lost every connection, reads succeed at once and writes by the next try.
    for (const lease of leases) {
      const events = await store.readEvents(lease!.sessionId);
      expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    }
    let written = 0;
    for (let attempt = 0; attempt < 5 && written === 0; attempt++) {
      const head = (await store.getSession(leases[0]!.sessionId)).headSeq;
      written = await store.append({ fence: leases[0]!, expectedSeq: head, events: [] }).then(
        (r) => r.headSeq,
        (e: unknown) => {
          if (isLongrunError(e, 'STORE_UNAVAILABLE')) return 0;
          throw e;
        },
      );
    }
    expect(written).toBeGreaterThan(0);
  });
});
