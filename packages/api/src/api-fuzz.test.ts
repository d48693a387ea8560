import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCodes, event, type SessionStore, type StoredEvent } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { LogWriter, sqliteStore } from './test-support.ts';

/**
 * Property-based abuse of every endpoint: malformed JSON, wrong types, huge strings, deep
 * nesting, bad UTF-8, `__proto__` keys, traversal ids, bad/missing/revoked keys, wrong methods,
 * odd headers. The properties: no 5xx, no thrown error (a crash), every refusal a 4xx with the
 * typed error body, nothing accepted before is changed, no prototype is polluted.
 */
const runs = Number(process.env.LONGRUN_FUZZ_RUNS ?? 3_000);
const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 2 ** 31);

let store: SessionStore;
let drop: () => Promise<void>;
let api: Api;
let key: string;
let revoked: string;
let otherTenantKey: string;
let sessionIdA: string;
let before: { events: StoredEvent[]; sessions: number };

beforeAll(async () => {
  console.log(
    `api fuzz seed: ${seed}, ${runs} runs per endpoint (LONGRUN_SEED / LONGRUN_FUZZ_RUNS)`,
  );
  ({ store, drop } = await sqliteStore());
  api = createApi({ store, auth: 'keys', agents: ['coder'], heartbeatMs: 60_000 });
  key = (await generateApiKey(store.apiKeys, 'acme', 'fuzz', 'admin')).key;
  otherTenantKey = (await generateApiKey(store.apiKeys, 'other', 'fuzz', 'admin')).key;
  const r = await generateApiKey(store.apiKeys, 'acme', 'revoked', 'admin');
  await store.apiKeys.revoke(r.record.id);
  revoked = r.key;
  const session = await store.createSession({
    tenantId: 'acme',
    agent: 'coder',
    input: { task: 'keep me' },
  });
  sessionIdA = session.id;
  const log = await LogWriter.claim(store, session.id);
  await log.append([event('model.streamed', { step: 1, attempt: 1, text: 'accepted before' })]);
  before = {
    events: await store.readEvents(session.id, 0, 1_000),
    sessions: (await store.listSessions({ limit: 1_000 })).length,
  };
});

afterAll(async () => {
  api.close();
  // Everything accepted before the fuzzing is still there, unchanged.
  expect(await store.readEvents(before.events[0]!.sessionId, 0, 1_000)).toEqual(before.events);
  expect((await store.listSessions({ limit: 10_000 })).length).toBeGreaterThanOrEqual(
    before.sessions,
  );
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  expect(Object.keys(Object.prototype)).toEqual([]);
  await drop();
});

const enc = new TextEncoder();

const idArb = fc.oneof(
  fc.constant('SESSION'),
  fc.constantFrom(
    '..',
    '../../etc/passwd',
    '%2e%2e%2f%2e%2e',
    '..%2F..%2Fetc',
    '%00',
    '%FF%FE',
    '%C3%28',
    ' ',
    'ses_x',
  ),
  fc.string({ maxLength: 300 }).map(encodeURIComponent),
  fc.string({ unit: 'binary', maxLength: 40 }).map(encodeURIComponent),
  fc.stringMatching(/^[A-Za-z0-9_.:-]{1,140}$/),
);

const textArb = fc.oneof(
  fc.string({ maxLength: 50 }),
  fc.string({ unit: 'binary', maxLength: 50 }),
  fc.constantFrom('', '\u0000', '\ud800', 'a\nb', 'x'.repeat(5_000), 'approve', 'deny'),
);

/** JSON values of every shape, and the hostile ones. */
const jsonishArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }),
  fc.record({ agent: textArb, message: textArb }, { requiredKeys: [] }),
  fc.record(
    {
      agent: fc.constantFrom('coder', 'nope'),
      message: textArb,
      input: fc.jsonValue({ maxDepth: 3 }),
    },
    { requiredKeys: ['agent'] },
  ),
  fc.record({ text: fc.oneof(textArb, fc.integer(), fc.constant(null)) }),
  fc.record({
    decision: fc.oneof(fc.constantFrom('approve', 'deny', 'maybe'), fc.integer()),
    reason: textArb,
  }),
  fc.record({ reason: fc.oneof(textArb, fc.jsonValue({ maxDepth: 2 })) }),
);

