import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { isLongrunError, workerId } from '@longrun/core';
import { PostgresStore } from './postgres-store.ts';
import { schemaName } from './schema-name.ts';
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
const hourMs = 3_600_000;

/** The pid of the connection holding a worker's liveness lock, found by application name. */
async function lockHolder(applicationName: string): Promise<number | null> {
  return withAdmin(async (c) => {
    const found = await c.query(
      `SELECT l.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND a.application_name = $1`,
      [applicationName],
    );
    return found.rows.length === 0 ? null : (found.rows[0] as { pid: number }).pid;
  });
}

describeWithServer('postgres worker liveness', unavailable, () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  async function openPair(
    schema: string,
    applicationName: string,
  ): Promise<[PostgresStore, PostgresStore]> {
    const a = await PostgresStore.open({ url: testUrl, schema, applicationName });
    const b = await PostgresStore.open({
      url: testUrl,
      schema,
      applicationName: `${applicationName}_b`,
    });
    cleanup.push(
      () => dropSchema(schema),
      () => a.close(),
      () => b.close(),
    );
    return [a, b];
  }

  it('hands a kill -9ed worker’s session to another worker long before its lease expires', async () => {
    // Invariant: a dead worker's session is taken over within seconds, and only after it died.
    const schema = randomSchema();
    const [, other] = await openPair(schema, randomSchema('lr_app'));
    const session = await other.createSession({ agent: 'liveness', input: null });
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./worker-liveness.child.ts', import.meta.url)),
        testUrl,
        schema,
        session.id,
        'doomed',
        String(hourMs),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    cleanup.push(async () => void child.kill('SIGKILL'));
    const lease = await new Promise<{ epoch: number }>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) resolve((JSON.parse(out) as { lease: { epoch: number } }).lease);
      });
      child.on('exit', (code) => reject(new Error(`worker exited with ${code} before claiming`)));
    });
    expect(lease.epoch).toBe(1);
    // While the worker lives, its lease is honoured.
    expect(await other.claim(session.id, workerId('survivor'), hourMs)).toBeNull();
    const killedAt = Date.now();
    child.kill('SIGKILL');
    const taken = await eventually(
      () => other.claim(session.id, workerId('survivor'), hourMs),
      10_000,
    );
    expect(taken).toMatchObject({ epoch: 2, owner: 'survivor' });
    expect(Date.now() - killedAt).toBeLessThan(10_000);
  });

  it('re-takes its lock after its connection is terminated, and keeps its leases', async () => {
    const schema = randomSchema();
    const app = randomSchema('lr_app');
    const [store, other] = await openPair(schema, app);
    const lost: Error[] = [];
    await store.registerWorker(workerId('steady'), (e) => lost.push(e));
    const session = await store.createSession({ agent: 'liveness', input: null });
    expect(await store.claim(session.id, workerId('steady'), hourMs)).not.toBeNull();
    const firstPid = await eventually(() => lockHolder(app));
    await withAdmin((c) => c.query('SELECT pg_terminate_backend($1, 5000)', [firstPid]));
    const secondPid = await eventually(async () => {
      const pid = await lockHolder(app);
      return pid !== null && pid !== firstPid ? pid : null;
    });
    expect(secondPid).not.toBe(firstPid);
    expect(await other.claim(session.id, workerId('thief'), hourMs)).toBeNull();
    expect(lost).toEqual([]);
  });

  it('reports the loss when the lock cannot be re-taken, and its sessions become claimable', async () => {
    const schema = randomSchema();
    const app = randomSchema('lr_app');
    const [store, other] = await openPair(schema, app);
    const lost: Error[] = [];
    await store.registerWorker(workerId('unlucky'), (e) => lost.push(e));
    const session = await store.createSession({ agent: 'liveness', input: null });
    await store.claim(session.id, workerId('unlucky'), hourMs);
    const pid = await eventually(() => lockHolder(app));
    await withAdmin(async (waiter) => {
      const key = await waiter.query(
        `SELECT lock_key FROM "${schema}".workers WHERE worker_id = 'unlucky'`,
      );
      const lockKey = (key.rows[0] as { lock_key: number }).lock_key;
      // Queue for the worker's lock first: when its connection dies, the lock manager hands the
      // lock to this waiter at once, so the worker's reconnect finds it taken.
      const waiterPid = (
        (await waiter.query('SELECT pg_backend_pid() AS pid')).rows[0] as { pid: number }
      ).pid;
      const granted = waiter.query('SELECT pg_advisory_lock($1, $2)', [
        schemaName(schema).lockNamespace,
        lockKey,
      ]);
      await eventually(() =>
        withAdmin(async (c) => {
          const waiting = await c.query(
            `SELECT 1 FROM pg_locks WHERE pid = $1 AND locktype = 'advisory' AND NOT granted`,
            [waiterPid],
          );
          return waiting.rows.length > 0 ? true : null;
        }),
      );
      await withAdmin((c) => c.query('SELECT pg_terminate_backend($1, 5000)', [pid]));
      await granted;
      await eventually(async () => (lost.length > 0 ? true : null), 15_000, 50);
    });
    expect(isLongrunError(lost[0], 'STORE_UNAVAILABLE')).toBe(true);
    expect(lost[0]?.message).toMatch(/unlucky lost its liveness lock/);
    // The admin connection has ended, so nobody holds the lock any more.
    expect(await eventually(() => other.claim(session.id, workerId('heir'), hourMs))).toMatchObject(
      { epoch: 2 },
    );
  });

  it('refuses a second live registration of the same worker id', async () => {
    const [store, other] = await openPair(randomSchema(), randomSchema('lr_app'));
    const registration = await store.registerWorker(workerId('twin'));
    const error = await other.registerWorker(workerId('twin')).catch((e: unknown) => e);
    expect(isLongrunError(error, 'INVALID_STATE')).toBe(true);
    await registration.close();
    const again = await other.registerWorker(workerId('twin'));
    await again.close();
  });

  it('forgets dead workers that hold no lease, and keeps those that do', async () => {
    const schema = randomSchema();
    const [store, other] = await openPair(schema, randomSchema('lr_app'));
    const session = await store.createSession({ agent: 'liveness', input: null });
    const idle = await store.registerWorker(workerId('idle'));
    const holder = await store.registerWorker(workerId('holder'));
    await store.claim(session.id, workerId('holder'), hourMs);
    await Promise.all([idle.close(), holder.close()]);
    const fresh = await other.registerWorker(workerId('fresh'));
    const rows = await withAdmin((c) =>
      c.query(`SELECT worker_id FROM "${schema}".workers ORDER BY worker_id`),
    );
    expect(rows.rows.map((r: { worker_id: string }) => r.worker_id)).toEqual(['fresh', 'holder']);
    // The holder's lock is gone with its registration, so its session is free before expiry.
    expect(await eventually(() => other.claim(session.id, workerId('heir'), hourMs))).toMatchObject(
      {
        epoch: 2,
      },
    );
    await fresh.close();
  });
});
