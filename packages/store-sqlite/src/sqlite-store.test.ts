import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { describe, expect, it } from 'vitest';
import { sessionStoreContract } from '@longrun/store-conformance/testing';
import { isLongrunError, workerId } from '@longrun/core';
import { SqliteStore } from './sqlite-store.ts';
import { latestSchemaVersion, migrations } from './migrations.ts';

sessionStoreContract('sqlite', {
  async createDatabase() {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-contract-'));
    const path = join(dir, 'longrun.db');
    return {
      open: (clock) => SqliteStore.open({ path, clock }),
      async writeNewerSchemaVersion() {
        const db = new DatabaseSync(path);
        db.prepare(`UPDATE longrun_meta SET value = ? WHERE key = 'schema_version'`).run(
          String(latestSchemaVersion + 1),
        );
        db.close();
      },
      async drop() {
        rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

describe('sqlite store specifics', () => {
  it('upgrades a version-8 file: its API keys become admin, new keys keep their role', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-upgrade-'));
    const path = join(dir, 'longrun.db');
    const hash = 'a'.repeat(64);
    try {
      const db = new DatabaseSync(path);
      db.exec('CREATE TABLE longrun_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      for (const m of migrations.filter((x) => x.version <= 8)) db.exec(m.sql);
      db.exec(`INSERT INTO longrun_meta VALUES ('schema_version', '8')`);
      db.exec(`INSERT INTO api_keys (id, tenant_id, name, secret_hash, created_at_ms)
        VALUES ('old1', 'acme', 'ci', '${hash}', 5)`);
      db.close();
      const store = await SqliteStore.open({ path });
      try {
        expect(await store.apiKeys.find('old1')).toMatchObject({ id: 'old1', role: 'admin' });
        await store.apiKeys.create({
          id: 'new1',
          tenantId: 'acme',
          name: 'look',
          secretHash: hash,
          role: 'viewer',
        });
        expect((await store.apiKeys.list('acme')).map((k) => [k.id, k.role])).toEqual([
          ['old1', 'admin'],
          ['new1', 'viewer'],
        ]);
      } finally {
        await store.close();
      }
      // The column refuses a role that is not one, whoever writes it.
      const raw = new DatabaseSync(path);
      try {
        expect(() =>
          raw.exec(`INSERT INTO api_keys (id, tenant_id, name, secret_hash, role, created_at_ms)
            VALUES ('bad', 'acme', 'x', '${hash}', 'root', 6)`),
        ).toThrow(/CHECK constraint/);
      } finally {
        raw.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a version-2 file that holds sessions and signals, keeping their order', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-upgrade-'));
    const path = join(dir, 'longrun.db');
    try {
      const db = new DatabaseSync(path);
      db.exec('CREATE TABLE longrun_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      for (const m of migrations.filter((x) => x.version <= 2)) db.exec(m.sql);
      db.exec(`INSERT INTO longrun_meta VALUES ('schema_version', '2')`);
      // As a version-2 longrun wrote them: ids out of alphabetical order, one millisecond.
      db.exec(`INSERT INTO sessions (id, agent, status, head_seq, created_at_ms, updated_at_ms)
        VALUES ('ses_z', 'old', 'queued', 1, 5, 5), ('ses_a', 'old', 'queued', 1, 5, 5)`);
      db.exec(`INSERT INTO signals (id, session_id, name, payload, created_at_ms)
        VALUES ('sig_z', 'ses_z', 'go', '1', 7), ('sig_a', 'ses_z', 'go', '2', 7)`);
      db.close();
      const store = await SqliteStore.open({ path });
      try {
        const fresh = await store.createSession({ agent: 'new', input: null });
        expect((await store.listSessions()).map((s) => s.id)).toEqual(['ses_z', 'ses_a', fresh.id]);
        expect((await store.pendingSignals('ses_z' as never, 'go')).map((s) => s.payload)).toEqual([
          1, 2,
        ]);
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a version-6 log and its effect records to the integer session key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-upgrade-'));
    const path = join(dir, 'longrun.db');
    try {
      const db = new DatabaseSync(path);
      db.exec('CREATE TABLE longrun_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      for (const m of migrations.filter((x) => x.version <= 6)) db.exec(m.sql);
      db.exec(`INSERT INTO longrun_meta VALUES ('schema_version', '6')`);
      // As a version-6 longrun wrote them: two sessions, the log and effects keyed by text id; one
      // call with the default key, one with a fork's (its source's) key.
      db.exec(`INSERT INTO sessions (id, agent, status, head_seq, created_at_ms, updated_at_ms, created_order)
        VALUES ('ses_b', 'old', 'queued', 2, 5, 5, 1), ('ses_a', 'old', 'queued', 1, 6, 6, 2)`);
      db.exec(`INSERT INTO events (session_id, seq, type, v, data, at_ms, epoch) VALUES
        ('ses_b', 1, 'session.created', 1, '{"agent":"old","input":null}', 5, 0),
        ('ses_b', 2, 'user.messaged', 1, '{"text":"hi","signalId":null}', 7, 1),
        ('ses_a', 1, 'session.created', 1, '{"agent":"old","input":1}', 6, 0)`);
      db.exec(`INSERT INTO effects (session_id, step, call_index, tool, effect, idempotency_key,
          status, attempts, updated_at_ms) VALUES
        ('ses_b', 1, 0, 'pay', 'keyed', 'ses_b:1:0', 'completed', 2, 8),
        ('ses_b', 1, 1, 'pay', 'keyed', 'ses_src:1:1', 'started', 1, 9)`);
      db.close();
      const store = await SqliteStore.open({ path });
      try {
        const b = 'ses_b' as never;
        expect((await store.readEvents(b, 0, 10)).map((e) => [e.sessionId, e.seq, e.type])).toEqual(
          [
            ['ses_b', 1, 'session.created'],
            ['ses_b', 2, 'user.messaged'],
          ],
        );
        expect((await store.readEvents('ses_a' as never, 0, 10)).map((e) => e.data)).toEqual([
          { agent: 'old', input: 1 },
        ]);
        expect(await store.listEffects(b)).toMatchObject([
          { sessionId: 'ses_b', step: 1, callIndex: 0, idempotencyKey: 'ses_b:1:0', attempts: 2 },
          { sessionId: 'ses_b', step: 1, callIndex: 1, idempotencyKey: 'ses_src:1:1' },
        ]);
        // Only the key that is not the default is stored.
        const raw = new DatabaseSync(path, { readOnly: true });
        expect(
          raw.prepare('SELECT idempotency_key FROM effect_records ORDER BY call_index').all(),
        ).toEqual([{ idempotency_key: null }, { idempotency_key: 'ses_src:1:1' }]);
        raw.close();
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('packs large event data and checkpoints from version 11 on, and reads a version-10 log as it was', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-upgrade-'));
    const path = join(dir, 'longrun.db');
    try {
      const db = new DatabaseSync(path);
      db.exec('CREATE TABLE longrun_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
      for (const m of migrations.filter((x) => x.version <= 10)) db.exec(m.sql);
      db.exec(`INSERT INTO longrun_meta VALUES ('schema_version', '10')`);
      const old = {
        agent: 'old',
        input: { task: 'a task long enough to be packed if it were new' },
      };
      db.exec(`INSERT INTO sessions (id, agent, status, head_seq, created_at_ms, updated_at_ms, created_order)
        VALUES ('ses_old', 'old', 'queued', 1, 5, 5, 1)`);
      db.prepare(
        `INSERT INTO session_log (session_key, seq, type, v, data, at_ms, epoch) VALUES (1, 1, 'session.created', 1, ?, 5, 0)`,
      ).run(JSON.stringify(old));
      db.close();
      const store = await SqliteStore.open({ path });
      const data = (text: string) => ({
        step: 1,
        text,
        toolCalls: [{ callIndex: 0, tool: 'note', args: { line: 'ü'.repeat(40) }, id: 'call-1' }],
        usage: { inputTokens: 50, outputTokens: 60 },
        finishReason: 'tool-calls' as const,
        attempt: 1,
        modelId: 'm',
      });
      const id = 'ses_old' as never;
      try {
        expect((await store.readEvents(id, 0, 10))[0]?.data).toEqual(old);
        const lease = await store.claimNext(workerId('wkr_packed'), 60_000);
        expect(lease?.sessionId).toBe('ses_old');
        const long = 'Step 1: the model says something a few hundred bytes long. '.repeat(5);
        const checkpointState = { format: 8, state: { seq: 3, input: long } };
        await store.append({
          fence: lease!,
          expectedSeq: 1,
          events: [
            { type: 'model.responded', data: data(long) },
            { type: 'model.responded', data: data('short') },
          ],
          checkpoint: { seq: 3, state: checkpointState },
        });
        const events = await store.readEvents(id, 0, 10);
        expect(events.map((e) => e.data)).toEqual([old, data(long), data('short')]);
        expect((await store.latestCheckpoint(id))?.state).toEqual(checkpointState);
        const raw = new DatabaseSync(path);
        const kinds = raw
          .prepare(
            'SELECT seq, typeof(data) AS kind, length(data) AS bytes FROM session_log ORDER BY seq',
          )
          .all();
        // The old row stays text; the new ones are packed, to well under their JSON's length.
        expect(kinds.map((k) => k.kind)).toEqual(['text', 'blob', 'blob']);
        expect(Number(kinds[1]?.bytes)).toBeLessThan(JSON.stringify(data(long)).length / 2);
        expect(raw.prepare('SELECT typeof(state) AS kind FROM checkpoints').get()).toEqual({
          kind: 'blob',
        });
        // Bytes of a packing this longrun does not know: a typed error, not garbage.
        raw.prepare('UPDATE session_log SET data = ? WHERE seq = 2').run(new Uint8Array([9, 1, 2]));
        raw.close();
        const error = await store.readEvents(id, 0, 10).catch((e: unknown) => e);
        expect(isLongrunError(error) && error.code).toBe('SCHEMA_TOO_NEW');
        expect(String((error as Error).message)).toContain('upgrade longrun');
      } finally {
        await store.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs WAL with synchronous=FULL and reports it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-sqlite-'));
    const store = await SqliteStore.open({ path: join(dir, 'a.db') });
    expect(store.durability()).toMatchObject({
      safe: true,
      settings: { journal_mode: 'wal', synchronous: 'FULL' },
    });
    await store.close();
    const relaxed = await SqliteStore.open({
      path: join(dir, 'a.db'),
      allowUnsafeDurability: 'synchronous=NORMAL',
    });
    expect(relaxed.durability()).toMatchObject({
      safe: false,
      settings: { synchronous: 'NORMAL' },
    });
    expect(relaxed.durability().notes.join(' ')).toMatch(/power loss/);
    await relaxed.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an opt-out it does not know by name', async () => {
    const error = await SqliteStore.open({
      path: '/tmp/x.db',
      allowUnsafeDurability: 'synchronous=OFF' as never,
    }).catch((e: unknown) => e);
    expect(isLongrunError(error, 'INVALID_ARGUMENT')).toBe(true);
  });

  it('says what to do when the file cannot be opened', async () => {
    // The parent "directory" is a regular file, so neither mkdir nor open can succeed.
    const error = await SqliteStore.open({ path: '/etc/hostname/longrun.db' }).catch(
      (e: unknown) => e,
    );
    expect(isLongrunError(error)).toBe(true);
    expect((error as Error).message).toMatch(/directory exists/i);
  });

  it('refuses a file that is not a SQLite database', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-sqlite-'));
    const path = join(dir, 'junk.db');
    (await import('node:fs')).writeFileSync(
      path,
      'this is not a database, it is a text file'.repeat(200),
    );
    const error = await SqliteStore.open({ path }).catch((e: unknown) => e);
    expect(isLongrunError(error)).toBe(true);
    expect((error as Error).message).toMatch(/not a (healthy SQLite )?database/i);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('leases on an embedded store', () => {
  it('are judged by the monotonic clock: a wall-clock step of ±2 h frees nothing early and delays nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-lease-clock-'));
    const realNow = Date.now.bind(Date);
    const store = await SqliteStore.open({ path: join(dir, 'longrun.db') });
    try {
      const leaseMs = 1_000;
      for (const stepMs of [2 * 3_600_000, -2 * 3_600_000]) {
        const session = await store.createSession({ agent: 'lease-clock', input: null });
        const held = await store.claim(session.id, workerId('holder'), leaseMs);
        expect(held).toMatchObject({ epoch: 1 });
        const heldAt = performance.now();
        // The wall clock steps (NTP, a resumed VM): Date.now() is what the store reads for it.
        Date.now = () => realNow() + stepMs;
        try {
          expect(await store.claim(session.id, workerId('thief'), leaseMs)).toBeNull();
          while (performance.now() - heldAt < leaseMs + 50) {
            await new Promise((r) => setTimeout(r, 50));
          }
          const taken = await store.claim(session.id, workerId('heir'), leaseMs);
          expect(taken, `a wall-clock step of ${stepMs} ms`).toMatchObject({ epoch: 2 });
        } finally {
          Date.now = realNow;
        }
      }
    } finally {
      Date.now = realNow;
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('worker ids on an embedded store', () => {
  it('are held by one live process at a time: a second is refused, a dead one lets go', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'longrun-worker-lock-'));
    const path = join(dir, 'db.sqlite');
    const store = await SqliteStore.open({ path });
    try {
      const first = await store.registerWorker(workerId('solo'));
      await expect(store.registerWorker(workerId('solo'))).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
      await first.close();
      await (await store.registerWorker(workerId('solo'))).close();
      // Another process holds it until it is killed.
      const holder = spawn(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          `const { SqliteStore } = await import(${JSON.stringify(new URL('./sqlite-store.ts', import.meta.url).href)});
           const s = await SqliteStore.open({ path: ${JSON.stringify(path)} });
           await s.registerWorker('solo'); console.log('held'); setInterval(() => {}, 1e6);`,
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise((resolve) => holder.stdout.once('data', resolve));
      await expect(store.registerWorker(workerId('solo'))).rejects.toMatchObject({
        code: 'INVALID_STATE',
      });
      holder.kill('SIGKILL');
      await new Promise((resolve) => holder.once('exit', resolve));
      await (await store.registerWorker(workerId('solo'))).close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
