import { connect, type Socket } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { addressKey, type ConnectionLimits } from './connection-gate.ts';
import { createApi } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { eventually, sqliteStore } from './test-support.ts';

/**
 * The connections one server holds, over real HTTP on loopback with small caps. Before the gate
 * any number could be open: 1,500 slow webhook bodies, or sockets that never send a header
 * (held 30 s each), could take every file descriptor and lock every other caller out.
 */
let store: SessionStore;
let drop: () => Promise<void>;
let key: string;
const servers: ServedApi[] = [];
const sockets: Socket[] = [];

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  key = (await generateApiKey(store.apiKeys, 'acme', 'ops', 'viewer')).key;
});
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  for (const served of servers.splice(0)) await served.close();
});
afterAll(() => drop());

async function serve(limits: Partial<ConnectionLimits>): Promise<ServedApi> {
  const served = await serveApi(createApi({ store, auth: 'keys' }), {
    port: 0,
    // Long waits unless a test is about them: a slow machine must not reap or drop on its own.
    connectionLimits: { silentReapMs: 60_000, refusalWaitMs: 60_000, ...limits },
  });
  servers.push(served);
  return served;
}

/** A connection that has sent nothing yet, from `localAddress` (any 127.x address). */
async function open(served: ServedApi, localAddress = '127.0.0.1'): Promise<Socket> {
  const socket = connect({ port: served.port, host: '127.0.0.1', localAddress });
  sockets.push(socket);
  socket.on('error', () => undefined);
  await new Promise((r) => socket.once('connect', r));
  return socket;
}

interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends one GET on `socket` (kept alive) and reads one answer, framed by Content-Length or by
 * the connection closing; null when the connection closed without an answer. Bounded: 5 s.
 */
