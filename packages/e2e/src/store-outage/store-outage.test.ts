import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { openStore } from '@longrun/cli';
import type { SessionId, SessionStore } from '@longrun/core';
import { waitForStatus } from '../crash/reference-run.ts';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import { startPrivatePostgres, type PrivatePostgres } from '../faults/private-postgres.ts';
import { startTcpFaultProxy } from '../faults/tcp-fault-proxy.ts';
import { ledgerOf } from '../ledger/ledger-agent.ts';
import { expectedLedger, sortedByKey } from '../ledger/ledger-script.ts';

const main = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));
const ledgerModule = fileURLToPath(new URL('../ledger/ledger-agent-module.ts', import.meta.url));
// Not `ledger`: a CLI worker may also carry a sample agent of that name, which would run instead.
const agentName = 'e2e-ledger';
const steps = 6;

/** A `longrun` subprocess whose output is collected and whose exit is watched. */
function longrun(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [main, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  let exit: number | string | null = null;
  child.on('exit', (code, signal) => (exit = code ?? signal));
  return { child, output: () => output, exited: () => exit };
}

async function until(what: string, check: () => boolean | Promise<boolean>, withinMs: number) {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function completes(store: SessionStore): Promise<SessionId> {
  const session = await store.createSession({ agent: agentName, input: { steps } });
  await waitForStatus(store, session.id, ['completed'], 60_000);
  return session.id;
}

/**
 * Nothing in longrun exits because the store went away (DESIGN §3): a worker and an API node
 * started while PostgreSQL is down wait for it and say so; once up, they ride out crash
 * restarts; `/v1/ready` answers 503 while the store does not answer, and 200 again after.
 */
describeWithPrivatePostgres('a store outage at start-up and under way', () => {
  const children: ChildProcess[] = [];
  let cluster: PrivatePostgres | undefined;
  const ledgerDir = mkdtempSync(join(tmpdir(), 'longrun-store-outage-'));
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await cluster?.stop();
    rmSync(ledgerDir, { recursive: true, force: true });
  });

  it(
    'a worker started before the server waits for it, then survives restarts',
    { timeout: 120_000 },
    async () => {
      const port = await freePort();
      const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
      const worker = longrun(
        ['worker', '--store', url, '--lease-ms', '3000', '--agents', ledgerModule],
        { LONGRUN_LEDGER_DIR: ledgerDir, LONGRUN_LEDGER_NAME: agentName },
      );
      children.push(worker.child);
      await until(
        'the worker says it waits',
        () => /waiting for the store/.test(worker.output()),
        15_000,
      );
      expect(worker.exited()).toBeNull();
      cluster = await startPrivatePostgres({ port });
      await until('the worker starts', () => /worker started/.test(worker.output()), 30_000);
      const store = await openStore(url, { waitForServer: true });
      try {
        const completed = [await completes(store)];
        for (let i = 0; i < 3; i++) {
          await cluster.restart({ mode: 'immediate' });
          completed.push(await completes(store));
        }
        expect(worker.exited(), worker.output().slice(-2000)).toBeNull();
        expect(
          sortedByKey(ledgerOf(ledgerDir).applied()),
          'keyed effects applied once each',
        ).toEqual(expectedLedger(completed, steps));
      } finally {
        await store.close();
      }
    },
  );

  it(
    'a worker started against a server that accepts connections and never answers waits for it',
    { timeout: 120_000 },
    async () => {
      cluster ??= await startPrivatePostgres();
      const proxy = await startTcpFaultProxy({ targetPort: cluster.port, seed: 2 });
      try {
        proxy.mode('blackhole');
        const worker = longrun(
          ['worker', '--store', proxy.viaProxy(cluster.url), '--agents', ledgerModule],
          { LONGRUN_LEDGER_DIR: ledgerDir, LONGRUN_LEDGER_NAME: agentName },
        );
        children.push(worker.child);
        // Past the connect timeout (5 s), at least twice: it waits and says so, it never exits.
        await until(
          'the worker says it waits',
          () => (worker.output().match(/waiting for the store/g) ?? []).length >= 2,
          40_000,
        );
        expect(worker.exited(), worker.output().slice(-2000)).toBeNull();
        expect(worker.output()).not.toMatch(/INTERNAL/);
        proxy.resetAll();
        proxy.mode('pass');
        await until('the worker starts', () => /worker started/.test(worker.output()), 40_000);
        worker.child.kill('SIGTERM');
      } finally {
        await proxy.close();
      }
    },
  );

  it(
    'an API node started while the store does not answer listens at once: alive, not ready, 503 with what it waits for',
    { timeout: 120_000 },
    async () => {
      cluster ??= await startPrivatePostgres();
      const proxy = await startTcpFaultProxy({ targetPort: cluster.port, seed: 3 });
      try {
        proxy.mode('blackhole');
        const port = await freePort();
        const api = longrun([
          'serve',
          '--store',
          proxy.viaProxy(cluster.url),
          '--port',
          String(port),
        ]);
        children.push(api.child);
        const base = `http://127.0.0.1:${port}`;
        const answer = async (path: string) => {
          try {
            const response = await fetch(`${base}${path}`);
            return {
              status: response.status,
              body: await response.text(),
              retryAfter: response.headers.get('retry-after'),
            };
          } catch {
            return null; // not listening yet
          }
        };
        await until('the API listens', async () => (await answer('/v1/health')) !== null, 15_000);
        // Past the connect timeout (5 s): it has failed to open the store, and says why.
        await until(
          'the node says it waits',
          () => /waiting for the store/.test(api.output()),
          30_000,
        );
        expect(await answer('/v1/health')).toMatchObject({ status: 200 });
        const ready = await answer('/v1/ready');
        expect(ready).toMatchObject({ status: 503, retryAfter: '1' });
        expect(JSON.parse(ready?.body ?? '{}')).toEqual({ ready: false, store: 'postgres' });
        const list = await answer('/v1/sessions');
        expect(list).toMatchObject({ status: 503, retryAfter: '1' });
        const error = (
          JSON.parse(list?.body ?? '{}') as { error: { code: string; message: string } }
        ).error;
        expect(error.code).toBe('STORE_UNAVAILABLE');
        expect(error.message).toMatch(/waiting for its store \(waiting for the store at/);
        expect(api.exited(), api.output().slice(-2000)).toBeNull();
        proxy.resetAll();
        proxy.mode('pass');
        await until('ready', async () => (await answer('/v1/ready'))?.status === 200, 30_000);
        // Now the API itself answers: with keys, a request without one is refused.
        expect(await answer('/v1/sessions')).toMatchObject({ status: 401 });
        expect(api.output()).toMatch(new RegExp(`^${base}$`, 'm'));
      } finally {
        await proxy.close();
      }
    },
  );

  it(
    'an API node says not ready while the store does not answer, and ready again after',
    { timeout: 120_000 },
    async () => {
      cluster ??= await startPrivatePostgres();
      const proxy = await startTcpFaultProxy({ targetPort: cluster.port, seed: 1 });
      try {
        const api = longrun([
          'serve',
          '--store',
          proxy.viaProxy(cluster.url),
          '--no-auth',
          '--port',
          String(await freePort()),
        ]);
        children.push(api.child);
        await until(
          'the API listens',
          () => /^http:\/\/127\.0\.0\.1:\d+$/m.test(api.output()),
          30_000,
        );
        const base = /^(http:\/\/127\.0\.0\.1:\d+)$/m.exec(api.output())?.[1] ?? '';
        const ready = async () => (await fetch(`${base}/v1/ready`)).status;
        expect(await ready()).toBe(200);
        proxy.mode('blackhole');
        const askedAt = Date.now();
        expect(await ready()).toBe(503);
        expect(Date.now() - askedAt).toBeLessThan(5_000);
        expect((await fetch(`${base}/v1/health`)).status).toBe(200);
        proxy.resetAll();
        proxy.mode('pass');
        await until('ready again', async () => (await ready()) === 200, 30_000);
        expect(api.exited(), api.output().slice(-2000)).toBeNull();
      } finally {
        await proxy.close();
      }
    },
  );
});
