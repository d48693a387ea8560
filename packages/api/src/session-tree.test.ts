import { afterAll, beforeAll, expect, it } from 'vitest';
import { event, type SessionStore } from '@longrun/core';
import { childSessionId } from '@longrun/runtime';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import type * as schemas from './schemas.ts';
import { LogWriter, call, sqliteStore } from './test-support.ts';

type Tree = (typeof schemas.SessionTree)['_output'];

let store: SessionStore;
let drop: () => Promise<void>;
let api: Api;
let acme: string;
let other: string;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  api = createApi({ store, auth: 'keys', agents: ['lead', 'reviewer'] });
  acme = (await generateApiKey(store.apiKeys, 'acme', 'tree', 'viewer')).key;
  other = (await generateApiKey(store.apiKeys, 'other', 'tree', 'viewer')).key;
});
afterAll(async () => {
  api.close();
  await drop();
});

it("GET /v1/sessions/{id}/tree shows a session's parent and root and the sub-agents it started, within its tenant", async () => {
  const parent = await store.createSession({ tenantId: 'acme', agent: 'lead', input: null });
  const log = await LogWriter.claim(store, parent.id);
  const tasks = [
    { agent: 'reviewer', task: 'a' },
    { agent: 'reviewer', task: 'b' },
  ];
  await log.append([
    event('model.responded', {
      step: 1,
      text: '',
      toolCalls: [{ callIndex: 0, tool: 'run_subagents', args: { tasks } }],
      usage: { inputTokens: 1, outputTokens: 1 },
    }),
  ]);
  // The first child exists; the second is not started yet.
  const first = childSessionId(parent.id, 1, 0, 0);
  await store.createSession({
    id: first,
    tenantId: 'acme',
    agent: 'reviewer',
    input: 'a',
    parent: { sessionId: parent.id, rootSessionId: parent.id, step: 1, callIndex: 0, policies: [] },
  });
  const tree = await call<Tree>(api, 'GET', `/v1/sessions/${parent.id}/tree`, { key: acme });
  expect(tree.status).toBe(200);
  expect(tree.body).toEqual({
    parent: null,
    children: [{ sessionId: first, agent: 'reviewer', status: 'queued', step: 1, callIndex: 0 }],
  });
  const child = await call<Tree>(api, 'GET', `/v1/sessions/${first}/tree`, { key: acme });
  expect(child.body).toEqual({
    parent: { sessionId: parent.id, rootSessionId: parent.id, step: 1, callIndex: 0 },
    children: [],
  });
  const elsewhere = await call(api, 'GET', `/v1/sessions/${parent.id}/tree`, { key: other });
  expect(elsewhere.status).toBe(404);
});

it("every event of a sub-agent session carries its parent and root session ids, in pages and in the stream; a root session's none", async () => {
  const root = await store.createSession({ tenantId: 'acme', agent: 'lead', input: null });
  const mid = childSessionId(root.id, 1, 0, 0);
  await store.createSession({
    id: mid,
    tenantId: 'acme',
    agent: 'lead',
    input: 'a',
    parent: { sessionId: root.id, rootSessionId: root.id, step: 1, callIndex: 0, policies: [] },
  });
  const leaf = childSessionId(mid, 2, 1, 0);
  await store.createSession({
    id: leaf,
    tenantId: 'acme',
    agent: 'reviewer',
    input: 'b',
    parent: { sessionId: mid, rootSessionId: root.id, step: 2, callIndex: 1, policies: [] },
  });
  const log = await LogWriter.claim(store, leaf);
  await log.append([
    event('user.messaged', { text: 'more', signalId: null }),
    event('session.completed', { output: 'ok' }),
  ]);
  type Page = { events: Record<string, unknown>[] };
  const page = await call<Page>(api, 'GET', `/v1/sessions/${leaf}/events`, { key: acme });
  expect(page.body.events).toHaveLength(3);
  for (const e of page.body.events) {
    expect(e).toMatchObject({ sessionId: leaf, parentSessionId: mid, rootSessionId: root.id });
  }
  const own = await call<Page>(api, 'GET', `/v1/sessions/${root.id}/events`, { key: acme });
  expect(own.body.events[0]).not.toHaveProperty('parentSessionId');
  expect(own.body.events[0]).not.toHaveProperty('rootSessionId');
  const stream = await call<string>(api, 'GET', `/v1/sessions/${leaf}/stream?follow=false`, {
    key: acme,
  });
  const frames = stream.body
    .split('\n')
    .filter((line) => line.startsWith('data: ') && line.includes('"seq"'))
    .map((line) => JSON.parse(line.slice(6)) as Record<string, unknown>);
  expect(frames.map((f) => f.seq)).toEqual([1, 2, 3]);
  for (const f of frames) expect(f).toMatchObject({ parentSessionId: mid, rootSessionId: root.id });
});
