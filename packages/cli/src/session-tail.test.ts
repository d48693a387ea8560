import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { event, isLongrunError, workerId, type Lease, type SessionStore } from '@longrun/core';
import { tail } from './commands/session-tail.ts';
import { openStore } from './store-url.ts';
import { background, waitFor } from './test-fixtures/cli-process.ts';
import { postgresStoreUrls } from './test-fixtures/postgres-stores.ts';

const pgStore = await postgresStoreUrls('the Postgres case of sessions tail', 'cli_tail');

/**
 * A TCP proxy to the PostgreSQL server that can go down and come back on the same port: down, it
 * drops every connection and refuses new ones (ECONNREFUSED), as a restarting server does.
 */
class CuttableProxy {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #server: Server | null = null;
  port = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  async up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.#target.port, this.#target.host);
      for (const s of [client, upstream]) {
        this.#sockets.add(s);
        s.on('close', () => this.#sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((ready) => server.listen(this.port, '127.0.0.1', ready));
    this.port = (server.address() as { port: number }).port;
    this.#server = server;
  }

  async down(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    for (const s of this.#sockets) s.destroy();
    if (server !== null) await new Promise((closed) => server.close(closed));
  }
}

/** Appends under one lease, as a worker would. */
async function writer(store: SessionStore, lease: Lease) {
  let head = lease.headSeq;
  return async (n: number, last = false) => {
    for (let i = 0; i < n; i++) {
      const ends = last && i === n - 1;
      const result = await store.append({
        fence: lease,
        expectedSeq: head,
        events: [
          ends
            ? event('session.completed', { output: 'done' })
            : event('model.streamed', { step: 1, attempt: 1, text: `piece ${head}` }),
        ],
        ...(ends ? { status: { status: 'completed' as const }, releaseLease: true } : {}),
      });
      head = result.headSeq;
    }
    return head;
  };
}

/** A proxy in front of the test server (up), and the store's URL through it. */
async function proxied(url: URL, proxies: CuttableProxy[]) {
  const proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
  proxies.push(proxy);
  await proxy.up();
  const viaProxy = new URL(url);
  viaProxy.port = String(proxy.port);
  return { proxy, viaProxy };
}

/** A new session of `store`, claimed, and its writer. */
async function claimedSession(store: SessionStore) {
  const { id } = await store.createSession({ agent: 'a', input: { task: 't' } });
  const lease = await store.claim(id, workerId('tail-test-writer'), 60_000);
  if (lease === null) throw new Error('the session is not claimable');
  return { id, append: await writer(store, lease) };
}

/** The seqs a `--json` tail printed, in order. */
function printedSeqs(output: string): number[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => (JSON.parse(l) as { seq: number }).seq);
}

describe('longrun sessions tail', () => {
  const proxies: CuttableProxy[] = [];
  afterAll(async () => {
    for (const p of proxies) await p.down();
  });

  /**
   * Invariant: a store outage while tailing (a PostgreSQL restart, here under a second) loses no
   * event and prints none twice: the output is seq 1…head exactly once each, in order.
   */
  it.runIf(pgStore !== null)(
    'waits out a store outage, says so on stderr, and prints every event exactly once',
    async () => {
      const url = new URL(pgStore!());
      const store = await openStore(url.toString());
      const { proxy, viaProxy } = await proxied(url, proxies);
      try {
        const { id, append } = await claimedSession(store);
        await append(4);
        const cwd = mkdtempSync(join(tmpdir(), 'longrun-tail-'));
        const tail = background(
          ['sessions', 'tail', id, '--json', '--store', viaProxy.toString()],
          cwd,
        );
        /** True once the output matches, undefined before; throws if tail ended first. */
        const printed = (pattern: RegExp) => async () => {
          if (pattern.test(tail.output())) return true;
          if (tail.child.exitCode !== null) throw new Error(`tail ended: ${tail.ending()}`);
          return undefined;
        };
        await waitFor('seq 5 printed', printed(/"seq":5,/));
        // The "restart": every connection drops and new ones are refused for about 800 ms,
        // while the session goes on.
        await proxy.down();
        const downAt = Date.now();
        await append(3);
        await waitFor('the retry said on stderr', printed(/store unavailable \(attempt 1: /));
        await new Promise((r) => setTimeout(r, Math.max(0, 800 - (Date.now() - downAt))));
        await proxy.up();
        const head = await append(3, true);
        const code = await tail.exited;
        expect(code, tail.ending()).toBe(0);
        expect(printedSeqs(tail.output())).toEqual(Array.from({ length: head }, (_, i) => i + 1));
        expect(tail.output()).toMatch(/store reachable again; following on after seq \d+/);
        expect(tail.output()).not.toMatch(/\[STORE_UNAVAILABLE\]/);
      } finally {
        await store.close();
      }
    },
    60_000,
  );

  it.runIf(pgStore !== null)(
    'started during an outage, waits for the store, says so on stderr, then follows the session',
    async () => {
      const url = new URL(pgStore!());
      const store = await openStore(url.toString());
      const { proxy, viaProxy } = await proxied(url, proxies);
      await proxy.down();
      try {
        const { id, append } = await claimedSession(store);
        await append(2);
        const cwd = mkdtempSync(join(tmpdir(), 'longrun-tail-'));
        const tail = background(
          ['sessions', 'tail', id, '--json', '--store', viaProxy.toString()],
          cwd,
        );
        await waitFor('the wait said on stderr', async () => {
          if (/waiting for the store at/.test(tail.output())) return true;
          if (tail.child.exitCode !== null) throw new Error(`tail ended: ${tail.ending()}`);
          return undefined;
        });
        await proxy.up();
        const head = await append(2, true);
        const code = await tail.exited;
        expect(code, tail.ending()).toBe(0);
        expect(printedSeqs(tail.output())).toEqual(Array.from({ length: head }, (_, i) => i + 1));
      } finally {
        await store.close();
      }
    },
    60_000,
  );

  it.runIf(pgStore !== null)(
    'gives up with STORE_UNAVAILABLE once the outage outlasts its limit, naming the last seq printed',
    async () => {
      const url = new URL(pgStore!());
      const direct = await openStore(url.toString());
      const { proxy, viaProxy } = await proxied(url, proxies);
      const store = await openStore(viaProxy.toString());
      try {
        const { id, append } = await claimedSession(direct);
        await append(1);
        const printed: number[] = [];
        const said: string[] = [];
        const following = tail(store, id, {
          json: true,
          write: (line) => printed.push((JSON.parse(line) as { seq: number }).seq),
          say: (line) => said.push(line),
          outageLimitMs: 1_000,
          pollMs: 20,
        });
        await waitFor('seq 2 printed', async () => (printed.includes(2) ? true : undefined));
        await proxy.down();
        const error = await following.catch((e: unknown) => e);
        expect(isLongrunError(error, 'STORE_UNAVAILABLE')).toBe(true);
        expect((error as Error).message).toMatch(
          /gave up after \d+ s of retrying; the last event printed was seq 2\)$/,
        );
        expect(printed).toEqual([1, 2]);
        expect(said.length).toBeGreaterThanOrEqual(2);
        expect(said[0]).toMatch(
          /^store unavailable \(attempt 1: .*\); trying again in 100 ms, after seq 2$/,
        );
      } finally {
        await store.close().catch(() => undefined);
        await direct.close();
      }
    },
    30_000,
  );
});
