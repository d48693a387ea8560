import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { event, type SessionId, type SessionStore, type StoredEvent } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type ApiOptions } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { LogWriter, bodyReader, eventually, parseFrames, sqliteStore } from './test-support.ts';

/**
 * What an open stream may keep doing: not outlive its API key, and not read a large log faster
 * than its client reads the stream. Real HTTP on loopback.
 */
let store: SessionStore;
let drop: () => Promise<void>;
let admin: string;
const servers: ServedApi[] = [];
/** Events the store handed out through `readEvents`, counted by the store given to the API. */
let eventsRead = 0;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  admin = (await generateApiKey(store.apiKeys, 'acme', 'admin', 'admin')).key;
});
afterAll(async () => {
  for (const served of servers) await served.close();
  await drop();
});

/** The store, but counting the events it reads. */
function countingStore(): SessionStore {
  return new Proxy(store, {
    get(target, name) {
      // Bound to the store itself: its methods use private fields, which a proxy does not have.
      const value: unknown = Reflect.get(target, name, target);
      if (typeof value !== 'function') return value;
      if (name !== 'readEvents') return (value as (...a: unknown[]) => unknown).bind(target);
      return async (...args: Parameters<SessionStore['readEvents']>) => {
        const events = await store.readEvents(...args);
        eventsRead += events.length;
        return events;
      };
    },
  });
}

async function serve(options: Partial<ApiOptions> = {}): Promise<ServedApi> {
  const api = createApi({ store: countingStore(), auth: 'keys', pollMs: 5, ...options });
  const served = await serveApi(api, { port: 0 });
  servers.push(served);
  return served;
}

async function newSession(): Promise<{ id: SessionId; log: LogWriter }> {
  const record = await store.createSession({ tenantId: 'acme', agent: 'coder', input: 't' });
  return { id: record.id, log: await LogWriter.claim(store, record.id) };
}

/** Reads the response to its end; rejects when it has not ended within `withinMs`. */
async function readToEnd(response: Response, withinMs: number): Promise<string> {
  const reader = bodyReader(response);
  const decoder = new TextDecoder();
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), withinMs)));
  try {
    for (;;) {
      const chunk = await Promise.race([reader.read(), late]);
      if (chunk === 'late') throw new Error(`the stream did not end; got:\n${text.slice(-500)}`);
      if (chunk.done) return text;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
    await reader.cancel().catch(() => undefined);
  }
}

/** The body of a chunked HTTP/1.1 response (latin1 text), as far as its chunks arrived whole. */
function unchunk(raw: string): string {
  let body = '';
  for (let at = 0; at < raw.length;) {
    const lineEnd = raw.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(raw.slice(at, lineEnd), 16);
    if (!(size > 0) || lineEnd + 2 + size > raw.length) break;
    body += raw.slice(lineEnd + 2, lineEnd + 2 + size);
    at = lineEnd + 2 + size + 2;
  }
  return body;
}

async function revoke(served: ServedApi, key: string): Promise<void> {
  const keyId = key.split('_')[1] ?? '';
  const response = await fetch(`${served.url}/v1/keys/${keyId}/revoke`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
    body: '{}',
  });
  expect(response.status).toBe(200);
}

