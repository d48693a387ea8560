import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import type { ModelRequest, SessionId } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, matching, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentDefinition } from '../agent/define-agent.ts';
import { decideApproval, pendingApprovals, resumeSession } from '../agent/session-commands.ts';
import { allow, type Gate } from './gates.ts';

const ran: string[] = [];
const send = defineTool({
  name: 'send',
  description: 'sends a message',
  input: z.object({ to: z.string() }),
  effect: 'keyed',
  run: async ({ to }) => {
    ran.push(to);
    return `sent to ${to}`;
  },
});

async function setup(
  turns: ScriptedTurn[] | ((r: ModelRequest, call: number) => ScriptedTurn),
  extra: Partial<AgentDefinition> = {},
) {
  const dir = tempDir('gates');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const model = scriptedModel(turns);
  const agent = defineAgent({
    name: 'mailer',
    model,
    instructions: 'Send mail.',
    tools: [send],
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
    ...extra,
  });
  const run = (id: SessionId, statuses?: string[]) =>
    runUntil({ store, agents: [agent] }, id, statuses);
  return { store, model, run };
}

const pendingOf = async (store: SqliteStore, id: SessionId) =>
  pendingApprovals(await allEvents(store, id));

const decisions = async (store: SqliteStore, id: SessionId) =>
  (await allEvents(store, id)).flatMap((e) => (e.type === 'gate.decided' ? [e.data] : []));

/** Refuses mail to anyone at example.org. */
const noExampleOrg: Gate = {
  name: 'no-example-org',
  beforeToolCall: ({ input }) =>
    (input as { to: string }).to.endsWith('@example.org')
      ? { decision: 'deny', reason: 'mail to example.org is not allowed' }
      : allow,
};

