import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { createApi, generateApiKey, serveApi } from '@longrun/api';
import { LivePublisher } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import {
  event,
  workerId,
  type SessionId,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import type { StoreTarget } from '../store-targets.ts';
import { round, summary } from './stats.ts';

/**
 * The HTTP API under load, over real HTTP on 127.0.0.1:
 * - sessions created per second (POST /v1/sessions, 16 at a time, with an API key);
 * - live delivery latency of an event appended through the store under a lease (the time of
 *   its commit recorded by the appender) to 100 SSE readers of the same session: with the
 *   server in another process, which finds the event by polling the log (`pollMs` 25); on
 *   Postgres also with the appender publishing each commit on the live channel (NOTIFY, what
 *   `longrun worker` does); and with the server in the appender's process, told at once by
 *   `api.appended()` (what `longrun dev` does);
 * - the server's memory with 1,000 idle SSE readers (the server alone in a child process);
 * - the server's store reads per second and CPU while 500 sessions that do not move are watched.
 * The readers all run in this process, so their own parsing is in the latency figures.
 */
const serverEntry = fileURLToPath(new URL('./api-bench-server.ts', import.meta.url));

interface Server {
  child: ChildProcess;
  url: string;
  request<T>(message: string): Promise<T>;
  stop(): Promise<void>;
}

async function startServer(storeUrl: string): Promise<Server> {
  const child = fork(serverEntry, [storeUrl, 'keys'], {
    execArgv: ['--expose-gc'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  const [first] = (await once(child, 'message')) as [{ url: string }];
  return {
    child,
    url: first.url,
    async request<T>(message: string) {
      child.send(message);
      return ((await once(child, 'message')) as [T])[0];
    },
    async stop() {
      child.send('stop');
      await once(child, 'exit');
    },
  };
}

async function measureCreates(url: string, key: string, total: number, concurrency: number) {
  let next = 0;
  const startedAt = performance.now();
  const post = async (): Promise<void> => {
    while (next < total) {
      next++;
      const r = await fetch(`${url}/v1/sessions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'bench', message: `task ${next}` }),
      });
      if (r.status !== 201) throw new Error(`create answered ${r.status}: ${await r.text()}`);
      await r.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, post));
  const seconds = (performance.now() - startedAt) / 1000;
  return { sessions: total, concurrency, sessionsPerSecond: round(total / seconds, 0) };
}

interface Reader {
  abort(): void;
  /** Resolves once the first chunk (retry + state) arrived. */
  connected: Promise<void>;
}

/** An SSE reader that calls `onText` for each `bench:<n>` token in the events it receives. */
function openReader(url: string, key: string, onToken: (n: number) => void): Reader {
  const controller = new AbortController();
  let connectedResolve: () => void = () => undefined;
  const connected = new Promise<void>((r) => (connectedResolve = r));
  void (async () => {
    const response = await fetch(url, {
      headers: { authorization: `Bearer ${key}` },
      signal: controller.signal,
    });
    if (response.body === null) return;
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    let carry = '';
    for (;;) {
      const chunk = await reader.read();
      if (chunk.done) return;
      connectedResolve();
      carry += decoder.decode(chunk.value, { stream: true });
      const cut = carry.lastIndexOf('\n\n');
      if (cut < 0) continue;
      for (const m of carry.slice(0, cut).matchAll(/"text":"bench:(\d+)"/g)) onToken(Number(m[1]));
      carry = carry.slice(cut + 2);
    }
  })().catch(() => undefined);
  return { abort: () => controller.abort(), connected };
}

async function claimed(store: SessionStore, tenantId: string) {
  const session = await store.createSession({ tenantId, agent: 'bench', input: 'live' });
  const lease = await store.claim(session.id, workerId('api-bench-appender'), 600_000);
  if (lease === null) throw new Error('could not claim the bench session');
  return { id: session.id, lease };
}

/**
 * Appends `events` tokens at `perSecond` and returns each reader's latency from the commit of
 * an event to its arrival. `notify` is called after each commit (the in-process wake-up).
 */
async function measureDelivery(
  store: SessionStore,
  streamUrl: (id: SessionId) => string,
  key: string,
  tenantId: string,
  options: {
    readers: number;
    events: number;
    perSecond: number;
    notify?: (id: SessionId) => void;
    notifyEvents?: (events: StoredEvent[]) => void;
  },
) {
  const { id, lease } = await claimed(store, tenantId);
  const committedAt = new Map<number, number>();
  const latencies: number[] = [];
  let received = 0;
  const readers = Array.from({ length: options.readers }, () =>
    openReader(streamUrl(id), key, (n) => {
      received++;
      const at = committedAt.get(n);
      if (at !== undefined) latencies.push(performance.now() - at);
    }),
  );
  await Promise.all(readers.map((r) => r.connected));
  let head = lease.headSeq;
  const startedAt = performance.now();
  for (let n = 0; n < options.events; n++) {
    const due = startedAt + (n * 1000) / options.perSecond;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const appended = event('model.streamed', { step: 1, attempt: 1, text: `bench:${n}` });
    const result = await store.append({ fence: lease, expectedSeq: head, events: [appended] });
    committedAt.set(n, performance.now());
    head = result.headSeq;
    options.notify?.(id);
    // What a worker's events.committed subscribers are handed: the events just committed.
    const committed = {
      ...appended,
      sessionId: id,
      seq: head,
      v: 1,
      atMs: result.atMs,
      epoch: lease.epoch,
    };
    options.notifyEvents?.([committed]);
  }
  const expected = options.readers * options.events;
  const deadline = performance.now() + 30_000;
  while (received < expected && performance.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  for (const r of readers) r.abort();
  return {
    readers: options.readers,
    events: options.events,
    eventsPerSecond: options.perSecond,
    delivered: received,
    expected,
    fromCommitMs: summary(latencies),
  };
}

async function idleReaders(server: Server, key: string, store: SessionStore, count: number) {
  const { id } = await claimed(store, 'bench');
  type Report = { memory: Record<string, number>; stats: Record<string, number> };
  const before = await server.request<Report>('memory');
  const readers: Reader[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch = Array.from({ length: Math.min(100, count - i) }, () =>
      openReader(`${server.url}/v1/sessions/${id}/stream`, key, () => undefined),
    );
    await Promise.all(batch.map((r) => r.connected));
    readers.push(...batch);
  }
  const during = await server.request<Report>('memory');
  for (const r of readers) r.abort();
  const mb = (bytes: number | undefined) => round((bytes ?? 0) / 1024 / 1024, 1);
  return {
    readers: count,
    subscribers: during.stats.subscribers,
    feeds: during.stats.feeds,
    rssMb: { before: mb(before.memory.rss), with: mb(during.memory.rss) },
    heapUsedMb: { before: mb(before.memory.heapUsed), with: mb(during.memory.heapUsed) },
    rssKbPerReader: round(((during.memory.rss ?? 0) - (before.memory.rss ?? 0)) / 1024 / count, 1),
    heapKbPerReader: round(
      ((during.memory.heapUsed ?? 0) - (before.memory.heapUsed ?? 0)) / 1024 / count,
      1,
    ),
  };
}

/**
 * One reader on each of `count` sessions that do not move: the server's store reads per second
 * and its CPU while it watches them (one read of all their records per poll, not one per session).
 */
async function idleSessions(server: Server, key: string, store: SessionStore, count: number) {
  type Report = { cpuUs: number; atMs: number; stats: Record<string, number> };
  const readers: Reader[] = [];
  for (let i = 0; i < count; i += 100) {
    const batch: Reader[] = [];
    for (let j = i; j < Math.min(count, i + 100); j++) {
      const { id } = await claimed(store, 'bench');
      batch.push(openReader(`${server.url}/v1/sessions/${id}/stream`, key, () => undefined));
    }
    await Promise.all(batch.map((r) => r.connected));
    readers.push(...batch);
  }
  await new Promise((r) => setTimeout(r, 500)); // first catch-ups done
  const before = await server.request<Report>('memory');
  await new Promise((r) => setTimeout(r, 3_000));
  const after = await server.request<Report>('memory');
  for (const r of readers) r.abort();
  const seconds = (after.atMs - before.atMs) / 1_000;
  return {
    sessions: count,
    feeds: after.stats.feeds,
    storeReadsPerSecond: round(((after.stats.reads ?? 0) - (before.stats.reads ?? 0)) / seconds, 1),
    serverCpuPercent: round(((after.cpuUs - before.cpuUs) / 1_000 / (seconds * 1_000)) * 100, 1),
  };
}

/**
 * One bench key reads up to 1,000 streams at once (idle readers): past the default caps of 64 per
 * key and 256 per tenant, which bound what one tenant may hold on a shared server.
 */
const benchStreamLimits = { maxPerKey: 1_536, maxPerTenant: 1_536 };

export async function measureApi(
  make: () => Promise<StoreTarget>,
  options: { quick: boolean; memory: boolean },
) {
  const target = await make();
  const store = await openStore(target.url);
  const server = await startServer(target.url);
  try {
    const { key } = await generateApiKey(store.apiKeys, 'bench', 'bench', 'admin');
    const creates = await measureCreates(server.url, key, options.quick ? 300 : 2_000, 16);
    const live = { readers: 100, events: options.quick ? 100 : 300, perSecond: 50 };
    const crossProcess = await measureDelivery(
      store,
      (id) => `${server.url}/v1/sessions/${id}/stream`,
      key,
      'bench',
      live,
    );
    let otherProcessNotified: Awaited<ReturnType<typeof measureDelivery>> | undefined;
    const channel = store.liveChannel?.();
    if (channel !== undefined) {
      const publisher = new LivePublisher(channel);
      otherProcessNotified = await measureDelivery(
        store,
        (id) => `${server.url}/v1/sessions/${id}/stream`,
        key,
        'bench',
        { ...live, notifyEvents: (events) => publisher.appended(events) },
      );
      publisher.flush();
    }
    const api = createApi({ store, auth: 'keys', pollMs: 25, streamLimits: benchStreamLimits });
    const local = await serveApi(api, { port: 0 });
    const inProcess = await measureDelivery(
      store,
      (id) => `${local.url}/v1/sessions/${id}/stream`,
      key,
      'bench',
      { ...live, notify: (id) => api.appended(id) },
    );
    await local.close();
    return {
      creates,
      liveDelivery: {
        otherProcessPolling: crossProcess,
        ...(otherProcessNotified === undefined ? {} : { otherProcessNotified }),
        sameProcessNotified: inProcess,
      },
      ...(options.memory
        ? { idleReaders: await idleReaders(server, key, store, options.quick ? 300 : 1_000) }
        : {}),
      idleSessions: await idleSessions(server, key, store, options.quick ? 100 : 500),
    };
  } finally {
    await server.stop();
    await store.close();
    await target.drop();
  }
}