describe('a stream opened with an API key that is then revoked', () => {
  /** Opens a viewer key's stream, revokes the key, appends a secret: the stream must end first. */
  async function revokedWhileStreaming(
    served: ServedApi,
    revokeKey: (key: string) => Promise<void>,
  ): Promise<void> {
    const viewer = (await generateApiKey(store.apiKeys, 'acme', 'victim', 'viewer')).key;
    const { id, log } = await newSession();
    const response = await fetch(`${served.url}/v1/sessions/${id}/stream?access_token=${viewer}`);
    expect(response.status).toBe(200);
    const reader = bodyReader(response);
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain('event: session.state');
    reader.releaseLock();
    await revokeKey(viewer);
    await log.append([event('model.streamed', { step: 1, attempt: 1, text: 'CONFIDENTIAL' })]);
    const rest = await readToEnd(response, 5_000);
    expect(rest).not.toContain('CONFIDENTIAL');
  }

  it('ends before sending anything more, when revoked through this server', async () => {
    // A lookup interval longer than the test: the revocation itself must reach the stream.
    const served = await serve({ keyCheckMs: 60_000 });
    await revokedWhileStreaming(served, (key) => revoke(served, key));
  });

  it('ends before sending anything more than keyCheckMs after, when revoked elsewhere', async () => {
    // Another process (`longrun keys revoke`, another API node) revokes it in the store; with
    // keyCheckMs 0 every frame is preceded by a lookup.
    const served = await serve({ keyCheckMs: 0 });
    await revokedWhileStreaming(served, (key) => store.apiKeys.revoke(key.split('_')[1] ?? ''));
  });

  it('ends while idle too, at its next keepalive', async () => {
    const served = await serve({ keyCheckMs: 50, heartbeatMs: 50 });
    const viewer = (await generateApiKey(store.apiKeys, 'acme', 'idle', 'viewer')).key;
    const { id } = await newSession();
    const response = await fetch(`${served.url}/v1/sessions/${id}/stream?access_token=${viewer}`);
    expect(response.status).toBe(200);
    await revoke(served, viewer);
    const text = await readToEnd(response, 5_000);
    expect(text).toContain('event: session.state');
  });
});

describe('catching up on a large log', () => {
  const big = 'x'.repeat(256 * 1024);
  const added = 200; // 50 MB of events
  let id: SessionId;
  let count = 0; // the log's events: session.created and those added

  beforeAll(async () => {
    const session = await newSession();
    id = session.id;
    for (let i = 0; i < added; i += 10)
      await session.log.append(
        Array.from({ length: 10 }, () =>
          event('model.streamed', { step: 1, attempt: 1, text: big }),
        ),
      );
    count = session.log.head;
  });

  it('reads the log no faster than the client reads the stream, then delivers all of it', async () => {
    const served = await serve();
    // The session's view (folded once from the whole log, then cached) is not what is measured.
    const view = await fetch(`${served.url}/v1/sessions/${id}`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    expect(view.status).toBe(200);
    const socket = connect(served.port, '127.0.0.1');
    await new Promise((r) => socket.once('connect', r));
    socket.pause(); // reads nothing: the kernel's buffers fill, then the server must wait
    eventsRead = 0;
    socket.write(
      `GET /v1/sessions/${id}/stream?after=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${admin}\r\n\r\n`,
    );
    // Wait until the store reads stop (the stream waits for its client), at most 10 s.
    let last = -1;
    await eventually(
      () => {
        const settled = eventsRead > 0 && eventsRead === last;
        last = eventsRead;
        return settled ? true : null;
      },
      10_000,
      300,
    );
    console.log(`catch-up: ${eventsRead} of ${count} events read while the client read nothing`);
    // What the kernel's socket buffers hold (a few MB: ~25 events) and about 1 MiB more; an
    // earlier server read 500 events a page, here all 200 (50 MB) at once.
    expect(eventsRead).toBeLessThan(count / 2);
    // The client reads now: it gets every event, in order.
    let received = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.resume();
    const seqs = (): number[] =>
      parseFrames(unchunk(received.slice(received.indexOf('\r\n\r\n') + 4)))
        .filter((f) => f.id !== undefined)
        .map((f) => (JSON.parse(f.data ?? '') as StoredEvent).seq);
    await eventually(() => (received.includes(`id: ${count}\n`) ? true : null), 20_000);
    await eventually(() => (seqs().length === count ? true : null));
    socket.destroy();
    expect(seqs()).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });

  it('pages GET …/events by size as well as count', async () => {
    const served = await serve();
    const seqs: number[] = [];
    let after = 0;
    for (let page = 0; page <= count; page++) {
      const response = await fetch(
        `${served.url}/v1/sessions/${id}/events?after=${after}&limit=1000`,
        {
          headers: { authorization: `Bearer ${admin}` },
        },
      );
      const text = await response.text();
      expect(text.length).toBeLessThan(1024 * 1024 + big.length * 2);
      const body = JSON.parse(text) as { events: StoredEvent[]; next: number | null };
      seqs.push(...body.events.map((e) => e.seq));
      if (body.next === null) break;
      after = body.next;
    }
    expect(seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });
});
