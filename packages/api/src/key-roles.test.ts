import { afterAll, beforeAll, expect, it } from 'vitest';
import {
  apiKeyRoles,
  event,
  sessionId,
  type ApiKeyRole,
  type SessionId,
  type SessionStore,
} from '@longrun/core';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import { LogWriter, call } from './test-support.ts';
import { describeOnStores } from './test-stores.ts';

type ErrorBody = { error: { code: string; message: string } };

/**
 * The role each route allows, written out here (not read from the route table), so that a route
 * whose access changes, or a new one, fails this test until someone decides who may call it.
 */
const everyone: ApiKeyRole[] = ['admin', 'approver', 'operator', 'viewer'];
const operators: ApiKeyRole[] = ['admin', 'operator'];
const approvers: ApiKeyRole[] = ['admin', 'approver'];
const expectedRoles: Record<string, ApiKeyRole[]> = {
  'get /v1/agents': everyone,
  'get /v1/figures': everyone,
  'get /v1/usage': everyone,
  'post /v1/sessions': operators,
  'get /v1/sessions': everyone,
  'post /v1/sessions/{id}/fork': operators,
  'get /v1/sessions/{id}': everyone,
  'get /v1/sessions/{id}/events': everyone,
  'get /v1/sessions/{id}/stream': everyone,
  'get /v1/sessions/{id}/tree': everyone,
  'post /v1/sessions/{id}/messages': operators,
  'post /v1/sessions/{id}/signals': operators,
  'post /v1/sessions/{id}/signals/{name}': operators,
  'post /v1/sessions/{id}/cancel': operators,
  'post /v1/sessions/{id}/resume': operators,
  'post /v1/sessions/{id}/budget': ['admin'],
  'get /v1/approvals': everyone,
  'get /v1/sessions/{id}/approvals/{approvalId}': everyone,
  'post /v1/sessions/{id}/approvals/{approvalId}': approvers,
  'get /v1/sessions/{id}/files/diff': everyone,
  'get /v1/sessions/{id}/bundle': everyone,
  'get /v1/sessions/{id}/files': everyone,
  'get /v1/sessions/{id}/files/content': everyone,
  'post /v1/schedules': operators,
  'get /v1/schedules': everyone,
  'get /v1/schedules/{id}': everyone,
  'post /v1/schedules/{id}/pause': operators,
  'post /v1/schedules/{id}/resume': operators,
  'delete /v1/schedules/{id}': operators,
  'get /v1/keys': ['admin'],
  'post /v1/keys': ['admin'],
  'post /v1/keys/{keyId}/revoke': ['admin'],
};

