import { afterAll, beforeAll, expect, it } from 'vitest';
import { event, type SessionId, type SessionStore } from '@longrun/core';
import { SessionViews } from './session-views.ts';
import { LogWriter, sqliteStore } from './test-support.ts';

let store: SessionStore;
let drop: () => Promise<void>;
beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
});
afterAll(async () => drop());

const responded = (step: number) =>
  event('model.responded', {
    step,
    text: '',
    toolCalls: [],
    usage: { inputTokens: 10, outputTokens: 1 },
  });

it('folds each session once however many views are asked for at once, and only the new tail after', async () => {
  const session = await store.createSession({ agent: 'a', input: null });
  const log = await LogWriter.claim(store, session.id);
  for (let step = 1; step <= 30; step++) await log.append([responded(step)]);
  let reads = 0;
  // While set, a read answers only once the gate opens (the read itself is done at once).
  let gate: Promise<void> | null = null;
  const counting = new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (prop !== 'readEvents' || typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        reads++;
        const read = (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        const held = gate;
        const result = await read;
        await held;
        return result;
      };
    },
  });
  const views = new SessionViews(counting, { maxEntries: 2 });
  const record = await store.getSession(session.id);
  const all = await Promise.all(Array.from({ length: 50 }, () => views.view(record)));
  expect(new Set(all.map((v) => JSON.stringify(v))).size).toBe(1);
  expect(all[0]).toMatchObject({ steps: 30, tokens: { input: 300, output: 30 } });
  expect(reads).toBe(1);

  // A fold for the current head is still running when views for a newer head are asked for:
  // they wait for it, then exactly one of them folds the rest (two would apply it twice).
  views.clear();
  let open: () => void = () => undefined;
  gate = new Promise((resolve) => (open = resolve));
  const older = views.view(record);
  gate = null;
  await log.append([responded(31)]);
  const newer = await store.getSession(session.id);
  const again = Promise.all(Array.from({ length: 20 }, () => views.view(newer)));
  open();
  expect((await older).steps).toBe(30);
  expect((await again).every((v) => v.steps === 31)).toBe(true);
  expect(reads).toBe(3);

  // Bounded: other sessions push this one out of a two-entry cache.
  for (let i = 0; i < 3; i++)
    await views.view(await store.createSession({ agent: 'a', input: null }));
  expect(views.cachedSessions).toBe(2);
});

it('keeps its cache within a byte bound however many sessions it shows, and shows evicted ones again', async () => {
  const views = new SessionViews(store, { maxBytes: 64 * 1024 });
  const ids: SessionId[] = [];
  for (let i = 0; i < 60; i++) {
    const session = await store.createSession({
      agent: 'a',
      input: { task: `task ${i} ${'x'.repeat(500)}` },
    });
    const log = await LogWriter.claim(store, session.id);
    for (let step = 1; step <= 5; step++) await log.append([responded(step)]);
    ids.push(session.id);
    await views.view(await store.getSession(session.id));
    expect(views.cachedBytes).toBeLessThanOrEqual(64 * 1024);
  }
  // Each summary is some kB: far fewer than 60 stay.
  expect(views.cachedSessions).toBeGreaterThan(2);
  expect(views.cachedSessions).toBeLessThan(60);
  // The first one was pushed out; viewed again, it is folded again, whole.
  const first = await views.view(await store.getSession(ids[0]!));
  expect(first).toMatchObject({ steps: 5, tokens: { input: 50, output: 5 } });
  expect(first.task).toMatch(/^task 0 x+/);
});
