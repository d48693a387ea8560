import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { serveApi } from './serve-api.ts';
import { call, sqliteStore } from './test-support.ts';

type ErrorBody = { error: { code: string; message: string } };

let store: SessionStore;
let drop: () => Promise<void>;
let api: Api;
let key: string;

beforeAll(async () => {
  ({ store, drop } = await sqliteStore());
  api = createApi({ store, auth: 'keys', version: '9.9.9' });
  key = (await generateApiKey(store.apiKeys, 'acme', 'requests', 'admin')).key;
});
afterAll(async () => {
  api.close();
  await drop();
});

function raw(
  body: string | Uint8Array<ArrayBuffer> | null,
  headers: Record<string, string>,
  method = 'POST',
) {
  return api.fetch(
    new Request('http://127.0.0.1/v1/sessions', {
      method,
      headers: { authorization: `Bearer ${key}`, ...headers },
      body,
    }),
  );
}

describe('keys', () => {
  it('stores only the hash of the secret and refuses missing, malformed, wrong and revoked keys with 401', async () => {
    const made = await generateApiKey(store.apiKeys, 'acme', 'to-revoke', 'admin');
    expect(made.key).toMatch(/^lr_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const secret = made.key.split('_').slice(2).join('_');
    expect(JSON.stringify(await store.apiKeys.find(made.record.id))).not.toContain(secret);
    expect((await call(api, 'GET', '/v1/sessions', { key: made.key })).status).toBe(200);
    const wrong = `${made.key.slice(0, -4)}AAAA`;
    for (const authorization of [
      undefined,
      '',
      'Bearer',
      `Basic ${key}`,
      `Bearer ${wrong}`,
      `Bearer lr_x_y`,
    ]) {
      const r = await call<ErrorBody>(api, 'GET', '/v1/sessions', {
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(r.status, String(authorization)).toBe(401);
      expect(r.body.error.code).toBe('UNAUTHENTICATED');
      expect(r.headers.get('www-authenticate')).toBe('Bearer');
    }
    await store.apiKeys.revoke(made.record.id);
    const revoked = await call<ErrorBody>(api, 'GET', '/v1/sessions', { key: made.key });
    expect(revoked.status).toBe(401);
    expect(revoked.body.error.message).toMatch(/revoked/);
  });

  it('needs no key for health, readiness and the OpenAPI document', async () => {
    expect(await call(api, 'GET', '/v1/health')).toMatchObject({
      status: 200,
      body: { ok: true, auth: 'keys', version: '9.9.9' },
    });
    expect(await call(api, 'GET', '/v1/ready')).toMatchObject({
      status: 200,
      body: { ready: true, store: 'sqlite' },
    });
  });

  it('without keys treats every caller as tenant default, and refuses to listen off loopback', async () => {
    const open = createApi({ store, auth: 'none' });
    const created = await call<{ session: { tenantId: string } }>(open, 'POST', '/v1/sessions', {
      body: { agent: 'a', message: 'm' },
    });
    expect(created.body.session.tenantId).toBe('default');
    await expect(serveApi(open, { host: '0.0.0.0', port: 0 })).rejects.toThrow(/loopback/);
    open.close();
  });
});

describe('request bodies', () => {
  const json = { 'content-type': 'application/json' };

  it.each([
    ['malformed JSON', '{"agent":', json, 400, 'INVALID_PAYLOAD'],
    [
      'a wrong content type',
      '{"agent":"a","message":"m"}',
      { 'content-type': 'text/plain' },
      415,
      'INVALID_ARGUMENT',
    ],
    ['no content type', '{"agent":"a","message":"m"}', {}, 415, 'INVALID_ARGUMENT'],
    [
      'another charset',
      '{"agent":"a","message":"m"}',
      { 'content-type': 'application/json; charset=latin1' },
      415,
      'INVALID_ARGUMENT',
    ],
    ['wrong types', '{"agent":1,"message":[]}', json, 400, 'INVALID_ARGUMENT'],
    ['unknown keys', '{"agent":"a","message":"m","admin":true}', json, 400, 'INVALID_ARGUMENT'],
    ['a missing body', '', json, 400, 'INVALID_ARGUMENT'],
    [
      'deep nesting',
      `{"agent":"a","message":"m","input":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
      json,
      400,
      'INVALID_PAYLOAD',
    ],
    [
      'a __proto__ key',
      '{"agent":"a","message":"m","input":{"__proto__":{"polluted":true}}}',
      json,
      400,
      'INVALID_PAYLOAD',
    ],
    [
      'an integer JSON cannot round-trip',
      '{"agent":"a","message":"m","input":12345678901234567890}',
      json,
      400,
      'INVALID_PAYLOAD',
    ],
    [
      'a control character in the agent name',
      '{"agent":"a\\u0000b","message":"m"}',
      json,
      400,
      'INVALID_ARGUMENT',
    ],
  ] as const)('refuses %s', async (_what, body, headers, status, code) => {
    const r = await raw(body, headers);
    expect(r.status).toBe(status);
    expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(((await r.json()) as ErrorBody).error.code).toBe(code);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('refuses bad UTF-8 and a body over 1 MiB (413), even when Content-Length lies', async () => {
    const bad = new Uint8Array([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc3, 0x28, 0x22, 0x7d]);
    expect((await raw(bad, json)).status).toBe(400);
    const big = JSON.stringify({ agent: 'a', message: 'x'.repeat(1_100_000) });
    const r = await raw(big, json);
    expect(r.status).toBe(413);
    expect(((await r.json()) as ErrorBody).error.code).toBe('INVALID_PAYLOAD');
    const lying = await raw(big, { ...json, 'content-length': '10' });
    expect(lying.status).toBe(413);
  });

  it('keeps a constructor key as plain data without touching any prototype', async () => {
    const r = await raw(
      '{"agent":"a","message":"m","input":{"constructor":{"prototype":{"polluted":true}}}}',
      json,
    );
    expect(r.status).toBe(201);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getOwnPropertyNames(Object.prototype)).not.toContain('polluted');
  });
});

describe('routes', () => {
  it('answers a wrong method with 405 and Allow, an unknown path with 404, both typed', async () => {
    const wrong = await call<ErrorBody>(api, 'DELETE', '/v1/sessions', { key });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST, GET');
    const unknown = await call<ErrorBody>(api, 'GET', '/v2/whatever', { key });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('NOT_FOUND');
    // A trailing slash is another path (the router's match is exact), not a 405 naming the very
    // method it refused ("GET is not allowed here; use POST or GET").
    for (const path of ['/v1/sessions/', '/v1/approvals/']) {
      const slashed = await call<ErrorBody>(api, 'GET', path, { key });
      expect(slashed.status, path).toBe(404);
      expect(slashed.body.error.code).toBe('NOT_FOUND');
    }
  });

  it('describes every route in an OpenAPI 3.1 document whose references all resolve', async () => {
    const { body } = await call<{
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
      components: { schemas: Record<string, unknown> };
    }>(api, 'GET', '/v1/openapi.json');
    expect(body.openapi).toBe('3.1.0');
    const operations = Object.entries(body.paths).flatMap(([p, methods]) =>
      Object.keys(methods).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(operations.sort()).toEqual(
      [
        'GET /v1/health',
        'GET /v1/ready',
        'GET /v1/agents',
        'GET /v1/figures',
        'GET /v1/openapi.json',
        'POST /v1/sessions',
        'GET /v1/sessions',
        'GET /v1/sessions/{id}',
        'GET /v1/sessions/{id}/tree',
        'GET /v1/sessions/{id}/events',
        'GET /v1/sessions/{id}/stream',
        'POST /v1/sessions/{id}/messages',
        'POST /v1/sessions/{id}/signals',
        'POST /v1/sessions/{id}/signals/{name}',
        'POST /v1/hooks/{token}',
        'POST /v1/sessions/{id}/cancel',
        'POST /v1/sessions/{id}/resume',
        'POST /v1/sessions/{id}/budget',
        'GET /v1/approvals',
        'GET /v1/sessions/{id}/approvals/{approvalId}',
        'POST /v1/sessions/{id}/approvals/{approvalId}',
        'GET /v1/sessions/{id}/files',
        'GET /v1/sessions/{id}/files/content',
        'GET /v1/sessions/{id}/files/diff',
        'GET /v1/sessions/{id}/bundle',
        'GET /v1/usage',
        'POST /v1/sessions/{id}/fork',
        'POST /v1/schedules',
        'GET /v1/schedules',
        'GET /v1/schedules/{id}',
        'POST /v1/schedules/{id}/pause',
        'POST /v1/schedules/{id}/resume',
        'DELETE /v1/schedules/{id}',
        'GET /v1/keys',
        'POST /v1/keys',
        'POST /v1/keys/{keyId}/revoke',
      ].sort(),
    );
    const refs = JSON.stringify(body).match(/"#\/components\/schemas\/[^"]+"/g) ?? [];
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(body.components.schemas).toHaveProperty(ref.slice(22, -1));
    expect(body.components.schemas.CreateSessionBody).toMatchObject({
      type: 'object',
      required: ['agent', 'message'],
      additionalProperties: false,
    });
  });
});
