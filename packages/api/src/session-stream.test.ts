import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  event,
  sessionId,
  type SessionId,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api, type ApiOptions } from './create-api.ts';
import { InProcessLiveDeltas, type LiveDelta } from './live-deltas.ts';
import type { SessionViewData } from './schemas.ts';
import { serveApi } from './serve-api.ts';
import {
  LogWriter,
  bodyReader,
  call,
  eventually,
  parseFrames,
  readStream,
  sqliteStore,
} from './test-support.ts';

let store: SessionStore;
let drop: () => Promise<void>;
let key: string;
const apis: Api[] = [];

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  key = (await generateApiKey(store.apiKeys, 'acme', 'stream', 'admin')).key;
});
afterAll(async () => {
  for (const api of apis) api.close();
  await drop();
});

function newApi(options: Partial<ApiOptions> = {}): Api {
  const api = createApi({ store, auth: 'keys', ...options });
  apis.push(api);
  return api;
}

/** Small seeded PRNG (mulberry32), so a failing run reproduces from its printed seed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function newSession(): Promise<{ id: SessionId; log: LogWriter }> {
  const record = await store.createSession({
    tenantId: 'acme',
    agent: 'coder',
    input: { task: 't' },
  });
  return { id: record.id, log: await LogWriter.claim(store, record.id) };
}

function open(api: Api, id: string, query = '', headers: Record<string, string> = {}) {
  return api.fetch(
    new Request(`http://127.0.0.1/v1/sessions/${id}/stream${query}`, {
      headers: { authorization: `Bearer ${key}`, ...headers },
    }),
  );
}

/** The store reads the API's streams made over about `ms`, and the window's real length. */
async function readsDuring(api: Api, ms: number): Promise<{ reads: number; windowMs: number }> {
  const before = api.stats().reads;
  const startedAt = Date.now();
  await new Promise((r) => setTimeout(r, ms));
  return { reads: api.stats().reads - before, windowMs: Date.now() - startedAt };
}

const streamed = (i: number) => event('model.streamed', { step: 1, attempt: 1, text: `tok${i} ` });