describeOnStores('API key roles', (kind) => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  const keys = {} as Record<ApiKeyRole, { key: string; id: string }>;
  let otherApprover: string;

  beforeAll(async () => {
    ({ store, drop } = await kind.open());
    api = createApi({ store, auth: 'keys', agents: ['deployer'] });
    for (const role of apiKeyRoles) {
      const made = await generateApiKey(store.apiKeys, 'tenant-a', role, role);
      keys[role] = { key: made.key, id: made.record.id };
    }
    otherApprover = (await generateApiKey(store.apiKeys, 'tenant-b', 'b', 'approver')).key;
  });
  afterAll(async () => {
    api.close();
    await drop();
  });

  /** A session of tenant A whose deploy call waits for approval `approvalId`. */
  async function waitingForApproval(
    approvalId: string,
    expiresAtMs: number | null = null,
  ): Promise<SessionId> {
    const made = await call<{ session: { id: string } }>(api, 'POST', '/v1/sessions', {
      key: keys.operator.key,
      body: { agent: 'deployer', message: 'deploy' },
    });
    expect(made.status).toBe(201);
    const id = sessionId(made.body.session.id);
    const log = await LogWriter.claim(store, id);
    await log.append([
      event('model.responded', {
        step: 1,
        text: 'deploying',
        toolCalls: [{ callIndex: 0, tool: 'deploy', args: { env: 'prod' } }],
        usage: { inputTokens: 1, outputTokens: 1 },
        modelId: 'test:model',
      }),
      event('approval.requested', {
        approvalId,
        step: 1,
        callIndex: 0,
        tool: 'deploy',
        argsHash: 'hash-of-args',
        expiresAtMs,
      }),
      event('wait.started', {
        waitId: approvalId,
        kind: 'signal',
        signal: `approval:${approvalId}`,
      }),
    ]);
    await log.append([], {
      status: { status: 'waiting', waitingFor: `approval:${approvalId}` },
      releaseLease: true,
    });
    return id;
  }

  const decide = (id: string, approvalId: string, key: string, body: unknown) =>
    call<ErrorBody & { scope?: string }>(
      api,
      'POST',
      `/v1/sessions/${id}/approvals/${approvalId}`,
      {
        key,
        body,
      },
    );

  it('every route answers each role as its access says, and the OpenAPI document says so', async () => {
    const doc = await call<{ paths: Record<string, Record<string, Record<string, unknown>>> }>(
      api,
      'GET',
      '/v1/openapi.json',
    );
    const documented: Record<string, unknown> = {};
    for (const [path, ops] of Object.entries(doc.body.paths))
      for (const [method, op] of Object.entries(ops))
        if (op['x-longrun-roles'] !== undefined)
          documented[`${method} ${path}`] = op['x-longrun-roles'];
    const sorted = (roles: unknown) => [...(roles as string[])].sort();
    expect(Object.fromEntries(Object.entries(documented).map(([k, v]) => [k, sorted(v)]))).toEqual(
      Object.fromEntries(Object.entries(expectedRoles).map(([k, v]) => [k, sorted(v)])),
    );
    for (const [route, allowed] of Object.entries(expectedRoles)) {
      const [method = '', template = ''] = route.split(' ');
      // Names no existing thing: a role that may call the route gets past the role check to a
      // 404 or a 400, never a 403.
      const path = template.replace(/\{[A-Za-z]+\}/g, 'nope');
      for (const role of apiKeyRoles) {
        const r = await call<ErrorBody>(api, method.toUpperCase(), path, {
          key: keys[role].key,
          ...(method === 'get' ? {} : { body: {} }),
        });
        if (allowed.includes(role)) {
          expect(r.status, `${role} ${route}`).not.toBe(403);
        } else {
          expect(r.status, `${role} ${route}`).toBe(403);
          expect(r.body.error.code).toBe('PERMISSION_DENIED');
          expect(r.body.error.message).toContain(`has role ${role}`);
        }
      }
    }
  });

  it('a viewer or an operator cannot decide an approval: 403, a code, the role it needs; nothing is sent', async () => {
    const id = await waitingForApproval('apr_roles1');
    for (const role of ['viewer', 'operator'] as const) {
      const r = await decide(id, 'apr_roles1', keys[role].key, { decision: 'approve' });
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe('PERMISSION_DENIED');
      expect(r.body.error.message).toMatch(
        new RegExp(
          `has role ${role}; .*deciding approvals and needs role approver \\(or admin\\).*--role approver`,
        ),
      );
    }
    expect(await store.pendingSignals(id, 'approval:apr_roles1')).toEqual([]);
    // Readers still see the inbox.
    const inbox = await call<{ approvals: { approvalId: string }[] }>(api, 'GET', '/v1/approvals', {
      key: keys.viewer.key,
    });
    expect(inbox.body.approvals.map((a) => a.approvalId)).toContain('apr_roles1');
  });

  it('an approver of another tenant gets the same 404 as for a session that does not exist', async () => {
    const id = await waitingForApproval('apr_roles2');
    const foreign = await decide(id, 'apr_roles2', otherApprover, { decision: 'approve' });
    const missing = await decide('ses_doesnotexist', 'apr_roles2', otherApprover, {
      decision: 'approve',
    });
    expect(foreign.status).toBe(404);
    expect(foreign.body.error.code).toBe('NOT_FOUND');
    expect(missing.status).toBe(404);
    expect(foreign.body.error.message.replace(id, 'X')).toBe(
      missing.body.error.message.replace('ses_doesnotexist', 'X'),
    );
    expect(await store.pendingSignals(id, 'approval:apr_roles2')).toEqual([]);
  });

  it("an approver decides, with a scope; the log's `by` is its key id, which the body cannot set", async () => {
    const id = await waitingForApproval('apr_roles3');
    const forged = await decide(id, 'apr_roles3', keys.approver.key, {
      decision: 'approve',
      by: 'the-boss',
    });
    expect(forged.status).toBe(400);
    const badScope = await decide(id, 'apr_roles3', keys.approver.key, {
      decision: 'approve',
      scope: 'forever',
    });
    expect(badScope.status).toBe(400);
    const ok = await decide(id, 'apr_roles3', keys.approver.key, {
      decision: 'approve',
      scope: 'tool',
    });
    expect(ok).toMatchObject({
      status: 200,
      body: { approvalId: 'apr_roles3', decision: 'approve', scope: 'tool' },
    });
    expect((await store.pendingSignals(id, 'approval:apr_roles3'))[0]?.payload).toEqual({
      decision: 'granted',
      by: `api-key:${keys.approver.id}`,
      reason: null,
      argsHash: 'hash-of-args',
      scope: 'tool',
    });
    // Replayed, or re-scoped: refused, the first decision stands.
    const again = await decide(id, 'apr_roles3', keys.admin.key, {
      decision: 'approve',
      scope: 'call',
    });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('INVALID_STATE');
    expect(await store.pendingSignals(id, 'approval:apr_roles3')).toHaveLength(1);
  });

  it('a decision on an expired approval is refused: 410 GONE', async () => {
    const id = await waitingForApproval('apr_roles4', 1);
    const r = await decide(id, 'apr_roles4', keys.approver.key, { decision: 'approve' });
    expect(r.status).toBe(410);
    expect(r.body.error.code).toBe('GONE');
    expect(r.body.error.message).toMatch(/expired/);
    expect(await store.pendingSignals(id, 'approval:apr_roles4')).toEqual([]);
  });
});

