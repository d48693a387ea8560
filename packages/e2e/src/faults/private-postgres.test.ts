import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeWithPrivatePostgres } from './describe-with-private-postgres.ts';
import { startPrivatePostgres, type PrivatePostgres } from './private-postgres.ts';
import { PrivatePostgresError, isMissingPostgres } from './private-postgres-error.ts';
import { childPids, isRunning } from './process-tree.ts';
import { within } from './bounded-wait.ts';

/** A connected client whose connection errors are collected instead of crashing the test. */
async function connect(url: string, name = 'private-postgres-test') {
  const errors: Error[] = [];
  const client = new pg.Client({
    connectionString: url,
    application_name: name,
    connectionTimeoutMillis: 5_000,
  });
  client.on('error', (error) => errors.push(error));
  await client.connect();
  return { client, errors };
}

async function scalar(url: string, sql: string): Promise<string> {
  const { client } = await connect(url);
  try {
    const { rows } = await client.query<{ v: string }>(`SELECT (${sql})::text AS v`);
    return rows[0]!.v;
  } finally {
    await client.end();
  }
}

/** Bounded wait for a condition that follows an event outside this process. */
async function until(what: string, check: () => boolean, withinMs = 10_000): Promise<void> {
  const deadline = performance.now() + withinMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describeWithPrivatePostgres('a private PostgreSQL cluster', () => {
  let cluster: PrivatePostgres;

  beforeAll(async () => {
    cluster = await startPrivatePostgres();
    console.log(
      `[private-postgres] started on port ${cluster.port} in ${cluster.startMs.toFixed(0)} ms`,
    );
  });
  afterAll(() => cluster?.stop());

  it('listens on 127.0.0.1 only, with the durability longrun demands', async () => {
    expect(cluster.url).toBe(`postgres://postgres@127.0.0.1:${cluster.port}/postgres`);
    const setting = (name: string) => scalar(cluster.url, `current_setting('${name}')`);
    expect(await setting('listen_addresses')).toBe('127.0.0.1');
    expect(await setting('fsync')).toBe('on');
    expect(await setting('synchronous_commit')).toBe('on');
    expect(await setting('full_page_writes')).toBe('on');
    expect(Number(await setting('max_connections'))).toBeGreaterThanOrEqual(200);
    expect(await setting('unix_socket_directories')).toBe(join(cluster.root, 'socket'));
    expect(await setting('data_directory')).toBe(cluster.dataDir);
    expect(statSync(cluster.dataDir).mode & 0o777).toBe(0o700);
  });

  it('refuses settings weaker than longrun durability, with a typed error', async () => {
    const weaker: Record<string, string>[] = [
      { fsync: 'off' },
      { synchronous_commit: 'off' },
      { FULL_PAGE_WRITES: 'off' },
    ];
    for (const settings of weaker) {
      const error = await startPrivatePostgres({ settings }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PrivatePostgresError);
      expect((error as PrivatePostgresError).code).toBe('unsafe-setting');
    }
  });

  it('tells a missing installation apart from a failure', async () => {
    const saved = process.env.LONGRUN_PG_BINDIR;
    process.env.LONGRUN_PG_BINDIR = '/nonexistent/postgresql/bin';
    try {
      const error = await startPrivatePostgres().catch((e: unknown) => e);
      expect(isMissingPostgres(error)).toBe(true);
      expect((error as PrivatePostgresError).code).toBe('binaries-missing');
      expect((error as Error).message).toContain('/nonexistent/postgresql/bin/initdb');
    } finally {
      if (saved === undefined) delete process.env.LONGRUN_PG_BINDIR;
      else process.env.LONGRUN_PG_BINDIR = saved;
    }
  });

  it('fails to start on a taken port it was told to use, saying why', async () => {
    const squatter = createServer();
    await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
    const port = (squatter.address() as { port: number }).port;
    try {
      const error = await startPrivatePostgres({ port }).catch((e: unknown) => e);
      expect((error as PrivatePostgresError).code).toBe('start-failed');
      expect((error as Error).message).toContain('Address already in use');
    } finally {
      squatter.close();
    }
  });

  it('restart(immediate) crashes it: a connected client errors, a new one connects after', async () => {
    const before = await connect(cluster.url);
    const oldPid = cluster.pid;
    const startedAt = Date.now();
    const report = await cluster.restart({ mode: 'immediate' });
    console.log(`[private-postgres] immediate restart: ${JSON.stringify(report)}`);
    await expect(before.client.query('SELECT 1')).rejects.toThrow();
    await until('the old client saw its connection end', () => before.errors.length > 0);
    expect(cluster.pid).not.toBe(oldPid);
    expect(isRunning(oldPid)).toBe(false);
    expect(report.mode).toBe('immediate');
    expect(report.stopMs).toBeGreaterThan(0);
    expect(report.downMs).toBeGreaterThanOrEqual(report.stopMs);
    expect(report.acceptedAtMs).toBeGreaterThanOrEqual(startedAt);
    expect(report.acceptedAtMs).toBeLessThanOrEqual(Date.now());
    expect(await scalar(cluster.url, '1')).toBe('1');
    // A crash, not a clean stop: the new server ran WAL recovery.
    expect(cluster.log(60)).toContain(
      'database system was not properly shut down; automatic recovery',
    );
  });

  it('restart(fast) shuts down cleanly: no recovery on the way up', async () => {
    const recoveries = () => cluster.log().split('automatic recovery in progress').length - 1;
    const cleanStarts = () => cluster.log().split('database system was shut down at').length - 1;
    const [recoveriesBefore, cleanStartsBefore] = [recoveries(), cleanStarts()];
    const report = await cluster.restart({ mode: 'fast' });
    console.log(`[private-postgres] fast restart: ${JSON.stringify(report)}`);
    expect(cleanStarts()).toBe(cleanStartsBefore + 1);
    expect(recoveries()).toBe(recoveriesBefore);
    expect(await scalar(cluster.url, '1')).toBe('1');
  });

  it('keeps every synchronous commit through an immediate restart; asynchronous ones can be lost', async () => {
    const { client } = await connect(cluster.url);
    await client.query('CREATE TABLE durable (n int)');
    await client.end();
    const rows = 200;
    /** Inserts `rows` single-row transactions at the given synchronous_commit, then crashes. */
    const survivors = async (synchronousCommit: 'on' | 'off') => {
      const { client: writer } = await connect(cluster.url);
      await writer.query('TRUNCATE durable');
      await writer.query(`SET synchronous_commit = ${synchronousCommit}`);
      for (let n = 0; n < rows; n++) await writer.query('INSERT INTO durable VALUES ($1)', [n]);
      await cluster.restart({ mode: 'immediate' });
      return Number(await scalar(cluster.url, 'SELECT count(*) FROM durable'));
    };
    expect(await survivors('on')).toBe(rows);
    // The control that shows the check above can fail: with synchronous_commit=off a commit
    // returns before its WAL is written, and an immediate restart right after loses some
    // (measured here: 40–75 of 200, every time). Up to 3 tries, so a lucky WAL flush cannot flake.
    const lost: number[] = [];
    for (let attempt = 0; attempt < 3 && !lost.some((n) => n > 0); attempt++) {
      lost.push(rows - (await survivors('off')));
    }
    console.log(`[private-postgres] async commits lost per immediate restart: ${lost.join(', ')}`);
    expect(Math.max(...lost)).toBeGreaterThan(0);
    expect(await survivors('on')).toBe(rows);
  });

  it('stop() leaves no postgres process and no directory, and is final', async () => {
    const own = await startPrivatePostgres();
    const { client } = await connect(own.url);
    const postmaster = own.pid;
    const processes = [postmaster, ...childPids(postmaster)];
    // checkpointer, background writer, walwriter, autovacuum, logical launcher, our backend.
    expect(processes.length).toBeGreaterThanOrEqual(6);
    await own.stop();
    await client.end().catch(() => undefined);
    expect(processes.filter(isRunning)).toEqual([]);
    expect(existsSync(own.root)).toBe(false);
    await own.stop();
    const error = await own.restart().catch((e: unknown) => e);
    expect((error as PrivatePostgresError).code).toBe('stopped');
  });

  it('a process that exits without stop() stops and deletes its cluster, loudly', async () => {
    const child = spawn(process.execPath, [join(import.meta.dirname, 'abandoned-cluster.ts')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    const code = await within(exited, 60_000);
    if (code === null) child.kill('SIGKILL');
    expect(code, stderr).toBe(0);
    const { pid, root } = JSON.parse(stdout) as { pid: number; root: string };
    expect(stderr).toContain('was never stopped by its test; stopping it at exit');
    expect(stderr).toContain(root);
    await until('the abandoned postmaster exited', () => !isRunning(pid));
    expect(existsSync(root)).toBe(false);
  });
});
