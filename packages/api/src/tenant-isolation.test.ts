import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { event, type SessionId, type SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { LogWriter, call } from './test-support.ts';
import { describeOnStores } from './test-stores.ts';

/**
 * Wraps a store so every call that names a session is recorded: the test asserts that tenant A's
 * requests never read or write tenant B's data (only `getSession`, which says whose it is).
 */
function recording(store: SessionStore, calls: { method: string; id: unknown }[]): SessionStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        calls.push({ method: String(prop), id: args[0] });
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
}

/** Every request that names a session (path `{id}`), as tenant A sends it with one of B's ids. */
const requests: [string, (id: string) => string, unknown?][] = [
  ['GET', (id) => `/v1/sessions/${id}`],
  ['GET', (id) => `/v1/sessions/${id}/tree`],
  ['GET', (id) => `/v1/sessions/${id}/events`],
  ['GET', (id) => `/v1/sessions/${id}/events?after=0&limit=1000`],
  ['GET', (id) => `/v1/sessions/${id}/stream`],
  ['GET', (id) => `/v1/sessions/${id}/stream?after=0&follow=false`],
  ['GET', (id) => `/v1/sessions/${id}/files`],
  ['GET', (id) => `/v1/sessions/${id}/files/content?path=b.txt`],
  ['GET', (id) => `/v1/sessions/${id}/files/diff?patches=true`],
  ['GET', (id) => `/v1/sessions/${id}/bundle`],
  ['POST', (id) => `/v1/sessions/${id}/fork`, { atSeq: 1 }],
  ['POST', (id) => `/v1/sessions/${id}/messages`, { text: 'hi from a' }],
  ['POST', (id) => `/v1/sessions/${id}/signals`, { name: 'go', payload: 'from a' }],
  ['POST', (id) => `/v1/sessions/${id}/signals/go`, JSON.stringify('from a')],
  ['POST', (id) => `/v1/sessions/${id}/cancel`, { reason: 'a wants it' }],
  ['POST', (id) => `/v1/sessions/${id}/resume`, { reason: 'a wants it' }],
  ['POST', (id) => `/v1/sessions/${id}/budget`, { budget: { costUsd: 100 }, reason: 'a wants it' }],
  ['GET', (id) => `/v1/sessions/${id}/approvals/apr_b`],
  ['POST', (id) => `/v1/sessions/${id}/approvals/apr_b`, { decision: 'approve' }],
  ['GET', (id) => `/v1/sessions?after=${id}`],
];

describeOnStores("tenant A's key on tenant B's ids", (kind) => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  const calls: { method: string; id: unknown }[] = [];
  let keyA: string;
  let idB: SessionId;

  async function snapshotB() {
    const sessions = await store.listSessions({ tenantId: 'tenant-b', limit: 1_000 });
    return {
      sessions,
      events: await Promise.all(sessions.map((s) => store.readEvents(s.id, 0, 10_000))),
      signals: await Promise.all(
        ['cancel', 'resume', 'budget', 'user.message', 'approval:apr_b'].map((n) =>
          store.pendingSignals(idB, n),
        ),
      ),
    };
  }

  beforeAll(async () => {
    ({ store, drop } = await kind.open());
    api = createApi({ store: recording(store, calls), auth: 'keys' });
    keyA = (await generateApiKey(store.apiKeys, 'tenant-a', 'a', 'admin')).key;
    const b = await store.createSession({
      tenantId: 'tenant-b',
      agent: 'deployer',
      input: { task: 'b' },
    });
    idB = b.id;
    const bytes = new TextEncoder().encode('secret of b');
    const hash = createHash('sha256').update(bytes).digest('hex');
    await store.blobs.put(hash, bytes);
    const manifest = new TextEncoder().encode(
      JSON.stringify({
        version: 1,
        chunkBytes: 4_194_304,
        entries: [{ path: 'b.txt', type: 'file', size: bytes.length, mode: 420, sha256: hash }],
      }),
    );
    const manifestHash = createHash('sha256').update(manifest).digest('hex');
    await store.blobs.put(manifestHash, manifest);
    const log = await LogWriter.claim(store, b.id);
    await log.append([
      event('model.responded', {
        step: 1,
        text: 'x',
        toolCalls: [{ callIndex: 0, tool: 'deploy', args: {} }],
        usage: { inputTokens: 1, outputTokens: 1 },
      }),
      event('approval.requested', {
        approvalId: 'apr_b',
        step: 1,
        callIndex: 0,
        tool: 'deploy',
        argsHash: 'h',
        expiresAtMs: null,
      }),
      event('workspace.snapshotted', { step: 1, manifestHash, files: 1, bytes: 11, changed: 1 }),
      event('wait.started', { waitId: 'apr_b', kind: 'signal', signal: 'approval:apr_b' }),
    ]);
    await log.append([], {
      status: { status: 'waiting', waitingFor: 'approval:apr_b' },
      releaseLease: true,
    });
  });
  afterAll(async () => {
    api.close();
    await drop();
  });

  it('asks about every route that names a session', async () => {
    const { body } = await call<{ paths: Record<string, Record<string, unknown>> }>(
      api,
      'GET',
      '/v1/openapi.json',
    );
    const naming = Object.entries(body.paths)
      // Schedules' ids have their own test (schedule-routes.test.ts).
      .filter(([path]) => path.includes('{id}') && !path.startsWith('/v1/schedules/'))
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    const asked = requests.map(
      ([method, path]) =>
        `${method} ${path('{id}').split('?')[0]!.replace('/apr_b', '/{approvalId}').replace('/signals/go', '/signals/{name}')}`,
    );
    expect(naming.length).toBeGreaterThan(10);
    expect(naming.filter((operation) => !asked.includes(operation))).toEqual([]);
  });

  it('answers 404 exactly as for an id that does not exist, on every endpoint, and reads and writes nothing of B', async () => {
    const before = await snapshotB();
    const missing = 'ses_00000000000000000000000000000000';
    calls.length = 0;
    for (const [method, path, body] of requests) {
      const other = await call(api, method, path(idB), { key: keyA, body });
      const none = await call(api, method, path(missing), { key: keyA, body });
      expect(other.status, `${method} ${path(idB)}`).toBe(404);
      expect(JSON.stringify(other.body).replace(idB, 'ID')).toBe(
        JSON.stringify(none.body).replace(missing, 'ID'),
      );
    }
    // Lists and the inbox show nothing of B.
    const list = await call<{ sessions: unknown[] }>(api, 'GET', '/v1/sessions', { key: keyA });
    expect(list.body.sessions).toEqual([]);
    const inbox = await call<{ approvals: unknown[] }>(api, 'GET', '/v1/approvals', { key: keyA });
    expect(inbox.body.approvals).toEqual([]);
    const touched = calls.filter((c) => c.id === idB).map((c) => c.method);
    expect(new Set(touched)).toEqual(new Set(['getSession']));
    expect(calls.some((c) => c.method === 'readEvents' || c.method === 'sendSignal')).toBe(false);
    expect(await snapshotB()).toEqual(before);
  });
});
