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

    // A client that reads gets the whole log, in order, past the stalled ones: as a client
    // should, it resumes with Last-Event-ID when its stream ends early. It too may be taken for
    // stalled and ended to make room (on a loaded machine, 200 ms without a pull), and that
    // costs it nothing.
    const seqs: number[] = [];
    let bytes = 0;
    let resumes = 0;
    const startedAt = Date.now();
    while (seqs.at(-1) !== count) {
      if (Date.now() - startedAt > 60_000 || resumes > 50)
        throw new Error(`the reader got ${seqs.length} events in 60 s and ${resumes} resumes`);
      const last = seqs.at(-1);
      const response = await fetch(`${served.url}/v1/sessions/${id}/stream`, {
        headers: {
          authorization: `Bearer ${key}`,
          ...(last === undefined ? {} : { 'last-event-id': String(last) }),
        },
      });
      const reader = bodyReader(response);
      const decoder = new TextDecoder();
      let text = '';
      // Read as fast as it comes, until the last event's frame is whole or the stream ends.
      while (!(text.includes(`id: ${count}\n`) && text.endsWith('\n\n'))) {
        const chunk = await reader.read();
        if (chunk.done) break;
        text += decoder.decode(chunk.value, { stream: true });
      }
      await reader.cancel();
      bytes += text.length;
      // Whole frames only: an ended stream's last one may be cut.
      const whole = text.slice(0, text.lastIndexOf('\n\n') + 2);
      for (const frame of parseFrames(whole))
        if (frame.id !== undefined) seqs.push((JSON.parse(frame.data ?? '') as StoredEvent).seq);
      if (seqs.at(-1) !== count) resumes++;
    }
    console.log(
      `the reading client got ${bytes} bytes in ${Date.now() - startedAt} ms, resuming ${resumes} times`,
    );
    expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });
});
