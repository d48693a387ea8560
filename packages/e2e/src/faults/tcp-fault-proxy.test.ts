import pg from 'pg';
import { afterAll, afterEach, beforeAll, beforeEach, expect, it } from 'vitest';
import { testSeed } from '../seeded-random.ts';
import { describeWithPrivatePostgres } from './describe-with-private-postgres.ts';
import { pgStartupParameters } from './pg-startup-message.ts';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.ts';
import { startTcpFaultProxy, type TcpFaultProxy } from './tcp-fault-proxy.ts';

/**
 * The proxy against real things: a `pg` client talks through it to a private cluster, and the
 * server's own view (pg_stat_activity, read on a direct connection) says what reached it.
 */
describeWithPrivatePostgres('TCP fault proxy in front of PostgreSQL', () => {
  let cluster: PrivatePostgres;
  let proxy: TcpFaultProxy;
  const clients: pg.Client[] = [];

  /** A client through the proxy; connection errors are collected, never thrown at the process. */
  async function viaProxy(name: string, config: pg.ClientConfig = {}) {
    const errors: Error[] = [];
    const client = new pg.Client({
      connectionString: proxy.viaProxy(cluster.url),
      application_name: name,
      connectionTimeoutMillis: 5_000,
      ...config,
    });
    client.on('error', (error) => errors.push(error));
    clients.push(client);
    await client.connect();
    return { client, errors };
  }

  /** Runs one query on a fresh direct connection: the server's view, bypassing the proxy. */
  async function direct<T extends pg.QueryResultRow>(sql: string, values: unknown[] = []) {
    const client = new pg.Client({ connectionString: cluster.url, connectionTimeoutMillis: 5_000 });
    await client.connect();
    try {
      return (await client.query<T>(sql, values)).rows;
    } finally {
      await client.end();
    }
  }

  /** Backends the server has for an application_name. */
  async function backends(name: string): Promise<number> {
    const rows = await direct<{ n: number }>(
      'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
      [name],
    );
    return rows[0]!.n;
  }

  /** Bounded poll of the server's view, which changes after the proxy's event, not with it. */
  async function eventually(what: string, check: () => Promise<boolean>, withinMs = 10_000) {
    const deadline = performance.now() + withinMs;
    while (!(await check())) {
      if (performance.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  beforeAll(async () => {
    cluster = await startPrivatePostgres();
    await direct('CREATE TABLE writes (n int)');
  });
  afterAll(() => cluster?.stop());
  beforeEach(async () => {
    proxy = await startTcpFaultProxy({
      targetPort: cluster.port,
      seed: testSeed('tcp-fault-proxy'),
    });
  });
  afterEach(async () => {
    await proxy.close();
    await Promise.all(clients.splice(0).map((c) => c.end().catch(() => undefined)));
  });

  it('passes queries through and counts them', async () => {
    const { client } = await viaProxy('pass');
    const { rows } = await client.query<{ n: number }>('SELECT 41 + 1 AS n');
    expect(rows[0]!.n).toBe(42);
    const stats = proxy.stats();
    expect(stats).toMatchObject({ mode: 'pass', accepted: 1, open: 1, resets: 0, heldBytes: 0 });
    expect(stats.bytesUp).toBeGreaterThan(0);
    expect(stats.bytesDown).toBeGreaterThan(0);
    expect(pgStartupParameters(proxy.connections()[0]!.head)).toMatchObject({
      user: 'postgres',
      database: 'postgres',
      application_name: 'pass',
    });
  });

  it('resetAll() cuts a connection mid-query: the client sees it die, the server drops it', async () => {
    const { client, errors } = await viaProxy('reset');
    expect(await backends('reset')).toBe(1);
    const sleeping = client.query('SELECT pg_sleep(30)');
    expect(proxy.resetAll()).toBe(1);
    await expect(sleeping).rejects.toThrow(/Connection terminated unexpectedly|ECONNRESET/);
    expect(errors.map((e) => e.message).join()).toMatch(/Connection terminated|ECONNRESET/);
    await eventually('the server dropped the backend', async () => (await backends('reset')) === 0);
    expect(proxy.stats()).toMatchObject({ resets: 1, open: 0 });
  });

  it('reset(where) cuts only the matching connection', async () => {
    const victim = await viaProxy('victim');
    const bystander = await viaProxy('bystander');
    const cut = proxy.reset((c) => pgStartupParameters(c.head)?.application_name === 'victim');
    expect(cut).toBe(1);
    await expect(victim.client.query('SELECT 1')).rejects.toThrow();
    expect((await bystander.client.query<{ n: number }>('SELECT 2 AS n')).rows[0]!.n).toBe(2);
    expect(proxy.reset((c) => c.id === 99)).toBe(0);
  });

  it('delay adds at least the minimum delay each way, and results stay correct', async () => {
    const { client } = await viaProxy('delay');
    proxy.mode('delay', { minMs: 50, maxMs: 400 });
    const latencies: number[] = [];
    for (let n = 0; n < 5; n++) {
      const startedAt = performance.now();
      const { rows } = await client.query<{ n: number }>('SELECT $1::int AS n', [n]);
      latencies.push(performance.now() - startedAt);
      expect(rows[0]!.n).toBe(n);
    }
    console.log(
      `[tcp-fault-proxy] round trips in delay 50–400 ms: ${latencies.map(Math.round).join(', ')} ms`,
    );
    // A round trip is at least one chunk each way; timers never fire early. Lower bound only.
    for (const latency of latencies) expect(latency).toBeGreaterThanOrEqual(100 - 1);
    proxy.mode('pass');
    expect((await client.query<{ n: number }>('SELECT 7 AS n')).rows[0]!.n).toBe(7);
  });

  it('black hole: a query hangs until the client gives up, while the server still sees the connection', async () => {
    const { client } = await viaProxy('held', { query_timeout: 600 });
    proxy.mode('blackhole');
    const startedAt = performance.now();
    await expect(client.query('INSERT INTO writes VALUES (1)')).rejects.toThrow(
      /Query read timeout/,
    );
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(600 - 1);
    expect(await backends('held')).toBe(1);
    expect(await direct('SELECT * FROM writes WHERE n = 1')).toEqual([]);
    expect(proxy.stats().heldBytes).toBeGreaterThan(0);
    // A new connection is accepted and held: the client's own timeout ends it, the server never sees it.
    await expect(viaProxy('newcomer', { connectionTimeoutMillis: 500 })).rejects.toThrow(
      /timeout/i,
    );
    expect(await backends('newcomer')).toBe(0);
  });

  it('a healed black hole delivers what it held: the late write lands', async () => {
    const { client } = await viaProxy('late', { query_timeout: 300 });
    proxy.mode('blackhole');
    await expect(client.query('INSERT INTO writes VALUES (2)')).rejects.toThrow(
      /Query read timeout/,
    );
    expect(await direct('SELECT * FROM writes WHERE n = 2')).toEqual([]);
    proxy.mode('pass');
    await eventually(
      'the held write landed',
      async () => (await direct('SELECT n FROM writes WHERE n = 2')).length === 1,
    );
    expect(proxy.stats().heldBytes).toBe(0);
  });

  it('a black hole ended by resetAll() drops what it held: the write never lands', async () => {
    const { client } = await viaProxy('dropped', { query_timeout: 300 });
    proxy.mode('blackhole');
    await expect(client.query('INSERT INTO writes VALUES (3)')).rejects.toThrow(
      /Query read timeout/,
    );
    expect(proxy.resetAll()).toBe(1);
    proxy.mode('pass');
    await eventually(
      'the server dropped the backend',
      async () => (await backends('dropped')) === 0,
    );
    expect(await direct('SELECT * FROM writes WHERE n = 3')).toEqual([]);
  });

  it('survives a Postgres crash restart behind it: old connections die, new ones work', async () => {
    const { client, errors } = await viaProxy('across-restart');
    await cluster.restart({ mode: 'immediate' });
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(errors.length).toBeGreaterThan(0);
    const { client: fresh } = await viaProxy('after-restart');
    expect((await fresh.query<{ n: number }>('SELECT 3 AS n')).rows[0]!.n).toBe(3);
  });

  it('close() ends every connection and refuses new ones', async () => {
    const { client } = await viaProxy('closing');
    const { port } = proxy;
    await proxy.close();
    await expect(client.query('SELECT 1')).rejects.toThrow();
    const late = new pg.Client({
      host: '127.0.0.1',
      port,
      user: 'postgres',
      connectionTimeoutMillis: 2_000,
    });
    late.on('error', () => undefined);
    await expect(late.connect()).rejects.toThrow(/ECONNREFUSED/);
    proxy = await startTcpFaultProxy({ targetPort: cluster.port, seed: 1 });
  });
});
