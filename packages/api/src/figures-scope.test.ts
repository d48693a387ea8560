import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { eventually, sqliteStore } from './test-support.ts';

/**
 * `GET /v1/figures` counted the open streams of every tenant, so any tenant's key read how many
 * streams the others had open. Real HTTP on loopback: tenant acme reads two streams, globex one.
 */
let store: SessionStore;
let drop: () => Promise<void>;
let api: Api;
let served: ServedApi;
const keys: Record<string, string> = {};
const streams: AbortController[] = [];

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  api = createApi({ store, auth: 'keys' });
  served = await serveApi(api, { port: 0 });
  keys.acme = (await generateApiKey(store.apiKeys, 'acme', 'ops', 'operator')).key;
  keys.acmeAdmin = (await generateApiKey(store.apiKeys, 'acme', 'root', 'admin')).key;
  keys.globex = (await generateApiKey(store.apiKeys, 'globex', 'ops', 'operator')).key;
  keys.initech = (await generateApiKey(store.apiKeys, 'initech', 'ops', 'viewer')).key;
});
afterAll(async () => {
  for (const stream of streams) stream.abort();
  await served.close();
  await drop();
});

async function send(key: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${served.url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function openStream(key: string, id: string): Promise<void> {
  const abort = new AbortController();
  streams.push(abort);
  const response = await fetch(`${served.url}/v1/sessions/${id}/stream`, {
    headers: { authorization: `Bearer ${key}` },
    signal: abort.signal,
  });
  expect(response.status).toBe(200);
}

async function newSession(key: string): Promise<string> {
  const made = await send(key, '/v1/sessions', { agent: 'a', message: 'm' });
  return ((await made.json()) as { session: { id: string } }).session.id;
}

async function streamFigures(key: string): Promise<Record<string, unknown>> {
  const response = await send(key, '/v1/figures');
  expect(response.status).toBe(200);
  return ((await response.json()) as { streams: Record<string, unknown> }).streams;
}

describe('GET /v1/figures with API keys of two tenants', () => {
  it("shows each tenant its own streams, never the other's or the server's", async () => {
    const acmeSession = await newSession(keys.acme!);
    const globexSession = await newSession(keys.globex!);
    await openStream(keys.acme!, acmeSession);
    await openStream(keys.acme!, acmeSession);
    await openStream(keys.globex!, globexSession);
    await eventually(() => api.stats().subscribers === 3 || null);

    expect(await streamFigures(keys.acme!)).toEqual({
      scope: 'tenant',
      tenantId: 'acme',
      feeds: 1,
      subscribers: 2,
    });
    expect(await streamFigures(keys.globex!)).toEqual({
      scope: 'tenant',
      tenantId: 'globex',
      feeds: 1,
      subscribers: 1,
    });
    // An admin key administers its tenant, not the server: it sees its tenant's too.
    expect(await streamFigures(keys.acmeAdmin!)).toMatchObject({ feeds: 1, subscribers: 2 });
    expect(await streamFigures(keys.initech!)).toMatchObject({ feeds: 0, subscribers: 0 });
    // The whole server's, for the process that runs it (and a server without keys).
    expect(api.figures().streams).toMatchObject({ scope: 'server', feeds: 2, subscribers: 3 });
  });

  it("hides the worker's counts and sandbox pool, which count every tenant's work, from keys", async () => {
    const worker = { sessionsEnded: { completed: 7 }, eventsCommitted: 99 };
    const sandboxPool = { size: 2, ready: 1, inUse: 1, queued: 0, provisioning: 0 };
    const keyed = createApi({ store, auth: 'keys', figures: () => ({ sandboxPool, worker }) });
    const keyedServed = await serveApi(keyed, { port: 0 });
    const local = createApi({ store, auth: 'none', figures: () => ({ sandboxPool, worker }) });
    const localServed = await serveApi(local, { port: 0 });
    try {
      for (const key of [keys.acmeAdmin!, keys.initech!]) {
        const response = await fetch(`${keyedServed.url}/v1/figures`, {
          headers: { authorization: `Bearer ${key}` },
        });
        const figures = (await response.json()) as Record<string, unknown>;
        expect(figures).not.toHaveProperty('worker');
        expect(figures).not.toHaveProperty('sandboxPool');
        expect(figures).toHaveProperty('connections');
      }
      const figures = (await (await fetch(`${localServed.url}/v1/figures`)).json()) as Record<
        string,
        unknown
      >;
      expect(figures).toMatchObject({ worker, sandboxPool });
    } finally {
      await keyedServed.close();
      await localServed.close();
    }
  });

  it("shows a server without keys (its local user's alone) every stream", async () => {
    const local = createApi({ store, auth: 'none' });
    const localServed = await serveApi(local, { port: 0 });
    try {
      const made = await fetch(`${localServed.url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'a', message: 'm' }),
      });
      const { session } = (await made.json()) as { session: { id: string } };
      const abort = new AbortController();
      streams.push(abort);
      await fetch(`${localServed.url}/v1/sessions/${session.id}/stream`, { signal: abort.signal });
      await eventually(() => local.stats().subscribers === 1 || null);
      const figures = (await (await fetch(`${localServed.url}/v1/figures`)).json()) as {
        streams: Record<string, unknown>;
      };
      expect(figures.streams).toMatchObject({ scope: 'server', feeds: 1, subscribers: 1 });
      expect(figures.streams.reads).toEqual(expect.any(Number));
    } finally {
      await localServed.close();
    }
  });
});
