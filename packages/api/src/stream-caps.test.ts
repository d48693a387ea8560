import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type ApiOptions } from './create-api.ts';
import { serveApi, type ServeOptions, type ServedApi } from './serve-api.ts';
import { eventually, sqliteStore } from './test-support.ts';

/**
 * One viewer key opened 2,060 streams from loopback in 3 s: they held every connection the
 * server allows, and every other tenant and the health checks got 503. Real HTTP on loopback.
 */
let store: SessionStore;
let drop: () => Promise<void>;
const servers: ServedApi[] = [];
const open: AbortController[] = [];
const keys: Record<string, string> = {};

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  keys.acmeViewer = (await generateApiKey(store.apiKeys, 'acme', 'v', 'viewer')).key;
  keys.acmeOther = (await generateApiKey(store.apiKeys, 'acme', 'o', 'viewer')).key;
  keys.globex = (await generateApiKey(store.apiKeys, 'globex', 'g', 'admin')).key;
});
afterAll(async () => {
  for (const abort of open) abort.abort();
  for (const served of servers) await served.close();
  await drop();
});

async function serve(
  options: Partial<ApiOptions>,
  serveOptions: Partial<ServeOptions> = {},
): Promise<ServedApi> {
  const api = createApi({ store, auth: 'keys', pollMs: 5, ...options });
  const served = await serveApi(api, { port: 0, ...serveOptions });
  servers.push(served);
  return served;
}

async function sessionOf(tenantId: string): Promise<string> {
  return (await store.createSession({ tenantId, agent: 'a', input: 't' })).id;
}

/** Opens a stream and leaves it open (its body unread); the response is its status and error. */
async function stream(url: string, key: string | null, id: string): Promise<Response> {
  const abort = new AbortController();
  open.push(abort);
  const response = await fetch(`${url}/v1/sessions/${id}/stream`, {
    headers: key === null ? {} : { authorization: `Bearer ${key}` },
    signal: abort.signal,
  });
  return response;
}

async function refusal(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

describe('streams per API key and per tenant', () => {
  it("refuses a key over its cap with 429 TOO_MANY_STREAMS, while another tenant's key streams", async () => {
    const served = await serve({ streamLimits: { maxPerKey: 3, maxPerTenant: 5 } });
    const acme = await sessionOf('acme');
    const globex = await sessionOf('globex');
    for (let i = 0; i < 3; i++)
      expect((await stream(served.url, keys.acmeViewer!, acme)).status).toBe(200);

    const over = await stream(served.url, keys.acmeViewer!, acme);
    expect(over.status).toBe(429);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(over.headers.get('connection')).toBe('close');
    const error = await refusal(over);
    expect(error.code).toBe('TOO_MANY_STREAMS');
    expect(error.message).toMatch(/this API key has 3 event streams open/);
    expect(error.message).toMatch(/close streams you no longer read/);

    // Another tenant is not held up by acme's streams.
    expect((await stream(served.url, keys.globex!, globex)).status).toBe(200);

    // The tenant's other key has the tenant's last 2 places; then the tenant is at its cap.
    for (let i = 0; i < 2; i++)
      expect((await stream(served.url, keys.acmeOther!, acme)).status).toBe(200);
    const tenantOver = await stream(served.url, keys.acmeOther!, acme);
    expect(tenantOver.status).toBe(429);
    expect((await refusal(tenantOver)).message).toMatch(/tenant acme have 5 event streams open/);
  });

  it('frees a place when a stream closes', async () => {
    const served = await serve({ streamLimits: { maxPerKey: 1 } });
    const acme = await sessionOf('acme');
    const first = new AbortController();
    const response = await fetch(`${served.url}/v1/sessions/${acme}/stream`, {
      headers: { authorization: `Bearer ${keys.acmeViewer}` },
      signal: first.signal,
    });
    expect(response.status).toBe(200);
    expect((await stream(served.url, keys.acmeViewer!, acme)).status).toBe(429);
    first.abort();
    await eventually(async () => {
      const again = await stream(served.url, keys.acmeViewer!, acme);
      return again.status === 200 || null;
    });
  });

  it('applies only the server-wide cap without keys, answering 503 SERVER_BUSY past it', async () => {
    const served = await serve({ auth: 'none', streamLimits: { maxOpen: 2, maxPerKey: 1 } });
    const local = await sessionOf('default');
    for (let i = 0; i < 2; i++) expect((await stream(served.url, null, local)).status).toBe(200);
    const over = await stream(served.url, null, local);
    expect(over.status).toBe(503);
    expect(over.headers.get('retry-after')).toBe('1');
    expect(await refusal(over)).toMatchObject({ code: 'SERVER_BUSY' });
  });
});

describe('health and readiness with every connection taken', () => {
  it('answer 200 while other requests over the connection cap get 503', async () => {
    const served = await serve(
      { streamLimits: { maxPerKey: 100, maxPerTenant: 100 } },
      { connectionLimits: { maxOpen: 4 } },
    );
    const acme = await sessionOf('acme');
    for (let i = 0; i < 4; i++)
      expect((await stream(served.url, keys.acmeViewer!, acme)).status).toBe(200);
    expect(served.connections().open).toBe(4);

    const busy = await fetch(`${served.url}/v1/sessions?limit=1`, {
      headers: { authorization: `Bearer ${keys.globex}` },
    });
    expect(busy.status).toBe(503);
    const health = await fetch(`${served.url}/v1/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ ok: true });
    const ready = await fetch(`${served.url}/v1/ready`);
    expect(ready.status).toBe(200);
    expect(served.connections()).toMatchObject({ open: 4, probesOverCap: 2 });
  });
});
