import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, type SessionId, type SessionStore, type StoredEvent } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import type { StreamBufferFigures } from './stream-buffers.ts';
import { LogWriter, bodyReader, eventually, parseFrames, sqliteStore } from './test-support.ts';

/**
 * Each stream whose client read nothing held its last catch-up read (about 1 MiB), with no bound
 * on the total: 600 such streams on a 12 MB log took the server from 204 to 787 MiB. Real HTTP on
 * loopback: clients that never read, on a log larger than the kernel's socket buffers hold.
 */
let store: SessionStore;
let drop: () => Promise<void>;
let key: string;
let id: SessionId;
let count = 0;
let api: Api;
let served: ServedApi;
const sockets: Socket[] = [];
/** Room for one catch-up read (256 KiB) and a little: streams must give way to each other. */
const maxBytes = 320 * 1024;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  key = (await generateApiKey(store.apiKeys, 'acme', 'v', 'viewer')).key;
  const record = await store.createSession({ tenantId: 'acme', agent: 'coder', input: 't' });
  id = record.id;
  const log = await LogWriter.claim(store, id);
  const text = 'x'.repeat(128 * 1024);
  // 10 MB: more than the kernel takes into one loopback socket's buffers (a few MB).
  for (let i = 0; i < 80; i += 10)
    await log.append(
      Array.from({ length: 10 }, () => event('model.streamed', { step: 1, attempt: 1, text })),
    );
  count = log.head;
  api = createApi({ store, auth: 'keys', pollMs: 5, streamBuffers: { maxBytes, stalledMs: 200 } });
  served = await serveApi(api, { port: 0 });
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await served.close();
  await drop();
});

function buffers(): StreamBufferFigures {
  return (api.figures().streams as { buffers: StreamBufferFigures }).buffers;
}

/** A stream whose client never reads: the kernel's buffers fill, then the server's would. */
async function stalledStream(): Promise<void> {
  const socket = connect(served.port, '127.0.0.1');
  sockets.push(socket);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.pause();
  socket.write(
    `GET /v1/sessions/${id}/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`,
  );
}

describe('the bytes streams hold for clients that do not read', () => {
  it('stay under the server-wide bound with 12 such streams, and a reader still gets the log', async () => {
    const streams = 12;
    for (let i = 0; i < streams; i++) await stalledStream();
    await eventually(() => api.stats().subscribers === streams || null);
    // Watch the server's own figure until streams were evicted to keep the bound, 10 s at most.
    let highest = 0;
    await eventually(
      () => {
        highest = Math.max(highest, buffers().bufferedBytes);
        return buffers().evicted >= 2 || null;
      },
      10_000,
      5,
    );
    for (let i = 0; i < 100; i++) {
      highest = Math.max(highest, buffers().bufferedBytes);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const { evicted, inFlightBytes } = buffers();
    console.log(
      `${streams} stalled streams: at most ${highest} bytes read ahead (bound ${maxBytes}), ${evicted} evicted, ${inFlightBytes} in flight`,
    );
    expect(highest).toBeGreaterThan(0);
    // The bound holds for what streams read from the log; the session's state frame (a few
    // hundred bytes, not read from the log) is not asked room for.
    expect(highest).toBeLessThanOrEqual(maxBytes + 4 * 1024);
    // In flight: at most one 16 KiB piece per stream.
    expect(inFlightBytes).toBeLessThanOrEqual(streams * 16 * 1024);

    // A client that reads gets the whole log, in order, past the stalled ones.
    const response = await fetch(`${served.url}/v1/sessions/${id}/stream`, {
      headers: { authorization: `Bearer ${key}` },
    });
    const reader = bodyReader(response);
    const decoder = new TextDecoder();
    let text = '';
    const startedAt = Date.now();
    // Read as fast as it comes, until the last event's frame is whole (60 s at most).
    while (!(text.includes(`id: ${count}\n`) && text.endsWith('\n\n'))) {
      if (Date.now() - startedAt > 60_000)
        throw new Error('the reader did not get the whole log in 60 s');
      const chunk = await reader.read();
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    console.log(`the reading client got ${text.length} bytes in ${Date.now() - startedAt} ms`);
    await reader.cancel();
    const seqs = parseFrames(text)
      .filter((f) => f.id !== undefined)
      .map((f) => (JSON.parse(f.data ?? '') as StoredEvent).seq);
    expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });
});
