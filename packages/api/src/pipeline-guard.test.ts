import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { createApi, type Api } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { eventually, sqliteStore } from './test-support.ts';

/**
 * HTTP/1.1 pipelining by a client that reads nothing: unauthenticated requests for the OpenAPI
 * document (~100 kB each) made an earlier server buffer every answer (129 MB → 4.1 GB RSS with
 * 12 connections). The connection must be dropped after a bounded number of answers, and the
 * server keep answering others. Real HTTP on loopback.
 */
let store: SessionStore;
let drop: () => Promise<void>;
let served: ServedApi;
let handled = 0;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  const api = createApi({ store, auth: 'keys' });
  const counting: Api = {
    ...api,
    fetch: (request) => {
      handled++;
      return api.fetch(request);
    },
  };
  served = await serveApi(counting, { port: 0 });
});
afterAll(async () => {
  await served.close();
  await drop();
});

/** Opens a connection that reads nothing, and pipelines `count` requests on it. */
async function pipelineWithoutReading(
  count: number,
): Promise<{ socket: Socket; closed: Promise<void> }> {
  const socket = connect(served.port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.pause();
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) => socket.once('close', () => r()));
  const request = 'GET /v1/openapi.json HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
  const burst = request.repeat(100);
  for (let i = 0; i < count / 100 && !socket.destroyed; i++) {
    if (!socket.write(burst))
      await Promise.race([new Promise((r) => socket.once('drain', r)), closed]);
  }
  return { socket, closed };
}

describe('a connection that pipelines requests and reads nothing', () => {
  it('is dropped after a bounded number of answers, and health still answers at once', async () => {
    const connections = await Promise.all(
      Array.from({ length: 4 }, () => pipelineWithoutReading(5_000)),
    );
    const startedAt = Date.now();
    const health = await fetch(`${served.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(Date.now() - startedAt).toBeLessThan(2_000);
    // Every flooding connection is closed by the server, none of them read a byte.
    let timer: NodeJS.Timeout | undefined;
    const dropped = await Promise.race([
      Promise.all(connections.map((c) => c.closed)).then(() => true),
      new Promise<false>((r) => (timer = setTimeout(() => r(false), 15_000))),
    ]);
    clearTimeout(timer);
    console.log(`pipelining: ${handled} of 20 000 requests answered before the drop`);
    expect(dropped, `${handled} requests answered and a connection still open`).toBe(true);
    // Without the bound the server answers every request (20 000) into memory. With it, each
    // connection gets what fits in the kernel's buffers plus 16 pipelined answers.
    expect(handled).toBeLessThan(1_000);
    for (const { socket } of connections) socket.destroy();
  });

  it('still serves a client that pipelines a few requests and reads the answers', async () => {
    const socket = connect(served.port, '127.0.0.1');
    let reply = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (reply += chunk));
    await new Promise((r) => socket.once('connect', r));
    socket.write('GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n'.repeat(8));
    await eventually(() => ((reply.match(/HTTP\/1\.1 200/g) ?? []).length === 8 ? true : null));
    socket.destroy();
  });
});