describe('the gate chain', () => {
  it('a tool call a gate denies is answered with the reason; the model goes on', async () => {
    ran.length = 0;
    const { store, model, run } = await setup(
      [
        { toolCalls: [{ id: 'a', name: 'send', args: { to: 'x@example.org' } }] },
        { toolCalls: [{ id: 'b', name: 'send', args: { to: 'y@example.com' } }] },
        { text: 'Done.' },
      ],
      { gates: [noExampleOrg] },
    );
    const s = await store.createSession({ agent: 'mailer', input: 'mail' });
    await run(s.id);
    expect(ran).toEqual(['y@example.com']);
    expect(await decisions(store, s.id)).toEqual([
      {
        gate: 'no-example-org',
        point: 'tool.call',
        decision: 'deny',
        reason: 'mail to example.org is not allowed',
        step: 1,
        callIndex: 0,
      },
    ]);
    const results = model.requests[1]!.messages.at(-1);
    expect(results).toMatchObject({
      role: 'tool',
      results: [{ isError: true, output: matching(/no-example-org: mail to example.org/) }],
    });
    expect((await store.getSession(s.id)).status).toBe('completed');
  });

  it('a gate that pauses parks the session with its reason; a resume asks the chain again', async () => {
    let open = false;
    const window: Gate = {
      name: 'business-hours',
      beforeModelCall: () =>
        open ? allow : { decision: 'pause', reason: 'outside business hours' },
    };
    const { store, run } = await setup([{ text: 'Hello.' }], { gates: [window] });
    const s = await store.createSession({ agent: 'mailer', input: 'mail' });
    await run(s.id, ['paused']);
    expect(await store.getSession(s.id)).toMatchObject({
      status: 'paused',
      statusReason: 'outside business hours',
    });
    open = true;
    await resumeSession(store, s.id, { by: 'ops', reason: 'it is 9 am' });
    await run(s.id);
    const types = (await allEvents(store, s.id)).map((e) => e.type);
    expect(types).toEqual([
      'session.created',
      'gate.decided',
      'session.resumed',
      'model.responded',
      'session.completed',
    ]);
  });

  it("a gate that asks waits for a person's approval of the exact call", async () => {
    ran.length = 0;
    const askFirst: Gate = {
      name: 'ask-for-strangers',
      beforeToolCall: ({ input }) =>
        (input as { to: string }).to.startsWith('stranger')
          ? { decision: 'ask', reason: 'a stranger is mailed' }
          : allow,
    };
    const { store, run } = await setup(
      [{ toolCalls: [{ id: 'a', name: 'send', args: { to: 'stranger@x.com' } }] }, { text: 'ok' }],
      { gates: [askFirst] },
    );
    const s = await store.createSession({ agent: 'mailer', input: 'mail' });
    await run(s.id, ['waiting']);
    expect(ran).toEqual([]);
    const [decided] = await decisions(store, s.id);
    expect(decided).toMatchObject({ gate: 'ask-for-strangers', decision: 'ask' });
    const requested = (await allEvents(store, s.id)).find((e) => e.type === 'approval.requested');
    expect(requested?.type).toBe('approval.requested');
    if (requested?.type !== 'approval.requested') return;
    await decideApproval(store, s.id, {
      approvalId: requested.data.approvalId,
      decision: 'granted',
      by: 'alice',
      reason: null,
    });
    await run(s.id);
    expect(ran).toEqual(['stranger@x.com']);
  });

  it('a gate that asks before a model call waits for a person: granted, the call is made; denied or expired, the session fails', async () => {
    /** Asks a person before every model call after the first (a budget running out, say). */
    const askAfterFirst: Gate = {
      name: 'budget',
      beforeModelCall: ({ step }) =>
        step > 1 ? { decision: 'ask', reason: 'the budget of 1 model call is spent' } : allow,
    };
    const turns: ScriptedTurn[] = [
      { toolCalls: [{ id: 'a', name: 'send', args: { to: 'a@b.c' } }] },
      { text: 'Done.' },
    ];
    const asked = async (
      store: SqliteStore,
      id: SessionId,
      decision: 'granted' | 'denied',
      run: (id: SessionId, statuses?: string[]) => Promise<unknown>,
    ) => {
      await run(id, ['waiting']);
      expect(await store.getSession(id)).toMatchObject({
        status: 'waiting',
        statusReason: matching(/model call of step 2: the budget of 1 model call is spent/),
      });
      const [pending, ...more] = await pendingOf(store, id);
      expect(more).toEqual([]);
      expect(pending).toMatchObject({
        point: 'model.call',
        step: 2,
        tool: null,
        callIndex: null,
        question: { gate: 'budget', reason: 'the budget of 1 model call is spent' },
      });
      await decideApproval(store, id, { decision, by: 'alice', reason: 'checked the bill' });
      await run(id);
    };

    const granted = await setup(turns, { gates: [askAfterFirst] });
    const g = await granted.store.createSession({ agent: 'mailer', input: 'mail' });
    await asked(granted.store, g.id, 'granted', granted.run);
    expect(await granted.store.getSession(g.id)).toMatchObject({ status: 'completed' });
    expect(granted.model.requests).toHaveLength(2);
    expect(await decisions(granted.store, g.id)).toEqual([
      {
        gate: 'budget',
        point: 'model.call',
        decision: 'ask',
        reason: 'the budget of 1 model call is spent',
        step: 2,
      },
    ]);
    expect(await pendingOf(granted.store, g.id)).toEqual([]);

    const denied = await setup(turns, { gates: [askAfterFirst] });
    const d = await denied.store.createSession({ agent: 'mailer', input: 'mail' });
    await asked(denied.store, d.id, 'denied', denied.run);
    expect(denied.model.requests).toHaveLength(1);
    expect((await allEvents(denied.store, d.id)).at(-1)).toMatchObject({
      type: 'session.failed',
      data: {
        code: 'GATE_DENIED',
        message: matching(/model call of step 2 was not approved .*: checked the bill/),
      },
    });

    const expiring = await setup(turns, { gates: [askAfterFirst], approvalTtlMs: 1 });
    const x = await expiring.store.createSession({ agent: 'mailer', input: 'mail' });
    // The request expires at once: the worker that wakes for it records the denial.
    await expiring.run(x.id);
    expect(expiring.model.requests).toHaveLength(1);
    expect((await allEvents(expiring.store, x.id)).at(-1)).toMatchObject({
      type: 'session.failed',
      data: { code: 'GATE_DENIED', message: matching(/the approval request expired/) },
    });
  });

  it('maxSteps and maxModelAttempts are gates: their refusals are recorded with the reason', async () => {
    const { store, run } = await setup(
      [
        { fail: { code: 'MODEL_UNAVAILABLE', message: 'overloaded', retryAfterMs: 1 } },
        { fail: { code: 'MODEL_UNAVAILABLE', message: 'still overloaded', retryAfterMs: 1 } },
      ],
      { maxModelAttempts: 2 },
    );
    const s = await store.createSession({ agent: 'mailer', input: 'mail' });
    await run(s.id);
    const events = await allEvents(store, s.id);
    expect(events.filter((e) => e.type === 'model.failed').map((e) => e.data)).toMatchObject([
      { attempt: 1, retryInMs: expect.any(Number) as number },
      { attempt: 2, retryInMs: null },
    ]);
    expect(events.slice(-2).map((e) => ({ type: e.type, data: e.data }))).toEqual([
      {
        type: 'gate.decided',
        data: {
          gate: 'maxModelAttempts',
          point: 'model.call',
          decision: 'deny',
          reason: 'the model failed 2 times in a row; last: still overloaded',
          step: 1,
        },
      },
      {
        type: 'session.failed',
        data: {
          code: 'MODEL_UNAVAILABLE',
          message: 'the model failed 2 times in a row; last: still overloaded',
        },
      },
    ]);

    const limited = await setup(() => ({ toolCalls: [{ name: 'send', args: { to: 'a@b.c' } }] }), {
      maxSteps: 2,
    });
    const l = await limited.store.createSession({ agent: 'mailer', input: 'mail' });
    await limited.run(l.id);
    expect(await decisions(limited.store, l.id)).toEqual([
      {
        gate: 'maxSteps',
        point: 'model.call',
        decision: 'deny',
        reason: matching(/step limit of 2 model turns/),
        step: 3,
      },
    ]);
    expect((await allEvents(limited.store, l.id)).at(-1)).toMatchObject({
      type: 'session.failed',
      data: { code: 'STEP_LIMIT_REACHED' },
    });
  });
});
