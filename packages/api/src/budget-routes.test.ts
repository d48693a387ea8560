import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sessionId, workerId, type ModelClient, type SessionStore } from '@longrun/core';
import { defineAgent, defineTool } from '@longrun/runtime';
import { runUntil } from '@longrun/runtime/testing';
import { z } from 'zod';
import { generateApiKey } from './api-keys.ts';
import { createApi, type Api } from './create-api.ts';
import * as schemas from './schemas.ts';
import type { ErrorBody } from './http-errors.ts';
import { call, sqliteStore } from './test-support.ts';

type SessionBody = { session: schemas.SessionViewData };

/** Calls `tick` on every turn until it has made `answerAfter` calls, then answers. */
function loopingModel(answerAfter: number): ModelClient {
  let calls = 0;
  return {
    id: 'scripted:api-loop',
    stream: async () => {
      calls += 1;
      const done = calls > answerAfter;
      return {
        text: done ? 'done' : `tick ${calls}`,
        toolCalls: done ? [] : [{ id: `t${calls}`, name: 'tick', args: {} }],
        finishReason: done ? 'stop' : 'tool-calls',
        usage: { inputTokens: 100, outputTokens: 10 },
        modelId: 'scripted:api-loop',
      };
    },
  };
}

const tick = defineTool({
  name: 'tick',
  description: 'ticks',
  input: z.object({}),
  effect: 'pure',
  run: async () => 'ticked',
});

describe('budgets over the API', () => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let api: Api;
  let key: string;

  beforeAll(async () => {
    ({ store, drop } = await sqliteStore());
    api = createApi({ store, auth: 'keys' });
    key = (await generateApiKey(store.apiKeys, 'default', 'ops', 'admin')).key;
  });
  afterAll(() => drop());

  it('creates a session with a budget, shows its use, and raising it resumes the paused session to completion', async () => {
    const agent = defineAgent({
      name: 'ticker',
      model: loopingModel(5),
      instructions: 'Tick.',
      tools: [tick],
      workspaceRoot: mkdtempSync(join(tmpdir(), 'longrun-budget-api-')),
      prices: { 'scripted:api-loop': { inputUsdPerMTok: 1_000, outputUsdPerMTok: 1_000 } },
    });
    const created = await call<SessionBody>(api, 'POST', '/v1/sessions', {
      key,
      body: { agent: 'ticker', message: 'tick', budget: { steps: 3, costUsd: 10 } },
    });
    expect(created.status).toBe(201);
    const id = sessionId(created.body.session.id);
    expect(created.body.session.budget?.limits).toEqual({ steps: 3, costUsd: 10 });
    await runUntil({ store, agents: [agent] }, id, ['paused', 'completed', 'failed']);

    const paused = await call<SessionBody>(api, 'GET', `/v1/sessions/${id}`, { key });
    expect(schemas.SessionResponse.safeParse(paused.body).success).toBe(true);
    expect(paused.body.session).toMatchObject({
      status: 'paused',
      statusReason: expect.stringMatching(/^BUDGET_EXCEEDED: the steps budget of 3/) as string,
    });
    // Three calls of 110 tokens at $1 per thousand; nothing reserved once they settled.
    expect(paused.body.session.budget).toMatchObject({
      used: { steps: 3, toolCalls: 3, inputTokens: 300, outputTokens: 30 },
      reservedUsd: 0,
      remaining: { steps: 0 },
    });
    expect(paused.body.session.budget?.used.costUsd).toBeCloseTo(0.33, 9);
    expect(paused.body.session.budget?.remaining.costUsd).toBeCloseTo(9.67, 9);

    const bad = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/budget`, {
      key,
      body: { budget: { steps: -1 } },
    });
    expect(bad.status).toBe(400);
    const raised = await call<SessionBody>(api, 'POST', `/v1/sessions/${id}/budget`, {
      key,
      body: { budget: { steps: 50 }, reason: 'let it finish' },
    });
    expect(raised.status).toBe(202);
    expect(raised.body.session.status).toBe('queued');
    await runUntil({ store, agents: [agent] }, id, ['completed', 'failed', 'paused']);
    const done = await call<SessionBody>(api, 'GET', `/v1/sessions/${id}`, { key });
    expect(done.body.session).toMatchObject({ status: 'completed', steps: 6 });
    expect(done.body.session.budget?.limits).toEqual({ steps: 50, costUsd: 10 });
    const finished = await call<ErrorBody>(api, 'POST', `/v1/sessions/${id}/budget`, {
      key,
      body: { budget: { steps: 60 } },
    });
    expect(finished.status).toBe(409);
  });
});

describe("a tenant's day over the API", () => {
  it("GET /v1/usage shows the caller's tenant's spend today against its daily limits, and nobody else's", async () => {
    const { store, drop } = await sqliteStore();
    const api = createApi({
      store,
      auth: 'keys',
      tenantDailyBudgets: { acme: { costUsd: 5, outputTokens: 1_000 } },
    });
    try {
      const acme = (await generateApiKey(store.apiKeys, 'acme', 'usage', 'viewer')).key;
      const other = (await generateApiKey(store.apiKeys, 'other', 'usage', 'viewer')).key;
      const s = await store.createSession({ tenantId: 'acme', agent: 'a', input: null });
      const lease = await store.claim(s.id, workerId('usage-test'), 60_000);
      if (lease === null) throw new Error('not claimable');
      const spend = { costUsd: 1.25, inputTokens: 300, outputTokens: 200, cacheTokens: 0 };
      await store.tenantSpend.reserve(lease, { reservationId: 'r2', spend, limits: {} });
      const mine = await call<schemas.TenantUsageData>(api, 'GET', '/v1/usage', { key: acme });
      expect(mine.status).toBe(200);
      expect(mine.body).toMatchObject({
        tenantId: 'acme',
        used: spend,
        calls: 1,
        limits: { costUsd: 5, outputTokens: 1_000 },
        remaining: { costUsd: 3.75, outputTokens: 800 },
      });
      const theirs = await call<schemas.TenantUsageData>(api, 'GET', '/v1/usage', { key: other });
      expect(theirs.body).toMatchObject({
        tenantId: 'other',
        calls: 0,
        limits: null,
        remaining: {},
      });
      const past = await call<schemas.TenantUsageData>(api, 'GET', '/v1/usage?day=2020-01-01', {
        key: acme,
      });
      expect(past.body).toMatchObject({ day: '2020-01-01', calls: 0 });
      const bad = await call<ErrorBody>(api, 'GET', '/v1/usage?day=yesterday', { key: acme });
      expect(bad.status).toBe(400);
      expect(bad.body.error.code).toBe('INVALID_ARGUMENT');
    } finally {
      api.close();
      await drop();
    }
  });
});
