import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  sessionId,
  type Budget,
  type ModelClient,
  type SessionId,
  type SessionStore,
} from '@longrun/core';
import { defineAgent, defineTool, type AgentDefinition } from '@longrun/runtime';
import { allEvents, runUntil } from '@longrun/runtime/testing';
import { generateApiKey } from './api-keys.ts';
import { createApi } from './create-api.ts';
import { serveApi, type ServedApi } from './serve-api.ts';
import type * as schemas from './schemas.ts';
import { sqliteStore } from './test-support.ts';

type SessionBody = { session: schemas.SessionViewData };

/** Calls `tick` (each time with new arguments: no stuck loop) on every turn until it has made `answerAfter` calls, then answers. */
function loopingModel(answerAfter: number): ModelClient {
  let calls = 0;
  return {
    id: 'scripted:budget-loop',
    stream: async () => {
      calls += 1;
      const done = calls > answerAfter;
      return {
        text: done ? 'done' : `tick ${calls}`,
        toolCalls: done ? [] : [{ id: `t${calls}`, name: 'tick', args: { n: calls } }],
        finishReason: done ? 'stop' : 'tool-calls',
        usage: { inputTokens: 100, outputTokens: 10 },
        modelId: 'scripted:budget-loop',
      };
    },
  };
}

const tick = defineTool({
  name: 'tick',
  description: 'ticks',
  input: z.object({ n: z.number() }),
  effect: 'pure',
  run: async ({ n }) => `ticked ${n}`,
});

/**
 * A budget given when a session is created over HTTP, by each role. The API here is told no
 * agents (as `serve` beside separate workers): only the worker knows the agent's own budget, so
 * the holding must happen there, from what the API recorded.
 */
describe('a creation budget over HTTP, held to the agent’s own below admin', () => {
  let store: SessionStore;
  let drop: () => Promise<void>;
  let served: ServedApi;
  const keys = { operator: '', admin: '', viewer: '' };
  const keyIds = { operator: '', admin: '' };

  beforeAll(async () => {
    ({ store, drop } = await sqliteStore());
    served = await serveApi(createApi({ store, auth: 'keys' }), { port: 0 });
    for (const role of ['operator', 'admin', 'viewer'] as const) {
      const made = await generateApiKey(store.apiKeys, 'acme', role, role);
      keys[role] = made.key;
      if (role !== 'viewer') keyIds[role] = made.record.id;
    }
  });
  afterAll(async () => {
    await served.close();
    await drop();
  });

  /** The probe's agent: 3 steps and 2 tool calls of its own; its model would go on for 10. */
  function budgeted(): AgentDefinition {
    return defineAgent({
      name: 'budgeted',
      model: loopingModel(10),
      instructions: 'Tick.',
      tools: [tick],
      budget: { steps: 3, toolCalls: 2 },
      workspaceRoot: mkdtempSync(join(tmpdir(), 'longrun-creation-budget-')),
      prices: { 'scripted:budget-loop': { inputUsdPerMTok: 1, outputUsdPerMTok: 1 } },
    });
  }

  async function request<T>(
    method: string,
    path: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${served.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  }

  async function create(key: string, budget: Budget): Promise<SessionId> {
    const body = { agent: 'budgeted', message: 'tick', budget };
    const created = await request<SessionBody>('POST', '/v1/sessions', key, body);
    expect(created.status).toBe(201);
    return sessionId(created.body.session.id);
  }

  /** Runs the session on a worker that has the agent, then reads it and its budget.sets over HTTP. */
  async function runAndRead(id: SessionId) {
    await runUntil({ store, agents: [budgeted()] }, id, ['paused', 'completed', 'failed']);
    const { body } = await request<SessionBody>('GET', `/v1/sessions/${id}`, keys.viewer);
    const events = await allEvents(store, id);
    const sets = events.flatMap((e) => (e.type === 'budget.set' ? [e.data] : []));
    const toolCalls = events.filter((e) => e.type === 'tool.completed').length;
    return { session: body.session, sets, toolCalls };
  }

  it("holds an operator's larger budget to the agent's, which pauses it at the agent's limits, and records the operator", async () => {
    const id = await create(keys.operator, { steps: 40, toolCalls: 40 });
    const { session, sets, toolCalls } = await runAndRead(id);
    expect(session.status).toBe('paused');
    expect(session.statusReason).toMatch(/^BUDGET_EXCEEDED: the toolCalls budget of 2 /);
    expect(session.budget?.limits).toEqual({ steps: 3, toolCalls: 2 });
    expect(session.steps).toBeLessThanOrEqual(3);
    expect(toolCalls).toBe(2);
    expect(sets).toEqual([
      {
        budget: { steps: 3, toolCalls: 2 },
        by: `api-key:${keyIds.operator}`,
        reason:
          "the budget the session was created with, over agent budgeted's own; steps, toolCalls held to the agent's (only an admin may raise them)",
      },
    ]);
  });

  it("holds an operator's fork, taken before the first budget.set, to the agent's as well", async () => {
    const source = await create(keys.operator, { steps: 40, toolCalls: 40 });
    const fork = await request<SessionBody>('POST', `/v1/sessions/${source}/fork`, keys.operator, {
      atSeq: 1,
    });
    expect(fork.status).toBe(201);
    const { session, sets } = await runAndRead(sessionId(fork.body.session.id));
    expect(session.status).toBe('paused');
    expect(session.budget?.limits).toEqual({ steps: 3, toolCalls: 2 });
    expect(sets.map((s) => s.by)).toEqual([`api-key:${keyIds.operator}`]);
  });

  it("applies an operator's tighter budget, and one the agent leaves unset, as the operator's", async () => {
    const id = await create(keys.operator, { steps: 1, costUsd: 5 });
    const { session, sets } = await runAndRead(id);
    expect(session.status).toBe('paused');
    expect(session.statusReason).toMatch(/^BUDGET_EXCEEDED: the steps budget of 1 /);
    expect(session.budget?.limits).toEqual({ steps: 1, toolCalls: 2, costUsd: 5 });
    expect(sets).toEqual([
      {
        budget: { steps: 1, toolCalls: 2, costUsd: 5 },
        by: `api-key:${keyIds.operator}`,
        reason: "the budget the session was created with, over agent budgeted's own",
      },
    ]);
  });

  it("applies an admin's larger budget, which raises the agent's, as the admin's", async () => {
    const id = await create(keys.admin, { steps: 6, toolCalls: 40 });
    const { session, sets, toolCalls } = await runAndRead(id);
    expect(session.status).toBe('paused');
    expect(session.statusReason).toMatch(/^BUDGET_EXCEEDED: the steps budget of 6 /);
    expect(session.steps).toBe(6);
    expect(toolCalls).toBe(6);
    expect(sets).toEqual([
      {
        budget: { steps: 6, toolCalls: 40 },
        by: `api-key:${keyIds.admin}`,
        reason: "the budget the session was created with, over agent budgeted's own",
      },
    ]);
  });

  it('records the agent’s own budget as the agent’s when the session is created without one', async () => {
    const created = await request<SessionBody>('POST', '/v1/sessions', keys.operator, {
      agent: 'budgeted',
      message: 'tick',
    });
    const { session, sets } = await runAndRead(sessionId(created.body.session.id));
    expect(session.budget?.limits).toEqual({ steps: 3, toolCalls: 2 });
    expect(sets).toEqual([
      { budget: { steps: 3, toolCalls: 2 }, by: 'agent:budgeted', reason: null },
    ]);
  });
});
