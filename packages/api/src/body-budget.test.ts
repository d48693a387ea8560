import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { eventually, sqliteStore } from './test-support.ts';

/**
 * Webhook deliveries carry no API key: their token is checked once the body is read. Slow
 * senders that each declare a body of the route's limit (256 KiB) and send it a byte at a time
 * held memory in proportion to their number (1,500 of them: 576 MB). Real HTTP on loopback, with
 * a budget of 1 MiB: four such senders fill it.
 */
let store: SessionStore;
let drop: () => Promise<void>;
let served: ServedApi;
let key: string;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  served = await serveApi(
    createApi({ store, auth: 'keys', unauthenticatedBodyBytes: 1024 * 1024 }),
    { port: 0 },
  );
  key = (await generateApiKey(store.apiKeys, 'tenant-a', 'ci', 'operator')).key;
});
afterAll(async () => {
  await served.close();
  await drop();
});

const hookPath = `/v1/hooks/${'a'.repeat(43)}`;

/** A delivery that declares a 256 KiB body and sends 1 KiB of it, then nothing. */
async function slowDelivery(): Promise<Socket> {
  const socket = connect(served.port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  socket.on('error', () => undefined);
  socket.write(
    `POST ${hookPath} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${256 * 1024}\r\n\r\n`,
  );
  socket.write(`"${'x'.repeat(1023)}`);
  return socket;
}

const deliver = () =>
  fetch(`${served.url}${hookPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ok: true }),
  });

describe('the bodies of callers without an API key', () => {
  it('are bounded in bytes in flight: past the budget a delivery gets 503 at once, unread', async () => {
    // Under the budget, an unknown token is read and answered 404.
    expect((await deliver()).status).toBe(404);
    const slow = await Promise.all(Array.from({ length: 4 }, () => slowDelivery()));
    // Once the four are being read, the budget is full.
    const refused = await eventually(async () => {
      const answer = await deliver();
      return answer.status === 503 ? answer : null;
    });
    expect(refused.headers.get('retry-after')).toBe('1');
    const { error } = (await refused.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('SERVER_BUSY');
    expect(error.message).toMatch(/try again shortly/);
    // A caller with a key is not counted: its requests go on.
    const listed = await fetch(`${served.url}/v1/sessions`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(listed.status).toBe(200);
    // A sender that gives up gives its share back.
    slow[0]?.destroy();
    await eventually(async () => ((await deliver()).status === 404 ? true : null));
    for (const socket of slow) socket.destroy();
  });
});
