import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import {
  chargedSpend,
  fold,
  type ModelClient,
  type SessionId,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentConfig } from '../agent/define-agent.ts';
import { changeBudget } from '../agent/budget-commands.ts';
import { resumeSession } from '../agent/session-commands.ts';
import { Worker } from '../worker.ts';

const add = defineTool({
  name: 'add',
  description: 'adds two numbers',
  input: z.object({ a: z.number(), b: z.number() }),
  effect: 'pure',
  run: async ({ a, b }) => a + b,
});

/** A model that calls `add` forever, or answers once it has made `answerAfter` calls. */
function looping(answerAfter = Infinity) {
  return scriptedModel(
    (_r, call): ScriptedTurn =>
      call > answerAfter
        ? { text: 'done' }
        : {
            text: `call ${call}`,
            toolCalls: [{ id: `c${call}`, name: 'add', args: { a: call, b: 1 } }],
          },
    { id: 'scripted:loop' },
  );
}

/** $1 per thousand tokens: a budget of a few dollars lasts a few calls. */
const price = { inputUsdPerMTok: 1_000, outputUsdPerMTok: 1_000 };

async function setup(model: ReturnType<typeof looping>, extra: Partial<AgentConfig> = {}) {
  const dir = tempDir('budget');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const agent = defineAgent({
    name: 'looper',
    model,
    instructions: 'You add numbers forever.',
    tools: [add],
    workspaceRoot: join(dir, 'ws'),
    maxOutputTokens: 50,
    maxSteps: 10_000,
    prices: { 'scripted:loop': price },
    ...extra,
  });
  const run = (id: SessionId, statuses = ['completed', 'failed', 'paused']) =>
    runUntil({ store, agents: [agent] }, id, statuses);
  return { store, agent, run };
}

const ofType = <T extends StoredEvent['type']>(events: StoredEvent[], type: T) =>
  events.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);

