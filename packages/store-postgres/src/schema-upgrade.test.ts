import { expect, it } from 'vitest';
import { event, workerId } from '@longrun/core';
import { packJson } from '@longrun/core/packed-json';
import { PostgresStore } from './postgres-store.ts';
import { migratePostgres } from './migrate.ts';
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

describeWithServer('postgres schema upgrade', unavailable, () => {
  it('gives the API keys of a version-12 schema the admin role; new keys keep theirs', async () => {
    const schema = randomSchema('lru');
    const s = `"${schema}"`;
    const hash = 'b'.repeat(64);
    try {
      await withAdmin(async (c) => {
        await migratePostgres(c, schemaName(schema), null, 12);
        await c.query(`INSERT INTO ${s}.api_keys (id, tenant_id, name, secret_hash, created_at_ms)
          VALUES ('old1', 'acme', 'ci', '${hash}', 5)`);
      });
      const store = await PostgresStore.open({ url: testUrl, schema, poolSize: 2 });
      try {
        expect(await store.apiKeys.find('old1')).toMatchObject({ id: 'old1', role: 'admin' });
        await store.apiKeys.create({
          id: 'new1',
          tenantId: 'acme',
          name: 'look',
          secretHash: hash,
          role: 'approver',
        });
        expect((await store.apiKeys.list('acme')).map((k) => [k.id, k.role])).toEqual([
          ['old1', 'admin'],
          ['new1', 'approver'],
        ]);
      } finally {
        await store.close();
      }
      await withAdmin(async (c) => {
        await expect(
          c.query(`INSERT INTO ${s}.api_keys (id, tenant_id, name, secret_hash, role, created_at_ms)
            VALUES ('bad', 'acme', 'x', '${hash}', 'root', 6)`),
        ).rejects.toThrow(/check constraint/);
      });
    } finally {
      await dropSchema(schema);
    }
  });

  it('reads the text events of a version-14 schema after the upgrade, and packed ones beside them', async () => {
    const schema = randomSchema('lru');
    const s = `"${schema}"`;
    const output = `${'the tool wrote this line, and the next one too; '.repeat(6)}`;
    const completed = (step: number) => ({
      step,
      callIndex: 0,
      tool: 'append_line',
      ok: true,
      output,
      attempt: 1,
    });
    try {
      await withAdmin(async (c) => {
        await migratePostgres(c, schemaName(schema), null, 14);
        // A session as a version-14 longrun wrote it: every event's data as JSON text.
        await c.query(`INSERT INTO ${s}.sessions (id, agent, status, head_seq, created_at_ms, updated_at_ms)
          VALUES ('ses_a', 'old', 'queued', 2, 1, 1)`);
        await c.query(
          `INSERT INTO ${s}.session_log (session_key, seq, at_ms, epoch, v, type, data)
           SELECT key, 1, 10, 0, 1, 'session.created', '{"agent":"old","input":{"n":1}}' FROM ${s}.sessions
           UNION ALL SELECT key, 2, 11, 0, 1, 'tool.completed', $1 FROM ${s}.sessions`,
          [JSON.stringify(completed(1))],
        );
      });
      const store = await PostgresStore.open({ url: testUrl, schema, poolSize: 2 });
      try {
        // An event packed, as schema 15 holds it (data NULL), and one of a format to come.
        const packed = packJson(JSON.stringify(completed(2)));
        expect(packed).toBeInstanceOf(Uint8Array);
        await withAdmin(async (c) => {
          await c.query(
            `INSERT INTO ${s}.session_log (session_key, seq, at_ms, epoch, v, type, packed)
             SELECT key, 3, 12, 0, 1, 'tool.completed', $1 FROM ${s}.sessions`,
            [packed],
          );
          await c.query(`UPDATE ${s}.sessions SET head_seq = 3`);
        });
        const lease = await store.claim('ses_a' as never, workerId('w'), 60_000);
        if (lease === null) throw new Error('ses_a was not claimable');
        // One lone append (append_events), then two at once (append_batch_flat).
        const append = (seq: number) =>
          store.append({
            fence: lease,
            expectedSeq: seq - 1,
            events: [event('tool.completed', completed(seq - 1))],
          });
        await append(4);
        await Promise.all([append(5), append(6)]);
        const log = await store.readEvents('ses_a' as never);
        expect(log.map((e) => [e.seq, e.type, e.data])).toEqual([
          [1, 'session.created', { agent: 'old', input: { n: 1 } }],
          [2, 'tool.completed', completed(1)],
          [3, 'tool.completed', completed(2)],
          [4, 'tool.completed', completed(3)],
          [5, 'tool.completed', completed(4)],
          [6, 'tool.completed', completed(5)],
        ]);
        expect((await store.readEvents('ses_a' as never, 2, 1)).map((e) => e.data)).toEqual([
          completed(2),
        ]);
        await withAdmin((c) =>
          c.query(`UPDATE ${s}.session_log SET packed = '\\x0900' WHERE seq = 3`),
        );
        await expect(store.readEvents('ses_a' as never)).rejects.toMatchObject({
          code: 'SCHEMA_TOO_NEW',
        });
      } finally {
        await store.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  it('reads the checkpoints of a version-16 schema after the upgrade, with no parts, and writes parts', async () => {
    const schema = randomSchema('lru');
    const s = `"${schema}"`;
    try {
      await withAdmin(async (c) => {
        await migratePostgres(c, schemaName(schema), null, 16);
        // A session and its checkpoint as a version-16 longrun wrote them.
        await c.query(`INSERT INTO ${s}.sessions (id, agent, status, head_seq, created_at_ms, updated_at_ms)
          VALUES ('ses_a', 'old', 'queued', 2, 1, 1)`);
        await c.query(
          `INSERT INTO ${s}.session_log (session_key, seq, at_ms, epoch, v, type, data)
           SELECT key, 1, 10, 0, 1, 'session.created', '{"agent":"old","input":null}' FROM ${s}.sessions
           UNION ALL SELECT key, 2, 11, 0, 1, 'tool.completed',
             '{"step":1,"callIndex":0,"tool":"t","ok":true,"output":null,"attempt":1}' FROM ${s}.sessions`,
        );
        await c.query(`INSERT INTO ${s}.checkpoints (session_id, seq, state, saved_at_ms)
          VALUES ('ses_a', 2, '{"transcript":["a","b"]}', 11)`);
      });
      const store = await PostgresStore.open({ url: testUrl, schema, poolSize: 2 });
      try {
        expect(await store.latestCheckpoint('ses_a' as never)).toEqual({
          sessionId: 'ses_a',
          seq: 2,
          state: { transcript: ['a', 'b'] },
          parts: [],
        });
        const lease = await store.claim('ses_a' as never, workerId('w'), 60_000);
        if (lease === null) throw new Error('ses_a was not claimable');
        const completed = (step: number) =>
          event('tool.completed', {
            step,
            callIndex: 0,
            tool: 't',
            ok: true,
            output: null,
            attempt: 1,
          });
        const append = (seq: number) =>
          store.append({
            fence: lease,
            expectedSeq: seq - 1,
            events: [completed(seq - 1)],
            checkpoint: {
              seq,
              state: { at: seq },
              parts: { add: [{ index: seq, value: [`part ${seq}`] }], keepFrom: 0 },
            },
          });
        // One lone append (append_events), then two at once (append_batch_flat), then saveCheckpoint.
        await append(3);
        await Promise.all([append(4), append(5)]);
        await store.saveCheckpoint(lease, {
          seq: 5,
          state: 'stale',
          parts: { add: [{ index: 9, value: 9 }], keepFrom: 0 },
        });
        expect(await store.latestCheckpoint('ses_a' as never)).toEqual({
          sessionId: 'ses_a',
          seq: 5,
          state: { at: 5 },
          parts: [3, 4, 5].map((index) => ({ index, value: [`part ${index}`] })),
        });
      } finally {
        await store.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });

  it('moves the log and effect records of a version-4 schema to integer session keys, losing nothing', async () => {
    const schema = randomSchema('lru');
    const s = `"${schema}"`;
    try {
      await withAdmin(async (c) => {
        await migratePostgres(c, schemaName(schema), null, 4);
        // Two sessions as a version-4 longrun wrote them.
        await c.query(`INSERT INTO ${s}.sessions (id, agent, status, head_seq, created_at_ms, updated_at_ms)
          VALUES ('ses_a', 'old', 'running', 3, 1, 1), ('ses_b', 'old', 'completed', 1, 2, 2)`);
        await c.query(`INSERT INTO ${s}.events (session_id, seq, type, v, data, at_ms, epoch) VALUES
          ('ses_a', 1, 'session.created', 1, '{"agent":"old","input":{"n":1}}', 10, 0),
          ('ses_a', 2, 'tool.started', 1, '{"step":1,"callIndex":0,"tool":"t","effect":"keyed","idempotencyKey":"ses_a:1:0"}', 11, 1),
          ('ses_a', 3, 'tool.completed', 1, '{"step":1,"callIndex":0,"tool":"t","ok":true,"output":null,"attempt":2}', 12, 1),
          ('ses_b', 1, 'session.created', 1, '{"agent":"old","input":null}', 20, 0)`);
        await c.query(`INSERT INTO ${s}.effects
          (session_id, step, call_index, tool, effect, idempotency_key, status, attempts, updated_at_ms) VALUES
          ('ses_a', 1, 0, 't', 'keyed', 'ses_a:1:0', 'completed', 2, 12),
          ('ses_a', 1, 1, 'u', 'unsafe', 'custom-key', 'unknown', 1, 13)`);
      });
      const store = await PostgresStore.open({ url: testUrl, schema, poolSize: 2 });
      try {
        const a = await store.readEvents('ses_a' as never);
        expect(a.map((e) => [e.sessionId, e.seq, e.type, e.atMs, e.epoch])).toEqual([
          ['ses_a', 1, 'session.created', 10, 0],
          ['ses_a', 2, 'tool.started', 11, 1],
          ['ses_a', 3, 'tool.completed', 12, 1],
        ]);
        expect(a[0]?.data).toEqual({ agent: 'old', input: { n: 1 } });
        expect((await store.readEvents('ses_b' as never)).map((e) => e.seq)).toEqual([1]);
        expect(await store.listEffects('ses_a' as never)).toEqual([
          expect.objectContaining({
            callIndex: 0,
            idempotencyKey: 'ses_a:1:0',
            attempts: 2,
            status: 'completed',
          }),
          expect.objectContaining({
            callIndex: 1,
            idempotencyKey: 'custom-key',
            effect: 'unsafe',
            status: 'unknown',
          }),
        ]);
        // New sessions continue on the new tables after the migrated ones.
        const fresh = await store.createSession({ agent: 'new', input: null });
        expect((await store.readEvents(fresh.id)).map((e) => e.type)).toEqual(['session.created']);
        const stored = await withAdmin((c) =>
          c.query(
            `SELECT count(*)::int AS n, count(idempotency_key)::int AS custom FROM ${s}.effect_records`,
          ),
        );
        expect(stored.rows[0]).toEqual({ n: 2, custom: 1 });
        // Listing keeps creation order across the upgrade (schema 6 breaks ties on the key).
        expect((await store.listSessions()).map((x) => x.id)).toEqual(['ses_a', 'ses_b', fresh.id]);
      } finally {
        await store.close();
      }
    } finally {
      await dropSchema(schema);
    }
  });
});