function get(socket: Socket, path: string): Promise<Answer | null> {
  return new Promise((resolve, reject) => {
    let raw = '';
    const finish = (answer: Answer | null): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      socket.off('close', onClose);
      resolve(answer);
    };
    const parse = (closed: boolean): Answer | null | undefined => {
      const end = raw.indexOf('\r\n\r\n');
      if (end < 0) return closed ? null : undefined;
      const [statusLine = '', ...lines] = raw.slice(0, end).split('\r\n');
      const headers = Object.fromEntries(
        lines.map((l) => [
          l.slice(0, l.indexOf(':')).toLowerCase(),
          l.slice(l.indexOf(':') + 1).trim(),
        ]),
      );
      const body = raw.slice(end + 4);
      const length = Number(headers['content-length'] ?? NaN);
      if (!closed && !(body.length >= length)) return undefined;
      return { status: Number(statusLine.split(' ')[1]), headers, body };
    };
    const onData = (chunk: Buffer): void => {
      raw += chunk.toString('utf8');
      const answer = parse(false);
      if (answer !== undefined) finish(answer);
    };
    const onClose = (): void => finish(parse(true) ?? null);
    const timer = setTimeout(() => reject(new Error(`no answer to GET ${path} within 5 s`)), 5_000);
    socket.on('data', onData);
    socket.once('close', onClose);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`);
  });
}

/** Resolves when the server closed `socket`; rejects after 5 s. */
function closed(socket: Socket): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('the connection is still open after 5 s')),
      5_000,
    );
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function expectBusy(answer: Answer | null, message: RegExp): void {
  expect(answer?.status).toBe(503);
  expect(answer?.headers['retry-after']).toBe('1');
  expect(answer?.headers.connection).toBe('close');
  const body = JSON.parse(answer?.body ?? '') as { error: { code: string; message: string } };
  expect(body.error.code).toBe('SERVER_BUSY');
  expect(body.error.message).toMatch(message);
}

describe('the server-wide connection cap', () => {
  it('answers a connection past it 503 SERVER_BUSY, keeps serving those held, and takes new ones once some close', async () => {
    const served = await serve({ maxOpen: 4 });
    const held = await Promise.all(Array.from({ length: 4 }, () => open(served)));
    const over = await open(served);
    expectBusy(await get(over, '/v1/openapi.json'), /as many connections open as it allows \(4\)/);
    await closed(over);
    // A liveness check over the cap is still answered, and its connection closed after.
    const probe = await open(served);
    expect((await get(probe, '/v1/health'))?.status).toBe(200);
    await closed(probe);
    for (const socket of held) expect((await get(socket, '/v1/health'))?.status).toBe(200);

    held.shift()?.destroy();
    await eventually(() => served.connections().open === 3 || null);
    const later = await open(served);
    expect((await get(later, '/v1/health'))?.status).toBe(200);

    const figures = await get(held[0]!, '/v1/figures');
    expect(JSON.parse(figures?.body ?? '')).toMatchObject({
      connections: { open: 4, maxOpen: 4, refused: 1, reaped: 0, probesOverCap: 1 },
    });
  });

  it('closes the oldest connection that sent no request to make room, when one is needed', async () => {
    const served = await serve({ maxOpen: 2, silentReapMs: 0 });
    const silent = await open(served);
    const alsoSilent = await open(served);
    const wanted = await open(served);
    expect((await get(wanted, '/v1/health'))?.status).toBe(200);
    await closed(silent);
    expect(alsoSilent.destroyed).toBe(false);
    expect(served.connections()).toMatchObject({ open: 2, reaped: 1, refused: 0 });
  });

  it('closes the longest idle keep-alive connection to make room, never one whose request is in progress', async () => {
    const served = await serve({ maxOpen: 2, silentReapMs: 0 });
    // Both answered once and kept alive: idle, the first one longest.
    const idle = await open(served);
    expect((await get(idle, '/v1/health'))?.status).toBe(200);
    const alsoIdle = await open(served);
    expect((await get(alsoIdle, '/v1/health'))?.status).toBe(200);
    const wanted = await open(served);
    expect((await get(wanted, '/v1/health'))?.status).toBe(200);
    await closed(idle);
    expect(alsoIdle.destroyed).toBe(false);
    expect(served.connections()).toMatchObject({ open: 2, reaped: 1, refused: 0 });
    // A request in progress (a stream, answered for as long as it is read) keeps its
    // connection: with both busy, a new connection is refused instead.
    const { id } = await store.createSession({ agent: 'a', input: null, tenantId: 'acme' });
    for (const socket of [alsoIdle, wanted])
      socket.write(
        `GET /v1/sessions/${id}/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`,
      );
    await new Promise((r) => setTimeout(r, 100));
    const over = await open(served);
    expectBusy(await get(over, '/v1/openapi.json'), /as many connections open as it allows \(2\)/);
    expect(alsoIdle.destroyed || wanted.destroyed).toBe(false);
  });

  it('closes a connection past it unanswered once every refusal slot is taken', async () => {
    const served = await serve({ maxOpen: 1, refusalSlots: 1 });
    const held = await open(served);
    // Takes the one refusal slot: it waits for its request to be answered 503.
    const waiting = await open(served);
    const dropped = await open(served);
    expect(await get(dropped, '/v1/health')).toBeNull();
    expectBusy(await get(waiting, '/v1/openapi.json'), /allows \(1\)/);
    expect((await get(held, '/v1/health'))?.status).toBe(200);
    expect(served.connections().refused).toBe(2);
  });
});

describe('the per-address connection cap', () => {
  it('answers one address past it 503, while another address and the held ones are served', async () => {
    const served = await serve({
      maxOpen: 100,
      maxOpenPerAddress: 2,
      capLoopbackPerAddress: true,
    });
    const held = [await open(served, '127.0.0.2'), await open(served, '127.0.0.2')];
    const over = await open(served, '127.0.0.2');
    expectBusy(await get(over, '/v1/openapi.json'), /your address .* one address may \(2\)/);
    const others = [await open(served, '127.0.0.3'), await open(served, '127.0.0.3')];
    for (const socket of [...held, ...others])
      expect((await get(socket, '/v1/health'))?.status).toBe(200);

    held.shift()?.destroy();
    await eventually(() => served.connections().open === 3 || null);
    const again = await open(served, '127.0.0.2');
    expect((await get(again, '/v1/health'))?.status).toBe(200);
    expect(served.connections()).toMatchObject({ open: 4, addresses: 2, refused: 1 });
  });

  it('leaves loopback callers to the server-wide cap by default (a proxy, a dashboard, a bench)', async () => {
    const served = await serve({ maxOpen: 100, maxOpenPerAddress: 2 });
    const local = await Promise.all(Array.from({ length: 5 }, () => open(served)));
    for (const socket of local) expect((await get(socket, '/v1/health'))?.status).toBe(200);
    expect(served.connections()).toMatchObject({ open: 5, refused: 0 });
  });

  it('counts IPv6 callers by /64 network, and IPv4-mapped ones as IPv4', () => {
    expect(addressKey('2001:db8:1:2::5')).toBe(addressKey('2001:db8:1:2:ffff:1:2:3'));
    expect(addressKey('2001:db8:1:2::5')).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:3::5')).not.toBe(addressKey('2001:db8:1:2::5'));
    expect(addressKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(addressKey('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(addressKey('10.0.0.1')).toBe('10.0.0.1');
  });
});