/** Raw body bytes: JSON, broken JSON, hostile keys, deep nesting, bad UTF-8, huge. */
const bodyArb: fc.Arbitrary<Uint8Array | null> = fc.oneof(
  { weight: 5, arbitrary: jsonishArb.map((v) => enc.encode(JSON.stringify(v) ?? 'null')) },
  { weight: 2, arbitrary: fc.string({ maxLength: 200 }).map((s) => enc.encode(s)) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '{"__proto__":{"polluted":1},"agent":"coder","message":"x"}',
        '{"agent":"coder","message":"x","input":{"__proto__":{"polluted":1}}}',
        '{"constructor":{"prototype":{"polluted":1}},"agent":"coder","message":"x"}',
        '{"agent":"coder","message":"x","input":{"constructor":{"prototype":{"polluted":1}}}}',
        '{"text":"x","__proto__":null}',
        '{"agent":"coder","message":"x","input":1e400}',
        '{"agent":"coder","message":"x","input":12345678901234567890}',
        '{"agent":"coder","message":"x","input":"\\ud800"}',
        '{"agent":"coder","message":"x","input":"\\u0000"}',
        '{"agent":',
        'null',
        '[]',
      )
      .map((s) => enc.encode(s)),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 20, max: 5_000 })
      .map((n) => enc.encode(`${'['.repeat(n)}${']'.repeat(n)}`)),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: 20, max: 2_000 })
      .map((n) => enc.encode(`${'{"a":'.repeat(n)}1${'}'.repeat(n)}`)),
  },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
      new Uint8Array([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
    ),
  },
  {
    weight: 1,
    arbitrary: fc
      .constant(null)
      .map(() => enc.encode(JSON.stringify({ agent: 'coder', message: 'x'.repeat(1_100_000) }))),
  },
  { weight: 1, arbitrary: fc.constant(null) },
);

const headerValue = fc.stringMatching(/^[\x20-\x7e]{0,300}$/);

const authArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant('KEY') },
  { weight: 1, arbitrary: fc.constant('REVOKED') },
  { weight: 1, arbitrary: fc.constant('OTHER') },
  { weight: 1, arbitrary: fc.constant(null) },
  {
    weight: 2,
    arbitrary: fc.oneof(
      headerValue,
      fc.constantFrom(
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        'Bearer lr_',
        'Bearer lr_0123456789abcdef_short',
      ),
      fc.stringMatching(/^[A-Za-z0-9_-]{43}$/).map((s) => `Bearer lr_0123456789abcdef_${s}`),
    ),
  },
);

const contentTypeArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'application/json; charset=utf-8',
      'application/json; charset=latin1',
      'text/plain',
      'multipart/form-data; boundary=x',
      'application/merge-patch+json',
    ),
  },
  { weight: 1, arbitrary: headerValue },
  { weight: 1, arbitrary: fc.constant(null) },
);

const extraHeadersArb = fc.dictionary(
  fc.constantFrom(
    'idempotency-key',
    'last-event-id',
    'accept',
    'x-forwarded-for',
    'content-length',
    'origin',
    'cookie',
  ),
  headerValue,
  { maxKeys: 3 },
);

const queryArb = fc.array(
  fc.tuple(
    fc.constantFrom(
      'limit',
      'after',
      'status',
      'agent',
      'follow',
      'path',
      'access_token',
      'x',
      '__proto__',
    ),
    fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.integer().map(String),
      fc.constantFrom(
        '0',
        '1',
        '200',
        '201',
        '-1',
        '1e3',
        'true',
        'false',
        'running',
        '..%2F',
        'KEY',
      ),
    ),
  ),
  { maxLength: 4 },
);

interface Endpoint {
  method: string;
  path: string;
}

const endpoints: Endpoint[] = [
  { method: 'GET', path: '/v1/health' },
  { method: 'GET', path: '/v1/ready' },
  { method: 'GET', path: '/v1/openapi.json' },
  { method: 'GET', path: '/v1/agents' },
  { method: 'GET', path: '/v1/figures' },
  { method: 'GET', path: '/v1/usage' },
  { method: 'POST', path: '/v1/sessions' },
  { method: 'GET', path: '/v1/sessions' },
  { method: 'GET', path: '/v1/sessions/:id' },
  { method: 'GET', path: '/v1/sessions/:id/tree' },
  { method: 'GET', path: '/v1/sessions/:id/events' },
  { method: 'GET', path: '/v1/sessions/:id/bundle' },
  { method: 'GET', path: '/v1/sessions/:id/stream' },
  { method: 'POST', path: '/v1/sessions/:id/messages' },
  { method: 'POST', path: '/v1/sessions/:id/signals' },
  { method: 'POST', path: '/v1/sessions/:id/signals/:name' },
  { method: 'POST', path: '/v1/hooks/:token' },
  { method: 'POST', path: '/v1/sessions/:id/cancel' },
  { method: 'POST', path: '/v1/sessions/:id/resume' },
  { method: 'POST', path: '/v1/sessions/:id/budget' },
  { method: 'GET', path: '/v1/approvals' },
  { method: 'GET', path: '/v1/sessions/:id/approvals/:approvalId' },
  { method: 'POST', path: '/v1/sessions/:id/approvals/:approvalId' },
  { method: 'GET', path: '/v1/sessions/:id/files' },
  { method: 'GET', path: '/v1/sessions/:id/files/content' },
  { method: 'GET', path: '/v1/sessions/:id/files/diff' },
  { method: 'POST', path: '/v1/sessions/:id/fork' },
  { method: 'POST', path: '/v1/schedules' },
  { method: 'GET', path: '/v1/schedules' },
  { method: 'GET', path: '/v1/schedules/:id' },
  { method: 'POST', path: '/v1/schedules/:id/pause' },
  { method: 'POST', path: '/v1/schedules/:id/resume' },
  { method: 'DELETE', path: '/v1/schedules/:id' },
  { method: 'GET', path: '/v1/keys' },
  { method: 'POST', path: '/v1/keys' },
  { method: 'POST', path: '/v1/keys/:keyId/revoke' },
  { method: 'GET', path: '/' },
];