describe('budgets', () => {
  it('stops a model that loops forever within one call of its cost budget, every call reserved and settled once', async () => {
    const model = looping();
    const { store, run } = await setup(model);
    const s = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { costUsd: 3 },
    });
    await run(s.id);
    const record = await store.getSession(s.id);
    expect(record.status).toBe('paused');
    expect(record.statusReason).toMatch(
      /^BUDGET_EXCEEDED: the costUsd budget of \$3\.0000 is used up/,
    );
    const events = await allEvents(store, s.id);
    const decided = ofType(events, 'gate.decided').at(-1);
    expect(decided?.data).toMatchObject({
      gate: 'budget',
      decision: 'pause',
      code: 'BUDGET_EXCEEDED',
    });
    const reserved = ofType(events, 'budget.reserved');
    const settled = ofType(events, 'budget.settled');
    // Every call the model received was reserved before it was sent and settled once after.
    expect(model.requests.length).toBeGreaterThan(2);
    expect(reserved.length).toBe(model.requests.length);
    expect(new Set(settled.map((e) => e.data.reservationId))).toEqual(
      new Set(reserved.map((e) => e.data.reservationId)),
    );
    expect(settled.length).toBe(reserved.length);
    const ledger = fold(events).budget;
    expect(ledger?.open).toEqual([]);
    const charged = chargedSpend(ledger!).costUsd;
    const largest = Math.max(...reserved.map((e) => e.data.costUsd));
    console.log(
      `[budget loop] limit $3: ${model.requests.length} calls, charged $${charged.toFixed(4)}, largest reservation $${largest.toFixed(4)}, overshoot $${Math.max(0, charged - 3).toFixed(4)}`,
    );
    // Overshoot at most one call's reservation; and the next call truly did not fit.
    expect(charged).toBeLessThanOrEqual(3 + largest);
    expect(3 - charged).toBeLessThan(largest);
    // The settled spend is the usage the model reported, at list price.
    const responded = ofType(events, 'model.responded');
    const tokens = responded.reduce(
      (n, e) => n + e.data.usage.inputTokens + e.data.usage.outputTokens,
      0,
    );
    expect(charged).toBeCloseTo(tokens / 1_000, 9);
  });

  it('pauses at the steps budget and resumes to completion when the budget is raised', async () => {
    const { store, run } = await setup(looping(5));
    const s = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { steps: 2 },
    });
    await run(s.id);
    let record = await store.getSession(s.id);
    expect(record.status).toBe('paused');
    expect(record.statusReason).toMatch(/^BUDGET_EXCEEDED: the steps budget of 2/);
    const { resumed } = await changeBudget(store, s.id, {
      by: 'ops',
      reason: null,
      change: { steps: 20 },
    });
    expect(resumed).toBe(true);
    await run(s.id, ['completed', 'failed']);
    record = await store.getSession(s.id);
    expect(record.status).toBe('completed');
    const events = await allEvents(store, s.id);
    const set = ofType(events, 'budget.set');
    expect(set.at(-1)?.data).toMatchObject({
      by: 'ops',
      budget: { steps: 20 },
      change: { steps: 20 },
    });
    // Recorded after the session.resumed, whose head check saw the log as it was paused.
    const types = events.map((e) => e.type);
    expect(types.indexOf('session.resumed')).toBeLessThan(types.lastIndexOf('budget.set'));
    expect(fold(events).steps).toBe(6);
  });

  it('pauses before the tool call past a per-tool budget, merged under the agent’s defaults', async () => {
    const { store, run } = await setup(looping(), {
      budget: { toolCallsPerTool: { add: 2 }, steps: 50 },
    });
    const s = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { steps: 40 },
    });
    await run(s.id);
    const record = await store.getSession(s.id);
    expect(record.statusReason).toMatch(/^BUDGET_EXCEEDED: the toolCallsPerTool.add budget of 2/);
    const events = await allEvents(store, s.id);
    expect(ofType(events, 'budget.set')[0]?.data.budget).toEqual({
      toolCallsPerTool: { add: 2 },
      steps: 40,
    });
    expect(ofType(events, 'tool.completed')).toHaveLength(2);
    expect(ofType(events, 'gate.decided').at(-1)?.data).toMatchObject({
      point: 'tool.call',
      code: 'BUDGET_EXCEEDED',
    });
  });

  it('holds a creation budget whose giver may not raise to the agent’s own, and lets the local CLI’s raise it', async () => {
    const { store, run } = await setup(looping(), {
      budget: { toolCallsPerTool: { add: 2 }, steps: 50 },
    });
    const held = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { toolCallsPerTool: { add: 30 }, steps: 40 },
      budgetSetBy: { by: 'api-key:op', mayRaise: false },
    });
    await run(held.id);
    expect((await store.getSession(held.id)).statusReason).toMatch(
      /^BUDGET_EXCEEDED: the toolCallsPerTool.add budget of 2/,
    );
    expect(ofType(await allEvents(store, held.id), 'budget.set').map((e) => e.data)).toEqual([
      {
        budget: { toolCallsPerTool: { add: 2 }, steps: 40 },
        by: 'api-key:op',
        reason:
          "the budget the session was created with, over agent looper's own; toolCallsPerTool.add held to the agent's (only an admin may raise them)",
      },
    ]);
    const local = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { toolCallsPerTool: { add: 3 } },
      budgetSetBy: { by: 'cli', mayRaise: true },
    });
    await run(local.id);
    expect(ofType(await allEvents(store, local.id), 'tool.completed')).toHaveLength(3);
    expect(ofType(await allEvents(store, local.id), 'budget.set')[0]?.data).toMatchObject({
      budget: { toolCallsPerTool: { add: 3 }, steps: 50 },
      by: 'cli',
    });
    await expect(
      store.createSession({
        agent: 'looper',
        input: null,
        budgetSetBy: { by: 'cli', mayRaise: true },
      }),
    ).rejects.toThrow(/budgetSetBy names who gave a budget: pass budget too/);
  });

  it('pauses a session past its wall-clock budget before its next model call, counted from its creation', async () => {
    const model = looping(1);
    const { store, run } = await setup(model);
    const s = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { wallClockMs: 0 },
    });
    await run(s.id);
    expect((await store.getSession(s.id)).statusReason).toMatch(
      /^BUDGET_EXCEEDED: the wallClockMs budget of 0 is used up/,
    );
    expect(model.requests).toHaveLength(0);
    await changeBudget(store, s.id, {
      by: 'ops',
      reason: null,
      change: { wallClockMs: 3_600_000 },
    });
    await run(s.id, ['completed', 'failed']);
    expect((await store.getSession(s.id)).status).toBe('completed');
    expect(model.requests).toHaveLength(2);
  });

  it('fails a session whose cost budget meets a model with no price, and refuses such an agent', async () => {
    const { store, run } = await setup(looping(), { prices: {} });
    const s = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { costUsd: 1 },
    });
    await run(s.id);
    const events = await allEvents(store, s.id);
    expect(fold(events).failure).toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/model scripted:loop has no known price/) as string,
    });
    expect(() =>
      defineAgent({ name: 'x', model: looping(), instructions: '', budget: { costUsd: 1 } }),
    ).toThrow(/costUsd budget but model scripted:loop has no known price/);
    await expect(
      store.createSession({ agent: 'looper', input: null, budget: { costUsd: -1 } }),
    ).rejects.toThrow(/budget.costUsd must be a number ≥ 0/);
  });

  it('charges compaction summaries and evaluator calls like any model call: reserved before, settled once', async () => {
    const evaluator: ModelClient = {
      id: 'scripted:judge',
      stream: async () => ({
        text: '',
        toolCalls: [
          {
            id: 'v',
            name: 'submit_verdict',
            args: { verdicts: [{ criterion: 1, passed: true, reason: 'fine' }] },
          },
        ],
        finishReason: 'tool-calls',
        usage: { inputTokens: 40, outputTokens: 5 },
        modelId: 'scripted:judge',
      }),
    };
    const model = scriptedModel(
      (_r, call): ScriptedTurn =>
        call > 30
          ? { text: 'done' }
          : {
              text: `call ${call} ${'x'.repeat(300)}`,
              toolCalls: [{ id: `c${call}`, name: 'add', args: { a: call, b: 1 } }],
            },
      { id: 'scripted:loop' },
    );
    const { store, run } = await setup(model, {
      context: { windowTokens: 1_500, keepRecentTurns: 2 },
      outcome: { rubric: ['it adds'], evaluator: { model: evaluator, commands: false } },
      prices: { 'scripted:loop': price, 'scripted:judge': price },
    });
    const s = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { costUsd: 1_000 },
    });
    await run(s.id);
    expect((await store.getSession(s.id)).status).toBe('completed');
    const events = await allEvents(store, s.id);
    const reserved = ofType(events, 'budget.reserved');
    const kinds = (kind: string) => reserved.filter((e) => e.data.kind === kind);
    const compactions = ofType(events, 'context.compacted');
    expect(compactions.length).toBeGreaterThan(0);
    expect(kinds('compaction')).toHaveLength(compactions.length);
    expect(kinds('evaluator')).toHaveLength(1);
    expect(kinds('step')).toHaveLength(ofType(events, 'model.responded').length);
    expect(reserved.length).toBe(model.requests.length + 1);
    const settled = ofType(events, 'budget.settled');
    expect(settled.map((e) => e.data.reservationId).sort()).toEqual(
      reserved.map((e) => e.data.reservationId).sort(),
    );
    // The settled cost is every call's reported usage at $1 per thousand tokens.
    const usage = [
      ...ofType(events, 'model.responded').map((e) => e.data.usage),
      ...compactions.map((e) => e.data.usage),
      ...ofType(events, 'outcome.evaluated').map((e) => e.data.usage),
    ].reduce((n, u) => n + u.inputTokens + u.outputTokens, 0);
    expect(chargedSpend(fold(events).budget!).costUsd).toBeCloseTo(usage / 1_000, 9);
  });

  it('bounds every session budget by its tenant cap: the agent’s, the session’s and every raise', async () => {
    const { store, agent } = await setup(looping(8), { budget: { steps: 50 } });
    const tenantBudgets = { default: { steps: 2 }, big: { steps: 100, toolCalls: 3 } };
    const run = (id: SessionId, statuses = ['completed', 'failed', 'paused']) =>
      runUntil({ store, agents: [agent], tenantBudgets }, id, statuses);
    const s = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      budget: { steps: 5 },
    });
    await run(s.id);
    expect((await store.getSession(s.id)).statusReason).toMatch(/the steps budget of 2 is used up/);
    // A raise past the cap is recorded as the cap: the session pauses again where it was.
    await changeBudget(store, s.id, { by: 'ops', reason: null, change: { steps: 40 } });
    await run(s.id);
    const events = await allEvents(store, s.id);
    expect(ofType(events, 'budget.set').map((e) => [e.data.by, e.data.budget])).toEqual([
      ['agent:looper', { steps: 2 }],
      ['ops', { steps: 2 }],
    ]);
    expect(fold(events).steps).toBe(2);
    // A session of another tenant, with no budget of its own: the agent's, under that tenant's cap.
    const other = await store.createSession({
      agent: 'looper',
      input: { task: 'go' },
      tenantId: 'big',
    });
    await run(other.id);
    expect((await store.getSession(other.id)).statusReason).toMatch(
      /the toolCalls budget of 3 is used up/,
    );
    expect(ofType(await allEvents(store, other.id), 'budget.set')[0]?.data.budget).toEqual({
      steps: 50,
      toolCalls: 3,
    });
    expect(
      () => new Worker({ store, agents: [agent], tenantBudgets: { t: { steps: -1 } } }),
    ).toThrow(/the budget cap of tenant t.steps must be an integer/);
  });

  it("stops a tenant's sessions, together, within one call of its daily budget; the day holds what their logs charged", async () => {
    const { store, agent } = await setup(looping(8));
    const ids = [
      (await store.createSession({ agent: 'looper', input: { task: 'a' } })).id,
      (await store.createSession({ agent: 'looper', input: { task: 'b' } })).id,
    ];
    const limit = 1;
    const worker = new Worker({
      store,
      agents: [agent],
      pollMs: 5,
      tenantDailyBudgets: { default: { costUsd: limit } },
    });
    await worker.start();
    try {
      const deadline = Date.now() + 20_000;
      while (
        (await Promise.all(ids.map((id) => store.getSession(id)))).some(
          (s) => s.status !== 'paused',
        )
      ) {
        if (Date.now() > deadline)
          throw new Error('the sessions were not paused by the daily budget');
        await new Promise((r) => setTimeout(r, 10));
      }
    } finally {
      await worker.stop();
    }
    let charged = 0;
    let reserved = 0;
    let biggest = 0;
    for (const id of ids) {
      expect((await store.getSession(id)).statusReason).toMatch(
        /^BUDGET_EXCEEDED: the tenant's daily costUsd budget of \$1\.0000 is used up for \d{4}-\d{2}-\d{2} \(UTC\)/,
      );
      const events = await allEvents(store, id);
      const ledger = fold(events).budget;
      if (!ledger) throw new Error('no ledger');
      // No session budget: the ledger only records the calls charged to the tenant's day.
      expect(ledger.limits).toEqual({});
      charged += chargedSpend(ledger).costUsd;
      for (const r of ofType(events, 'budget.reserved')) {
        reserved++;
        biggest = Math.max(biggest, r.data.costUsd);
      }
    }
    const day = await store.tenantSpend.daySpend('default');
    expect(day.calls).toBe(reserved);
    expect(day.costUsd).toBeCloseTo(charged, 9);
    // Never more than the limit (reservations must fit); stopped within one call of it.
    expect(day.costUsd).toBeLessThanOrEqual(limit);
    expect(day.costUsd).toBeGreaterThan(limit - biggest);
    // A raised limit (the operator's worker configuration) and a resume let a session go on.
    await resumeSession(store, ids[0]!, { by: 'ops', reason: 'raised the daily budget' });
    await runUntil(
      { store, agents: [agent], tenantDailyBudgets: { default: { costUsd: 100 } } },
      ids[0]!,
      ['completed', 'failed', 'paused'],
    );
    expect((await store.getSession(ids[0]!)).status).toBe('completed');
    expect((await store.tenantSpend.daySpend('default')).calls).toBeGreaterThan(reserved);
  });

  it('refuses a worker whose daily budgets name no known limit', () => {
    expect(
      () =>
        new Worker({
          store: {} as never,
          agents: [defineAgent({ name: 'a', instructions: 'i', model: scriptedModel([]) })],
          tenantDailyBudgets: { acme: { dollars: 5 } as never },
        }),
    ).toThrow(/tenant acme: a daily budget has no limit dollars/);
  });
});