describe('the session stream', () => {
  it('frames retry, state, then every event, byte for byte, and ends after a terminal event with follow=false', async () => {
    const api = newApi();
    const { id, log } = await newSession();
    await log.append([streamed(1), streamed(2)]);
    await log.append([event('session.completed', { output: 'done' })], {
      status: { status: 'completed' },
      releaseLease: true,
    });
    const response = await open(api, id, '?follow=false');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
    const text = await readStream(response, () => false, 10_000).catch((e: Error) => e.message);
    const view = (
      await call<{ session: SessionViewData }>(api, 'GET', `/v1/sessions/${id}`, { key })
    ).body.session;
    const events = await store.readEvents(id, 0, 100);
    const expected =
      'retry: 1000\n\n' +
      `event: session.state\ndata: ${JSON.stringify(view)}\n\n` +
      events.map((e) => `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join('');
    expect(text).toBe(expected);
  });

  it('resumes exactly after Last-Event-ID (or ?after=) at random points', async () => {
    const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 1_000_000);
    console.log(`stream resume seed: ${seed} (LONGRUN_SEED=${seed} reproduces)`);
    const random = seeded(seed);
    const api = newApi();
    const { id, log } = await newSession();
    for (let i = 0; i < 60; i++) await log.append([streamed(i)]);
    await log.append([event('session.failed', { code: 'INTERNAL', message: 'stop' })], {
      status: { status: 'failed' },
      releaseLease: true,
    });
    const head = log.head;
    for (let trial = 0; trial < 25; trial++) {
      const after = Math.floor(random() * (head + 1));
      const useHeader = random() < 0.5;
      const response = useHeader
        ? await open(api, id, '?follow=false&after=0', { 'last-event-id': String(after) })
        : await open(api, id, `?follow=false&after=${after}`);
      const frames = parseFrames(await readStream(response, () => false));
      const seqs = frames.filter((f) => f.id !== undefined).map((f) => Number(f.id));
      expect(seqs, `after ${after}`).toEqual(
        Array.from({ length: head - after }, (_, i) => after + 1 + i),
      );
      for (const f of frames.filter((f) => f.id !== undefined))
        expect((JSON.parse(f.data ?? '') as StoredEvent).seq).toBe(Number(f.id));
    }
  });

  it('a reader that disconnects at random points and resumes gets every event once while the log grows', async () => {
    const seed = Number(process.env.LONGRUN_SEED ?? (Date.now() + 7) % 1_000_000);
    console.log(`live resume seed: ${seed}`);
    const random = seeded(seed);
    const api = newApi({ pollMs: 5 });
    const { id, log } = await newSession();
    const total = 80;
    const writing = (async () => {
      for (let i = 0; i < total; i++) {
        await log.append([streamed(i)]);
        if (random() < 0.3) await new Promise((r) => setTimeout(r, 2));
      }
      await log.append([event('session.completed', { output: 'ok' })], {
        status: { status: 'completed' },
        releaseLease: true,
      });
    })();
    const received: number[] = [];
    let last = 0;
    for (let connection = 0; connection < 200; connection++) {
      const stopAfter = 1 + Math.floor(random() * 15);
      const response = await open(api, id, '?follow=false', { 'last-event-id': String(last) });
      const text = await readStream(
        response,
        (t) => (t.match(/\nid: /g) ?? []).length + (t.startsWith('id: ') ? 1 : 0) >= stopAfter,
      );
      for (const f of parseFrames(text)) {
        if (f.id === undefined) continue;
        expect((JSON.parse(f.data ?? '') as StoredEvent).seq).toBe(Number(f.id));
        received.push(Number(f.id));
        last = Number(f.id);
      }
      if (received.includes(total + 2)) break;
    }
    await writing;
    expect(received).toEqual(Array.from({ length: total + 2 }, (_, i) => i + 1));
  });

  it('sends the state before any token, then live deltas at their offsets', async () => {
    const live = new InProcessLiveDeltas();
    const api = newApi({ live });
    const { id, log } = await newSession();
    await log.append([
      event('model.requested', { step: 1, attempt: 1, modelId: 'm', transcriptSeq: 1 }),
    ]);
    live.textDeltaAt(id, 1, 1, 0, 'Hello');
    live.textDeltaAt(id, 1, 1, 5, ', wor');
    const response = await open(api, id);
    const reading = readStream(response, (t) => t.includes('"offset":12'));
    await eventually(() => (api.stats().subscribers === 1 ? true : undefined));
    live.textDeltaAt(id, 1, 1, 10, 'ld');
    live.textDeltaAt(id, 1, 1, 12, '!!');
    const frames = parseFrames(await reading);
    expect(frames[0]).toEqual({ retry: '1000' });
    expect(frames[1]?.event).toBe('session.state');
    const deltas = frames
      .filter((f) => f.event === 'model.delta')
      .map((f) => JSON.parse(f.data ?? '') as LiveDelta);
    expect(deltas).toEqual([
      { step: 1, attempt: 1, offset: 0, text: 'Hello, wor' },
      { step: 1, attempt: 1, offset: 10, text: 'ld' },
      { step: 1, attempt: 1, offset: 12, text: '!!' },
    ]);
    expect(frames.filter((f) => f.event === 'model.delta').every((f) => f.id === undefined)).toBe(
      true,
    );
    // The attempt ends in the log (a committed note naming its step): no stale text is kept.
    live.endAttempt(id, 1);
    expect(live.attemptsInProgress).toBe(0);
  });

  it('sends a state frame when the status changes', async () => {
    const api = newApi({ pollMs: 5 });
    const { id, log } = await newSession();
    const response = await open(api, id);
    const reading = readStream(response, (t) => t.includes('"status":"waiting"'));
    await eventually(() => (api.stats().subscribers === 1 ? true : undefined));
    await log.append([event('wait.started', { waitId: 'w', kind: 'timer', untilMs: 1 })], {
      status: { status: 'waiting', wakeAtMs: Date.now() + 60_000, reason: 'a timer' },
      releaseLease: true,
    });
    const states = parseFrames(await reading)
      .filter((f) => f.event === 'session.state')
      .map((f) => (JSON.parse(f.data ?? '') as SessionViewData).status);
    expect(states[0]).toBe('running');
    expect(states.at(-1)).toBe('waiting');
  });

  it('has one store reader per session however many clients, and cleans up when they leave', async () => {
    const api = newApi({ pollMs: 25 });
    const { id, log } = await newSession();
    const readers = Array.from({ length: 20 }, async () =>
      readStream(await open(api, id), (t) => t.includes('"text":"tok7 "')),
    );
    await eventually(() => (api.stats().subscribers === 20 ? true : undefined));
    expect(api.stats().feeds).toBe(1);
    const { reads, windowMs } = await readsDuring(api, 300);
    // 20 independent readers would make ~20× this many.
    expect(reads).toBeLessThanOrEqual(Math.ceil(windowMs / 25) + 5);
    await log.append([streamed(7)]);
    const texts = await Promise.all(readers);
    expect(texts.every((t) => t.includes('"seq":2'))).toBe(true);
    await eventually(() => (api.stats().feeds === 0 ? true : undefined));
    const session = await store.getSession(id);
    expect(session.status).toBe('running');
    expect(await store.pendingSignals(id, 'cancel')).toEqual([]);
  });

  it('watches 50 idle sessions with one store read per poll, and still delivers the one that moves', async () => {
    const api = newApi({ pollMs: 25 });
    const sessions = await Promise.all(Array.from({ length: 50 }, () => newSession()));
    const texts = sessions.map(async ({ id }, i) =>
      readStream(await open(api, id), (t) =>
        i === 17 ? t.includes('"text":"tok3 "') : t.includes('"status":"completed"'),
      ),
    );
    await eventually(() => (api.stats().subscribers === 50 ? true : undefined));
    // Every feed's first catch-up is done: the reads settle to the hub's one per poll.
    await eventually(async () => ((await readsDuring(api, 100)).reads <= 6 ? true : undefined));
    const { reads, windowMs } = await readsDuring(api, 500);
    // One reader per session would make 50× this many.
    expect(reads).toBeLessThanOrEqual(Math.ceil(windowMs / 25) + 5);
    const moving = sessions[17];
    if (moving === undefined) throw new Error('no session 17');
    await moving.log.append([streamed(3)]);
    expect(await texts[17]).toContain('id: 2\n');
    for (const { log } of sessions.filter((_, i) => i !== 17))
      await log.append([event('session.completed', { output: null })], {
        status: { status: 'completed' },
        releaseLease: true,
      });
    const rest = await Promise.all(texts.filter((_, i) => i !== 17));
    expect(rest.every((t) => t.includes('event: session.state'))).toBe(true);
  });

  it('wakes at once when this process appended, without waiting for the poll', async () => {
    const api = newApi({ pollMs: 60_000 });
    const { id, log } = await newSession();
    const reading = readStream(await open(api, id), (t) => t.includes('"seq":2'), 5_000);
    await eventually(() => (api.stats().subscribers === 1 ? true : undefined));
    await new Promise((r) => setTimeout(r, 50)); // the feed's first read is done; it now sleeps
    await log.append([streamed(1)]);
    api.appended(id);
    expect(await reading).toContain('id: 2\n');
  });

  it('drops a reader that falls too far behind, and keeps the stream open with keepalives otherwise', async () => {
    const api = newApi({ pollMs: 5, mailboxCapacity: 8, heartbeatMs: 30 });
    const { id, log } = await newSession();
    const response = await open(api, id);
    const reader = bodyReader(response);
    await reader.read(); // retry + state
    await eventually(() => (api.stats().subscribers === 1 ? true : undefined));
    for (let i = 0; i < 40; i++) await log.append([streamed(i)]);
    await eventually(() => (api.stats().subscribers === 0 ? true : undefined));
    // Dropped: the stream ends by itself (the client reconnects with Last-Event-ID); what it got
    // before the end is a gap-free prefix of the log.
    let text = '';
    let ended = false;
    for (let i = 0; i < 1_000 && !ended; i++) {
      const chunk = await reader.read();
      if (chunk.done) ended = true;
      else text += new TextDecoder().decode(chunk.value);
    }
    expect(ended).toBe(true);
    const seqs = parseFrames(text).flatMap((f) => (f.id === undefined ? [] : [Number(f.id)]));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    // An idle reader that keeps up stays connected, with keepalive comments.
    const idle = await readStream(
      await open(api, id, '', { 'last-event-id': String(log.head) }),
      (t) => t.includes(': keepalive\n\n'),
    );
    expect(idle).toContain(': keepalive\n\n');
  });

  it('takes the key as access_token on the stream only; refuses a bad Last-Event-ID', async () => {
    const api = newApi();
    const { id } = await newSession();
    const viaQuery = await api.fetch(
      new Request(`http://127.0.0.1/v1/sessions/${id}/stream?access_token=${key}`),
    );
    expect(viaQuery.status).toBe(200);
    await viaQuery.body?.cancel();
    expect((await call(api, 'GET', `/v1/sessions/${id}?access_token=${key}`)).status).toBe(401);
    const bad = await open(api, id, '', { 'last-event-id': 'abc' });
    expect(bad.status).toBe(400);
    const head = await api.fetch(
      new Request(`http://127.0.0.1/v1/sessions/${id}/stream`, {
        method: 'HEAD',
        headers: { authorization: `Bearer ${key}` },
      }),
    );
    expect(head.status).toBe(200);
    expect(api.stats().subscribers).toBe(0);
  });

  it('streams over real HTTP, and a client that goes away is unsubscribed', async () => {
    const api = newApi({ pollMs: 5 });
    const served = await serveApi(api, { port: 0 });
    try {
      const { id, log } = await newSession();
      const controller = new AbortController();
      const response = await fetch(`${served.url}/v1/sessions/${id}/stream`, {
        headers: { authorization: `Bearer ${key}` },
        signal: controller.signal,
      });
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8');
      const reader = bodyReader(response);
      let text = '';
      await log.append([streamed(1)]);
      for (let i = 0; i < 50 && !text.includes('id: 2\n'); i++)
        text += new TextDecoder().decode((await reader.read()).value);
      expect(text.startsWith('retry: 1000\n\nevent: session.state\n')).toBe(true);
      expect(api.stats().subscribers).toBe(1);
      controller.abort();
      await eventually(() => (api.stats().subscribers === 0 ? true : undefined));
      expect((await store.getSession(sessionId(id))).status).toBe('running');
    } finally {
      await served.close();
    }
  });

  it('respects backpressure over a real socket: a client that stops reading is dropped, not buffered', async () => {
    const api = newApi({ pollMs: 5, mailboxCapacity: 16 });
    const served = await serveApi(api, { port: 0 });
    try {
      const { id, log } = await newSession();
      const socket = connect(served.port, '127.0.0.1');
      await new Promise((r) => socket.once('connect', r));
      socket.write(
        `GET /v1/sessions/${id}/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${key}\r\n\r\n`,
      );
      socket.pause(); // reads nothing more: the kernel buffers fill, then the server must wait
      await eventually(() => (api.stats().subscribers === 1 ? true : undefined));
      const big = 'x'.repeat(64 * 1024);
      for (let i = 0; i < 200 && api.stats().subscribers > 0; i++)
        await log.append([event('model.streamed', { step: 1, attempt: 1, text: big })]);
      await eventually(() => (api.stats().subscribers === 0 ? true : undefined));
      socket.destroy();
    } finally {
      await served.close();
    }
  });
});
