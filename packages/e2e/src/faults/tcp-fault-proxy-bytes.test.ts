import { randomBytes } from 'node:crypto';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { within } from './bounded-wait.ts';
import { startTcpFaultProxy, type TcpFaultProxy } from './tcp-fault-proxy.ts';

/**
 * The proxy byte for byte, over real loopback TCP, against an echo server that also records what
 * reached it: order under random delays, FIN and RST passed on, what a black hole holds, and
 * back-pressure while it holds.
 */
describe('TCP fault proxy, bytes and TCP signals', () => {
  let echo: Server;
  let echoPort: number;
  /** Server-side sockets, with what each received and how it ended. */
  let arrivals: { socket: Socket; bytes: number; ended: boolean; error: string | null }[];
  let proxy: TcpFaultProxy;
  let seed: number;

  beforeEach(async () => {
    arrivals = [];
    echo = createServer({ allowHalfOpen: true }, (socket) => {
      const arrival = { socket, bytes: 0, ended: false, error: null as string | null };
      arrivals.push(arrival);
      socket.on('data', (chunk: Buffer) => {
        arrival.bytes += chunk.length;
        socket.write(chunk);
      });
      socket.on('end', () => {
        arrival.ended = true;
        socket.end();
      });
      socket.on(
        'error',
        (error: NodeJS.ErrnoException) => (arrival.error = error.code ?? error.message),
      );
    });
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    echoPort = (echo.address() as { port: number }).port;
    seed = testSeed('tcp-fault-proxy-bytes');
    proxy = await startTcpFaultProxy({ targetPort: echoPort, seed });
  });
  afterEach(async () => {
    await proxy.close();
    await new Promise((resolve) => echo.close(resolve));
  });

  /** A raw client through the proxy that collects everything it receives. */
  async function client() {
    const socket = connect({ host: '127.0.0.1', port: proxy.port, allowHalfOpen: true });
    const received: Buffer[] = [];
    const state = { ended: false, error: null as string | null };
    socket.on('data', (chunk: Buffer) => received.push(chunk));
    socket.on('end', () => (state.ended = true));
    socket.on(
      'error',
      (error: NodeJS.ErrnoException) => (state.error = error.code ?? error.message),
    );
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return { socket, received: () => Buffer.concat(received), state, closed };
  }

  /** Bounded wait for a condition that follows socket events. */
  async function until(what: string, check: () => boolean, withinMs = 10_000): Promise<void> {
    const deadline = performance.now() + withinMs;
    while (!check()) {
      if (performance.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  it('keeps byte order in each direction under random per-chunk delays', async () => {
    proxy.mode('delay', { minMs: 0, maxMs: 30 });
    const c = await client();
    const random = seededRandom(seed);
    const sent: Buffer[] = [];
    for (let i = 0; i < 200; i++) {
      const chunk = randomBytes(1 + Math.floor(random() * 2000));
      sent.push(chunk);
      c.socket.write(chunk);
      // Spread the writes so they arrive as separate chunks with separate delays.
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const expected = Buffer.concat(sent);
    c.socket.end();
    await within(c.closed, 20_000);
    expect(c.state.ended).toBe(true);
    expect(c.received().equals(expected)).toBe(true);
    expect(proxy.stats()).toMatchObject({ bytesUp: expected.length, bytesDown: expected.length });
  });

  it('passes a FIN on after the bytes before it, and a reset as a reset', async () => {
    const c = await client();
    c.socket.end(Buffer.from('last words'));
    await until('the echo came back and the connection closed', () => c.state.ended);
    expect(c.received().toString()).toBe('last words');
    expect(arrivals[0]!.ended).toBe(true);

    const d = await client();
    await until('the target connection is up', () => arrivals.length === 2);
    d.socket.resetAndDestroy();
    await until('the target saw a reset', () => arrivals[1]!.error !== null);
    expect(arrivals[1]!.error).toBe('ECONNRESET');
  });

  it('resetAll() sends a TCP reset to both ends', async () => {
    const c = await client();
    c.socket.write('ping');
    await until('echoed', () => c.received().length === 4);
    expect(proxy.resetAll()).toBe(1);
    await within(c.closed, 5_000);
    expect(c.state.error).toBe('ECONNRESET');
    await until('the target saw a reset', () => arrivals[0]!.error !== null);
    expect(arrivals[0]!.error).toBe('ECONNRESET');
    expect(proxy.stats()).toMatchObject({ resets: 1, open: 0 });
  });

  it('a black hole holds bytes and FINs of old and new connections, and delivers them in order when it heals', async () => {
    const old = await client();
    await until('the old connection reached the target', () => arrivals.length === 1);
    proxy.mode('blackhole');
    old.socket.end('held while partitioned');
    const fresh = await client();
    fresh.socket.write('sent into the void');
    const held = 'held while partitioned'.length + 'sent into the void'.length;
    await until('the proxy holds both writes', () => proxy.stats().heldBytes === held);
    // Had anything been forwarded, the echo would be back within this; absence cannot be awaited.
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Nothing reached the target: no bytes, no FIN, and no connection for the new client.
    expect(arrivals).toHaveLength(1);
    expect(arrivals[0]).toMatchObject({ bytes: 0, ended: false });
    expect(old.received().length).toBe(0);
    proxy.mode('pass');
    await until('the old connection was delivered and closed', () => old.state.ended);
    expect(old.received().toString()).toBe('held while partitioned');
    await until('the new one was echoed', () => fresh.received().length === 18);
    expect(fresh.received().toString()).toBe('sent into the void');
    expect(arrivals).toHaveLength(2);
    fresh.socket.destroy();
  });

  it('a black hole stops reading from a sender that keeps writing (back-pressure), and loses nothing', async () => {
    const c = await client();
    proxy.mode('blackhole');
    const payload = randomBytes(16 * 1024 * 1024);
    c.socket.write(payload);
    await until('the proxy holds its pause threshold', () => proxy.stats().heldBytes > 1024 * 1024);
    // Time in which an unpaused proxy would read megabytes more; absence cannot be awaited.
    await new Promise((resolve) => setTimeout(resolve, 200));
    // It holds at most about its pause threshold (1 MiB) plus one read's worth; the rest waits
    // in the kernel's buffers and the sender's own queue.
    expect(proxy.stats().heldBytes).toBeLessThan(2 * 1024 * 1024);
    expect(c.socket.writableLength).toBeGreaterThan(0);
    proxy.mode('pass');
    await until('all echoed', () => c.received().length === payload.length, 30_000);
    expect(c.received().equals(payload)).toBe(true);
    c.socket.destroy();
  });

  it('a target that refuses the connection reaches the client as a reset', async () => {
    await new Promise((resolve) => echo.close(resolve));
    echo = createServer();
    await new Promise<void>((resolve) => echo.listen(0, '127.0.0.1', resolve));
    const c = await client();
    await within(c.closed, 5_000);
    expect(c.state.error).toBe('ECONNRESET');
  });
});
