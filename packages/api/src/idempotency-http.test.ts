import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import { describeOnStores } from './test-stores.ts';

describeOnStores('100 concurrent creations with one Idempotency-Key over real HTTP', (kind) => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  let served: ServedApi;
  let key: string;

  beforeAll(async () => {
    ({ store, drop } = await kind.open());
    api = createApi({ store, auth: 'keys' });
    served = await serveApi(api, { port: 0 });
    key = (await generateApiKey(store.apiKeys, 'idem', 'test', 'admin')).key;
  });
  afterAll(async () => {
    await served.close();
    await drop();
  });

  const post = (body: unknown, idempotencyKey: string) =>
    fetch(`${served.url}/v1/sessions`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${key}`,
        'content-type': 'application/json',
        'idempotency-key': idempotencyKey,
      },
      body: JSON.stringify(body),
    });

  it('makes exactly one session; the same key with another body is 409', async () => {
    const body = { agent: 'coder', message: 'once', input: { n: 1 } };
    const responses = await Promise.all(Array.from({ length: 100 }, () => post(body, 'k-100')));
    const bodies = (await Promise.all(responses.map((r) => r.json()))) as {
      session: { id: string };
    }[];
    const statuses = responses.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 200)).toHaveLength(99);
    expect(responses.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(
      99,
    );
    expect(new Set(bodies.map((b) => b.session.id)).size).toBe(1);
    expect(await store.listSessions({ tenantId: 'idem', limit: 1_000 })).toHaveLength(1);
    const other = await post({ ...body, message: 'twice' }, 'k-100');
    expect(other.status).toBe(409);
    expect(await other.json()).toMatchObject({ error: { code: 'IDEMPOTENCY_CONFLICT' } });
    expect(await store.listSessions({ tenantId: 'idem', limit: 1_000 })).toHaveLength(1);
  });
});
