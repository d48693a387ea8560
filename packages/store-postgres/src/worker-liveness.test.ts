import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, expect, it } from 'vitest';
import { isLongrunError, workerId, type SessionId } from '@longrun/core';
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
const livenessMs = 1_000;

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
    const open = (name: string) =>
      PostgresStore.open({
        url: testUrl,
        schema,
        applicationName: name,
        workerLivenessMs: livenessMs,
      });
    const a = await open(applicationName);
    const b = await open(`${applicationName}_b`);
    cleanup.push(
      () => dropSchema(schema),
      () => a.close(),
      () => b.close(),
    );
    return [a, b];
  }

  /** A worker in its own process that claims `session` and idles; resolves with its lease. */
  async function childWorker(schema: string, session: SessionId, id: string) {
    const child = spawn(
      process.execPath,
      [
        fileURLToPath(new URL('./worker-liveness.child.ts', import.meta.url)),
        testUrl,
        schema,
        session,
        id,
        String(hourMs),
        String(livenessMs),
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
    return { child, lease };
  }

  it('hands a kill -9ed worker’s session on at once when it died on this host', async () => {
    // Invariant: a dead worker's session is taken over fast, and only after it died.
    const schema = randomSchema();
    const [, other] = await openPair(schema, randomSchema('lr_app'));
    await other.registerWorker(workerId('survivor')); // runs the same-host sweep
    const session = await other.createSession({ agent: 'liveness', input: null });
    const { child, lease } = await childWorker(schema, session.id, 'doomed');
    expect(lease.epoch).toBe(1);
    // While the worker lives, its lease is honoured, also past its liveness period.
    await new Promise((r) => setTimeout(r, livenessMs * 1.5));
    expect(await other.claim(session.id, workerId('survivor'), hourMs)).toBeNull();
    const killedAt = Date.now();
    child.kill('SIGKILL');
    const taken = await eventually(() => other.claim(session.id, workerId('survivor'), hourMs));
    expect(taken).toMatchObject({ epoch: 2, owner: 'survivor' });
    // Well before the liveness period: the sweep saw the process gone.
    expect(Date.now() - killedAt).toBeLessThan(livenessMs);
  });

  for (const skewMs of [2 * hourMs, -2 * hourMs]) {
    it(`takes nothing from a live worker with its clock ${skewMs > 0 ? 'ahead' : 'behind'} by 2 h, and a frozen one's session after its liveness`, async () => {
      const schema = randomSchema();
      const [, other] = await openPair(schema, randomSchema('lr_app'));
      // The claimer's clock (and so the time its statements use) is 2 h off: a step of the
      // server's clock looks the same to the claim rule.
      const skewed = await PostgresStore.open({
        url: testUrl,
        schema,
        applicationName: randomSchema('lr_skew'),
        workerLivenessMs: livenessMs,
        clock: { nowMs: () => Date.now() + skewMs },
      });
      cleanup.push(() => skewed.close());
      const session = await other.createSession({ agent: 'liveness', input: null });
      const { child } = await childWorker(schema, session.id, 'alive');
      const until = Date.now() + 3 * livenessMs;
      while (Date.now() < until) {
        expect(await skewed.claim(session.id, workerId('early'), hourMs)).toBeNull();
        await new Promise((r) => setTimeout(r, 100));
      }
      const frozenAt = Date.now();
      child.kill('SIGSTOP');
      cleanup.push(async () => void child.kill('SIGCONT'));
      const taken = await eventually(
        () => skewed.claim(session.id, workerId('heir'), hourMs),
        10_000,
      );
      expect(taken).toMatchObject({ epoch: 2 });
      expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(livenessMs / 2);
    });
  }

  it('frees a frozen worker’s session once its liveness lapses, not before', async () => {
    const schema = randomSchema();
    const [, other] = await openPair(schema, randomSchema('lr_app'));
    const session = await other.createSession({ agent: 'liveness', input: null });
    const { child } = await childWorker(schema, session.id, 'frozen');
    const frozenAt = Date.now();
    child.kill('SIGSTOP'); // alive, connected, its lock held, its heartbeats stopped
    cleanup.push(async () => void child.kill('SIGCONT'));
    expect(await other.claim(session.id, workerId('heir'), hourMs)).toBeNull();
    const taken = await eventually(() => other.claim(session.id, workerId('heir'), hourMs), 10_000);
    expect(taken).toMatchObject({ epoch: 2 });
    // Not before half the liveness period: that half is the frozen worker's time to stop.
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(livenessMs / 2);
  });

  it('re-takes its lock after its connection is terminated, without a doubt, and keeps its leases', async () => {
    const schema = randomSchema();
    const app = randomSchema('lr_app');
    const [store, other] = await openPair(schema, app);
    const doubts: Error[] = [];
    await store.registerWorker(workerId('steady'), { onDoubt: (e) => doubts.push(e) });
    const session = await store.createSession({ agent: 'liveness', input: null });
    expect(await store.claim(session.id, workerId('steady'), hourMs)).not.toBeNull();
    const firstPid = await eventually(() => lockHolder(app));
    await withAdmin((c) => c.query('SELECT pg_terminate_backend($1, 5000)', [firstPid]));
    const secondPid = await eventually(async () => {
      const pid = await lockHolder(app);
      return pid !== null && pid !== firstPid ? pid : null;
    });
    expect(secondPid).not.toBe(firstPid);
    await new Promise((r) => setTimeout(r, livenessMs * 1.5));
    expect(await other.claim(session.id, workerId('thief'), hourMs)).toBeNull();
    expect(doubts).toEqual([]);
  });

  it('doubts when it cannot re-take its lock, before its session is free; confirms when it can again', async () => {
    const schema = randomSchema();
    const app = randomSchema('lr_app');
    const [store, other] = await openPair(schema, app);
    const log: string[] = [];
    const at = (what: string) => log.push(what);
    await store.registerWorker(workerId('unlucky'), {
      onDoubt: () => at('doubt'),
      onConfirmed: () => at('confirmed'),
    });
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
      // The session stays the worker's until it has doubted; then its liveness lapses.
      const taken = await eventually(async () => {
        const lease = await other.claim(session.id, workerId('heir'), hourMs);
        if (lease !== null) at('taken');
        return lease;
      }, 10_000);
      expect(taken).toMatchObject({ epoch: 2 });
    });
    // The waiter's connection ended: the worker takes its id back.
    await eventually(async () => (log.includes('confirmed') ? true : null), 10_000);
    expect(log).toEqual(['doubt', 'taken', 'confirmed']);
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

  it('lets a restarted process take its id at once when the old one died on this host', async () => {
    const schema = randomSchema();
    const [, other] = await openPair(schema, randomSchema('lr_app'));
    const session = await other.createSession({ agent: 'liveness', input: null });
    const { child } = await childWorker(schema, session.id, 'phoenix');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    const startedAt = Date.now();
    const registration = await other.registerWorker(workerId('phoenix'));
    expect(Date.now() - startedAt).toBeLessThan(livenessMs / 2);
    expect(await other.reclaimOwned(workerId('phoenix'), hourMs)).toMatchObject([{ epoch: 2 }]);
    await registration.close();
  });

  it('forgets lapsed workers that hold no lease, and keeps those that do', async () => {
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
    // The holder closed its registration, so its session is free before the lease expires.
    expect(await other.claim(session.id, workerId('heir'), hourMs)).toMatchObject({ epoch: 2 });
    await fresh.close();
  });
});