const methodArb = (usual: string) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.constant(usual) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
    },
  );

function resolveAuth(auth: string | null): string | null {
  if (auth === 'KEY') return `Bearer ${key}`;
  if (auth === 'REVOKED') return `Bearer ${revoked}`;
  if (auth === 'OTHER') return `Bearer ${otherTenantKey}`;
  return auth;
}

function buildRequest(
  endpoint: Endpoint,
  input: {
    method: string;
    id: string;
    approvalId: string;
    query: [string, string][];
    auth: string | null;
    contentType: string | null;
    headers: Record<string, string>;
    body: Uint8Array | null;
  },
): Request | null {
  const id = input.id === 'SESSION' ? sessionIdA : input.id;
  // The approval id's strings (random, traversal, huge) stand for a signal name and a hook token too.
  const path = endpoint.path
    .replace(':id', id)
    .replace(':approvalId', input.approvalId)
    .replace(':name', input.approvalId)
    .replace(':token', input.approvalId);
  const query = input.query
    .map(([k, v]) => `${k}=${v === 'KEY' ? key : encodeURIComponent(v)}`)
    .join('&');
  const headers = new Headers();
  try {
    for (const [k, v] of Object.entries(input.headers)) headers.set(k, v);
    const auth = resolveAuth(input.auth);
    if (auth !== null) headers.set('authorization', auth);
    if (input.contentType !== null) headers.set('content-type', input.contentType);
    const withBody = input.body !== null && input.method !== 'GET' && input.method !== 'HEAD';
    if (!withBody) headers.delete('content-length');
    else headers.delete('content-length');
    return new Request(`http://127.0.0.1${path}${query === '' ? '' : `?${query}`}`, {
      method: input.method,
      headers,
      ...(withBody ? { body: input.body as Uint8Array<ArrayBuffer> } : {}),
    });
  } catch {
    return null; // not a request a client could send (an invalid URL or header)
  }
}

async function checkResponse(response: Response, method: string): Promise<void> {
  expect(response.status).toBeGreaterThanOrEqual(200);
  expect(response.status, 'a 5xx answer').toBeLessThan(500);
  const type = response.headers.get('content-type') ?? '';
  if (type.startsWith('text/event-stream') || response.status < 400 || method === 'HEAD') {
    await response.body?.cancel();
    return;
  }
  expect(type).toBe('application/json; charset=utf-8');
  const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } };
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(errorCodes)).toContain(body.error?.code);
  expect(typeof body.error?.message).toBe('string');
  expect((body.error?.message as string).length).toBeGreaterThan(0);
}

it('fuzzes every route of the OpenAPI document', async () => {
  const response = await api.fetch(new Request('http://127.0.0.1/v1/openapi.json'));
  const { paths } = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
  const documented = Object.entries(paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
  );
  const fuzzed = endpoints.map((e) => `${e.method} ${e.path}`);
  expect(documented.length).toBeGreaterThan(10);
  expect(documented.filter((operation) => !fuzzed.includes(operation))).toEqual([]);
});

describe.each(endpoints)('fuzzing $method $path', (endpoint) => {
  it(`answers ${runs} malformed requests with 4xx typed errors, never 5xx`, async () => {
    const statuses = new Map<number, number>();
    const assertion = fc.assert(
      fc.asyncProperty(
        fc.record({
          method: methodArb(endpoint.method),
          id: idArb,
          approvalId: fc.oneof(fc.constant('apr_1'), idArb),
          query: queryArb,
          auth: authArb,
          contentType: contentTypeArb,
          headers: extraHeadersArb,
          body: bodyArb,
        }),
        async (input) => {
          const request = buildRequest(endpoint, input);
          fc.pre(request !== null);
          const response = await api.fetch(request);
          statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
          await checkResponse(response, input.method);
        },
      ),
      { numRuns: runs, seed, endOnFailure: true },
    );
    // A counterexample can hold a megabyte body: keep the report readable.
    await assertion.catch((error: Error) => {
      throw new Error(error.message.slice(0, 3_000), { cause: error.cause });
    });
    console.log(
      `${endpoint.method} ${endpoint.path}: ${[...statuses]
        .sort((a, b) => a[0] - b[0])
        .map(([s, n]) => `${s}×${n}`)
        .join(' ')}`,
    );
    // The fuzzing reached past authentication and validation, not only the first refusal.
    expect(statuses.size).toBeGreaterThan(1);
    expect(api.stats().subscribers).toBe(0);
  });
});
