import { afterAll, beforeAll, expect, it } from 'vitest';
import { sessionId, type SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import type { SessionViewData } from './schemas.ts';
import { searchSessions } from './session-search.ts';
import { SessionViews } from './session-views.ts';
import { call, sqliteStore } from './test-support.ts';

type ListBody = { sessions: SessionViewData[]; next: string | null };

let store: SessionStore;
let drop: () => Promise<void>;
let api: Api;
let key: string;
let otherKey: string;
/** Newest first, as the list shows them. */
const made: SessionViewData[] = [];

const tasks = [
  'Roll out API v2',
  'Fix the flaky login test',
  'roll back the cache',
  'Write the release notes',
  'ROLL OUT web',
];

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  api = createApi({ store, auth: 'keys', agents: ['coder', 'deployer'] });
  key = (await generateApiKey(store.apiKeys, 'acme', 'search', 'admin')).key;
  otherKey = (await generateApiKey(store.apiKeys, 'other', 'search', 'admin')).key;
  for (const [i, message] of tasks.entries()) {
    const agent = i % 2 === 0 ? 'deployer' : 'coder';
    const r = await call<{ session: SessionViewData }>(api, 'POST', '/v1/sessions', {
      key,
      body: { agent, message },
    });
    made.unshift(r.body.session);
  }
  // Another tenant's session with the same words is never found.
  await call(api, 'POST', '/v1/sessions', {
    key: otherKey,
    body: { agent: 'deployer', message: 'Roll out API v3' },
  });
});
afterAll(async () => {
  api.close();
  await drop();
});

/** Every session a query finds, following `next` page by page (at most 20 pages). */
async function all(query: string): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let after: string | null = null;
  let pages = 0;
  for (; pages < 20; pages++) {
    const path: string = `/v1/sessions?${query}${after === null ? '' : `&after=${after}`}`;
    const r = await call<ListBody>(api, 'GET', path, { key });
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    ids.push(...r.body.sessions.map((s) => s.id));
    after = r.body.next;
    if (after === null) return { ids, pages: pages + 1 };
  }
  throw new Error(`${query}: more than 20 pages`);
}

const idsWhere = (match: (s: SessionViewData) => boolean) => made.filter(match).map((s) => s.id);

it('shows each session with its task', async () => {
  const r = await call<ListBody>(api, 'GET', '/v1/sessions', { key });
  expect(r.body.sessions.map((s) => s.task)).toEqual(tasks.slice().reverse());
  const one = await call<{ session: SessionViewData }>(api, 'GET', `/v1/sessions/${made[0]!.id}`, {
    key,
  });
  expect(one.body.session.task).toBe('ROLL OUT web');
});

it('finds sessions by task text, case-insensitive, page by page, within the tenant', async () => {
  const rollOut = idsWhere((s) => /roll out/i.test(s.task ?? ''));
  expect(rollOut).toHaveLength(2);
  expect((await all('q=roll%20out&limit=1')).ids).toEqual(rollOut);
  expect((await all('q=ROLL&limit=2')).ids).toEqual(idsWhere((s) => /roll/i.test(s.task ?? '')));
  // With the store's own filters.
  expect((await all('q=roll&agent=deployer')).ids).toHaveLength(3);
  expect((await all('q=roll&agent=coder')).ids).toEqual([]);
  expect((await all('q=nothing%20like%20this')).ids).toEqual([]);
});

it('finds a session by a piece of its id', async () => {
  const target = made[2]!;
  const piece = target.id.slice(-10);
  expect((await all(`q=${piece}`)).ids).toEqual([target.id]);
  expect((await all(`q=${piece.toUpperCase()}`)).ids).toEqual([target.id]);
});

it('filters by creation time, both bounds inclusive', async () => {
  const middle = made[2]!.createdAtMs;
  const from = `createdFrom=${middle}`;
  const to = `createdTo=${middle}`;
  expect((await all(from)).ids).toEqual(idsWhere((s) => s.createdAtMs >= middle));
  expect((await all(to)).ids).toEqual(idsWhere((s) => s.createdAtMs <= middle));
  expect((await all(`${from}&${to}&limit=1`)).ids).toEqual(
    idsWhere((s) => s.createdAtMs === middle),
  );
  expect((await all(`${from}&${to}`)).ids).toContain(made[2]!.id);
  expect((await all(`createdFrom=${made[0]!.createdAtMs + 1}`)).ids).toEqual([]);
});

it('refuses malformed search parameters', async () => {
  for (const query of [
    'q=',
    'createdFrom=x',
    'createdTo=-1',
    'createdFrom=1.5',
    `q=${'x'.repeat(201)}`,
  ]) {
    expect((await call(api, 'GET', `/v1/sessions?${query}`, { key })).status, query).toBe(400);
  }
});

it('stops a search after reading its bound of sessions, and the next page goes on from there', async () => {
  const views = new SessionViews(store);
  const request = { tenantId: 'acme', limit: 10, q: 'the' };
  const first = await searchSessions(store, views, request, 2);
  // Read: the two newest (ROLL OUT web, Write the release notes); one matches.
  expect(first.records.map((r) => r.id)).toEqual([made[1]!.id]);
  expect(first.next).toBe(made[1]!.id);
  const second = await searchSessions(
    store,
    views,
    { ...request, afterId: sessionId(made[1]!.id) },
    2,
  );
  expect(second.records.map((r) => r.id)).toEqual([made[2]!.id, made[3]!.id]);
  expect(second.next).toBe(made[3]!.id);
  const third = await searchSessions(
    store,
    views,
    { ...request, afterId: sessionId(made[3]!.id) },
    2,
  );
  expect(third).toEqual({ records: [], next: null });
});
