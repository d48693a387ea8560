import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { createApi, type Api } from './create-api.ts';
import { call, sqliteStore } from './test-support.ts';

let store: SessionStore;
let drop: () => Promise<void>;
let withMetrics: Api;
let without: Api;
let scrapes = 0;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  const metrics = {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    prometheusText: async () => `# TYPE longrun_scrapes counter\nlongrun_scrapes ${++scrapes}\n`,
  };
  withMetrics = createApi({ store, auth: 'keys', metrics });
  without = createApi({ store, auth: 'keys' });
});
afterAll(async () => {
  withMetrics.close();
  without.close();
  await drop();
});

describe('GET /metrics', () => {
  it('answers the exposition without a key, even on a server that wants keys', async () => {
    const res = await withMetrics.fetch(new Request('http://127.0.0.1/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    expect(await res.text()).toBe('# TYPE longrun_scrapes counter\nlongrun_scrapes 1\n');
    expect((await call(withMetrics, 'POST', '/metrics')).status).toBe(405);
  });

  it('is in the OpenAPI document as text, and absent (404) without metrics', async () => {
    const { body } = await call<{ paths: Record<string, { get?: { responses: object } }> }>(
      withMetrics,
      'GET',
      '/v1/openapi.json',
    );
    expect(body.paths['/metrics']?.get?.responses).toMatchObject({
      200: { content: { 'text/plain': { schema: { type: 'string' } } } },
    });
    expect((await without.fetch(new Request('http://127.0.0.1/metrics'))).status).toBe(404);
  });
});
