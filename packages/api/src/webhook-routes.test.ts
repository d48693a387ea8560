import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHash, randomBytes } from 'node:crypto';
import { event, webhookSignal, workerId, type SessionId, type SessionStore } from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { LogWriter, call } from './test-support.ts';
import { describeOnStores } from './test-stores.ts';
import { webhookBodyMaxBytes } from './routes/webhook-routes.ts';

const hashOf = (token: string) => createHash('sha256').update(token).digest('hex');

/**
 * `POST /v1/hooks/{token}` (no key: the token authorises) and
 * `POST /v1/sessions/{id}/signals/{name}` (a tenant's key), on a server that requires keys.
 */
describeOnStores('webhook and named-signal routes', (kind) => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  let key: string;
  let id: SessionId;
  const single = randomBytes(32).toString('base64url');
  const multi = randomBytes(32).toString('base64url');

  beforeAll(async () => {
    ({ store, drop } = await kind.open());
    api = createApi({ store, auth: 'keys' });
    key = (await generateApiKey(store.apiKeys, 'tenant-a', 'a', 'admin')).key;
    id = (await store.createSession({ tenantId: 'tenant-a', agent: 'ci', input: 'x' })).id;
    const log = await LogWriter.claim(store, id);
    const { leaseEpoch: epoch } = await store.getSession(id);
    const fence = { sessionId: id, owner: workerId('test-writer'), epoch };
    const hook = { multiUse: false, expiresAtMs: null };
    await store.webhooks.register(fence, { ...hook, hookId: 'one', tokenHash: hashOf(single) });
    await store.webhooks.register(fence, {
      ...hook,
      multiUse: true,
      hookId: 'many',
      tokenHash: hashOf(multi),
    });
    await log.append(
      [event('wait.started', { waitId: 'w', kind: 'signal', signal: webhookSignal('one') })],
      { status: { status: 'waiting', waitingFor: webhookSignal('one') }, releaseLease: true },
    );
  });
  afterAll(async () => {
    api.close();
    await drop();
  });

  it('delivers a single-use hook once without a key: 202, then 410 GONE; the session wakes', async () => {
    const first = await call(api, 'POST', `/v1/hooks/${single}`, { body: { ci: 'green' } });
    expect(first.status).toBe(202);
    const delivery = first.body as { delivered: boolean; signalId: unknown };
    expect(delivery.delivered).toBe(true);
    expect(typeof delivery.signalId).toBe('string');
    expect((await store.getSession(id)).status).toBe('queued');
    const again = await call(api, 'POST', `/v1/hooks/${single}`, { body: { ci: 'red' } });
    expect(again.status).toBe(410);
    expect(again.body).toMatchObject({ error: { code: 'GONE' } });
    const pending = await store.pendingSignals(id, webhookSignal('one'));
    expect(pending.map((s) => s.payload)).toEqual([{ ci: 'green' }]);
  });

  it('takes a multi-use hook any number of times; an empty body is null', async () => {
    for (const body of [1, undefined, JSON.stringify('three')]) {
      const r = await call(api, 'POST', `/v1/hooks/${multi}`, body === undefined ? {} : { body });
      expect(r.status).toBe(202);
    }
    const pending = await store.pendingSignals(id, webhookSignal('many'));
    expect(pending.map((s) => s.payload)).toEqual([1, null, 'three']);
  });

  it('answers 404 for a token no hook has, and 413 for a body over its cap', async () => {
    const unknown = await call(api, 'POST', `/v1/hooks/${randomBytes(32).toString('base64url')}`, {
      body: {},
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: 'NOT_FOUND' } });
    const big = await call(api, 'POST', `/v1/hooks/${multi}`, {
      body: { blob: 'x'.repeat(webhookBodyMaxBytes) },
    });
    expect(big.status).toBe(413);
  });

  it("delivers a named signal with the body as payload, scoped to the key's tenant", async () => {
    const sent = await call(api, 'POST', `/v1/sessions/${id}/signals/deploy.done`, {
      key,
      body: { version: 7 },
    });
    expect(sent.status).toBe(202);
    expect((await store.pendingSignals(id, 'deploy.done')).map((s) => s.payload)).toEqual([
      { version: 7 },
    ]);
    const noKey = await call(api, 'POST', `/v1/sessions/${id}/signals/deploy.done`, { body: 1 });
    expect(noKey.status).toBe(401);
    const other = (await generateApiKey(store.apiKeys, 'tenant-b', 'b', 'admin')).key;
    const foreign = await call(api, 'POST', `/v1/sessions/${id}/signals/deploy.done`, {
      key: other,
      body: 1,
    });
    expect(foreign.status).toBe(404);
    for (const name of ['cancel', 'hook:one', 'approval:apr_1']) {
      const refused = await call(
        api,
        'POST',
        `/v1/sessions/${id}/signals/${encodeURIComponent(name)}`,
        { key, body: null },
      );
      expect(refused.status, name).toBe(400);
    }
    expect(await store.pendingSignals(id, webhookSignal('one'))).toHaveLength(1);
  });
});