describeOnStores('API keys through the API', (kind) => {
  it("an admin lists, creates with a role and revokes its tenant's keys; others cannot", async () => {
    const { store, drop } = await kind.open();
    const api = createApi({ store, auth: 'keys' });
    try {
      const admin = (await generateApiKey(store.apiKeys, 'tenant-a', 'root', 'admin')).key;
      const operator = (await generateApiKey(store.apiKeys, 'tenant-a', 'ci', 'operator')).key;
      const otherAdmin = (await generateApiKey(store.apiKeys, 'tenant-b', 'root', 'admin')).key;
      const made = await call<{ key: string; apiKey: { id: string; role: string } }>(
        api,
        'POST',
        '/v1/keys',
        { key: admin, body: { name: 'reviewer', role: 'approver' } },
      );
      expect(made.status).toBe(201);
      expect(made.body.apiKey).toMatchObject({
        tenantId: 'tenant-a',
        name: 'reviewer',
        role: 'approver',
      });
      const plain = await call<{ apiKey: { role: string } }>(api, 'POST', '/v1/keys', {
        key: admin,
      });
      expect(plain.body.apiKey.role).toBe('operator');
      // The new key works, with its role: it may read, and not create sessions.
      expect((await call(api, 'GET', '/v1/sessions', { key: made.body.key })).status).toBe(200);
      expect(
        (
          await call(api, 'POST', '/v1/sessions', {
            key: made.body.key,
            body: { agent: 'a', message: 'm' },
          })
        ).status,
      ).toBe(403);
      const listed = await call<{ keys: Record<string, unknown>[] }>(api, 'GET', '/v1/keys', {
        key: admin,
      });
      // Oldest first; keys made in the same millisecond (root and ci, here) in no set order.
      expect(listed.body.keys.map((k) => k.name).sort()).toEqual(
        ['root', 'ci', 'reviewer', 'default'].sort(),
      );
      const times = listed.body.keys.map((k) => Number(k.createdAtMs));
      expect(times).toEqual(times.toSorted((a, b) => a - b));
      expect(listed.body.keys.every((k) => !('secretHash' in k))).toBe(true);
      expect(JSON.stringify(listed.body)).not.toContain(made.body.key.slice(-43));
      const denied = await call<ErrorBody>(api, 'POST', '/v1/keys', { key: operator, body: {} });
      expect(denied.status).toBe(403);
      expect(denied.body.error.message).toMatch(/needs role admin/);
      // Another tenant's admin: the same 404 as for a key that does not exist.
      const foreign = await call<ErrorBody>(api, 'POST', `/v1/keys/${made.body.apiKey.id}/revoke`, {
        key: otherAdmin,
      });
      expect(foreign.status).toBe(404);
      expect((await call(api, 'GET', '/v1/sessions', { key: made.body.key })).status).toBe(200);
      const revoked = await call<{ apiKey: { revokedAtMs: number | null } }>(
        api,
        'POST',
        `/v1/keys/${made.body.apiKey.id}/revoke`,
        { key: admin },
      );
      expect(revoked.status).toBe(200);
      expect(typeof revoked.body.apiKey.revokedAtMs).toBe('number');
      expect((await call(api, 'GET', '/v1/sessions', { key: made.body.key })).status).toBe(401);
    } finally {
      api.close();
      await drop();
    }
  });
});

describeOnStores('a server without keys', (kind) => {
  it('has no roles: a decision is taken as before, by `api`', async () => {
    const { store, drop } = await kind.open();
    const api = createApi({ store, auth: 'none', agents: ['deployer'] });
    try {
      const made = await call<{ session: { id: string } }>(api, 'POST', '/v1/sessions', {
        body: { agent: 'deployer', message: 'deploy' },
      });
      const id = sessionId(made.body.session.id);
      const log = await LogWriter.claim(store, id);
      await log.append([
        event('approval.requested', {
          approvalId: 'apr_open',
          step: 0,
          callIndex: 0,
          tool: 'deploy',
          argsHash: 'h',
          expiresAtMs: null,
        }),
      ]);
      const r = await call(api, 'POST', `/v1/sessions/${id}/approvals/apr_open`, {
        body: { decision: 'approve', scope: 'arguments' },
      });
      expect(r.status).toBe(200);
      expect((await store.pendingSignals(id, 'approval:apr_open'))[0]?.payload).toMatchObject({
        by: 'api',
        scope: 'arguments',
      });
    } finally {
      api.close();
      await drop();
    }
  });
});
