import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { modelRequestOf, workerId, type ModelRequest, type SessionId } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, matching, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentDefinition } from './define-agent.ts';
import { approvalSignal, argsHash } from './approvals.ts';
import { cancelSignal, userMessageSignal, AgentRunner } from './agent-runner.ts';

let applied = 0;
const add = defineTool({
  name: 'add',
  description: 'adds two numbers',
  input: z.object({ a: z.number(), b: z.number() }),
  effect: 'pure',
  run: async ({ a, b }) => {
    applied++;
    return a + b;
  },
});
const deploy = defineTool({
  name: 'deploy',
  description: 'deploys a service',
  input: z.object({ service: z.string() }),
  effect: 'keyed',
  needsApproval: true,
  run: async ({ service }) => {
    applied++;
    return `deployed ${service}`;
  },
});

async function setup(
  turns: ScriptedTurn[] | ((r: ModelRequest, call: number) => ScriptedTurn),
  extra: Partial<AgentDefinition> = {},
) {
  const dir = tempDir('agent');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const model = scriptedModel(turns);
  const agent = defineAgent({
    name: 'calc',
    model,
    instructions: 'You add numbers.',
    tools: [add, deploy],
    workspaceRoot: join(dir, 'ws'),
    ...extra,
  });
  const run = (id: SessionId, statuses?: string[]) =>
    runUntil({ store, agents: [agent] }, id, statuses);
  return { store, model, agent, run };
}

const types = async (store: SqliteStore, id: SessionId) =>
  (await allEvents(store, id)).map((e) => e.type);

describe('the agent harness', () => {
  it('runs a turn: model, tool, model, with every tool call answered before the next model call', async () => {
    const { store, model, run } = await setup([
      { text: 'Adding.', toolCalls: [{ id: 'c1', name: 'add', args: { a: 2, b: 3 } }] },
      { text: 'The sum is 5.' },
    ]);
    const s = await store.createSession({ agent: 'calc', input: { task: 'add 2 and 3' } });
    await run(s.id);
    // A fast model call is recorded in one commit with its response, which holds its request:
    // no stream events, no model.requested of its own.
    const events = await allEvents(store, s.id);
    expect(events.map((e) => e.type)).toEqual([
      'session.created',
      'model.responded',
      'tool.started',
      'tool.completed',
      'model.responded',
      'session.completed',
    ]);
    expect(events.map((e) => modelRequestOf(e))).toEqual([
      null,
      { step: 1, attempt: 1, modelId: model.id, transcriptSeq: 1 },
      null,
      null,
      { step: 2, attempt: 1, modelId: model.id, transcriptSeq: 4 },
      null,
    ]);
    // The call's idempotency key is the derived one, so its tool.started leaves it out.
    const started = events.find((e) => e.type === 'tool.started');
    expect(started?.data).toEqual({ step: 1, callIndex: 0, tool: 'add', effect: 'pure' });
    expect((await store.getSession(s.id)).status).toBe('completed');
    const second = model.requests[1]!;
    expect(second.messages).toEqual([
      { role: 'system', content: 'You add numbers.' },
      { role: 'user', content: 'add 2 and 3' },
      {
        role: 'assistant',
        text: 'Adding.',
        toolCalls: [{ id: 'c1', name: 'add', args: { a: 2, b: 3 } }],
      },
      { role: 'tool', results: [{ id: 'c1', name: 'add', output: 5, isError: false }] },
    ]);
    expect(second.tools.map((t) => t.name)).toEqual(['add', 'deploy']);
    expect(model.violations).toEqual([]);
  });

  it('turns unknown tools and invalid arguments into errors the model sees', async () => {
    const { store, model, run } = await setup([
      {
        toolCalls: [
          { id: 'c1', name: 'subtract', args: {} },
          { id: 'c2', name: 'add', args: { a: 'two' } },
        ],
      },
      { text: 'I see.' },
    ]);
    const s = await store.createSession({ agent: 'calc', input: 'go' });
    await run(s.id);
    const results = model.requests[1]!.messages.at(-1);
    expect(results).toMatchObject({
      role: 'tool',
      results: [
        {
          id: 'c1',
          isError: true,
          output: matching(/no tool named "subtract"; the tools are: add, deploy/),
        },
        {
          id: 'c2',
          isError: true,
          output: matching(/invalid arguments for add: a: Invalid input: expected number/),
        },
      ],
    });
  });

  it('waits for approval holding no worker; runs only once granted for these exact arguments', async () => {
    applied = 0;
    const { store, run } = await setup([
      { toolCalls: [{ id: 'd1', name: 'deploy', args: { service: 'api' } }] },
      { text: 'Deployed.' },
    ]);
    const s = await store.createSession({ agent: 'calc', input: 'deploy api' });
    await run(s.id, ['waiting']);
    expect(await store.getSession(s.id)).toMatchObject({ status: 'waiting', leaseOwner: null });
    const request = (await allEvents(store, s.id)).find((e) => e.type === 'approval.requested')!;
    const { approvalId } = request.data as { approvalId: string };
    // A decision about other arguments, and a malformed one, are ignored.
    await store.sendSignal(s.id, approvalSignal(approvalId), {
      decision: 'granted',
      by: 'mallory',
      argsHash: argsHash('deploy', { service: 'db' }),
    });
    await store.sendSignal(s.id, approvalSignal(approvalId), { decision: 'yes please' });
    await run(s.id, ['waiting']);
    expect(applied).toBe(0);
    await store.sendSignal(s.id, approvalSignal(approvalId), {
      decision: 'granted',
      by: 'alice',
      reason: null,
      argsHash: argsHash('deploy', { service: 'api' }),
    });
    await run(s.id);
    expect(applied).toBe(1);
    expect(await types(store, s.id)).toContain('approval.granted');
    expect(
      (await allEvents(store, s.id)).find((e) => e.type === 'approval.granted')?.data,
    ).toMatchObject({ by: 'alice' });
  });

  it('gives a denied call an error result and carries on', async () => {
    applied = 0;
    const { store, model, run } = await setup([
      { toolCalls: [{ id: 'd1', name: 'deploy', args: { service: 'api' } }] },
      { text: 'Understood, not deploying.' },
    ]);
    const s = await store.createSession({ agent: 'calc', input: 'deploy api' });
    await run(s.id, ['waiting']);
    const { approvalId } = (await allEvents(store, s.id)).find(
      (e) => e.type === 'approval.requested',
    )!.data as { approvalId: string };
    await store.sendSignal(s.id, approvalSignal(approvalId), {
      decision: 'denied',
      by: 'bob',
      reason: 'freeze week',
    });
    await run(s.id);
    expect(applied).toBe(0);
    expect(model.requests[1]!.messages.at(-1)).toMatchObject({
      role: 'tool',
      results: [{ isError: true, output: matching(/denied this call: freeze week/) }],
    });
  });

  it('reopens a finished session for a follow-up message: a new turn', async () => {
    const { store, model, run } = await setup([
      { text: 'First answer.' },
      { text: 'Second answer.' },
    ]);
    const s = await store.createSession({ agent: 'calc', input: 'first' });
    await run(s.id);
    await store.sendSignal(
      s.id,
      userMessageSignal,
      { text: 'and another thing' },
      { wake: 'reopen' },
    );
    await run(s.id);
    expect(model.requests[1]!.messages.slice(1)).toEqual([
      { role: 'user', content: 'first' },
      { role: 'assistant', text: 'First answer.', toolCalls: [] },
      { role: 'user', content: 'and another thing' },
    ]);
    const completed = (await allEvents(store, s.id)).filter((e) => e.type === 'session.completed');
    expect(completed.map((e) => e.data)).toEqual([
      { output: 'First answer.' },
      { output: 'Second answer.' },
    ]);
  });

  it('stops at the step limit with a reason', async () => {
    const { store, run } = await setup(
      () => ({ toolCalls: [{ name: 'add', args: { a: 1, b: 1 } }] }),
      { maxSteps: 3 },
    );
    const s = await store.createSession({ agent: 'calc', input: 'loop forever' });
    await run(s.id);
    const session = await store.getSession(s.id);
    expect(session).toMatchObject({
      status: 'failed',
      statusReason: matching(/step limit of 3/),
    });
    expect((await allEvents(store, s.id)).filter((e) => e.type === 'model.responded')).toHaveLength(
      3,
    );
  });

  it('retries a failed model call, recording each attempt; fails on a refusal', async () => {
    const { store, run } = await setup([
      { text: 'partial ', fail: { code: 'MODEL_UNAVAILABLE', retryAfterMs: 10 } },
      { text: 'Done.' },
    ]);
    const s = await store.createSession({ agent: 'calc', input: 'x' });
    await run(s.id);
    const events = await allEvents(store, s.id);
    expect(events.find((e) => e.type === 'model.failed')?.data).toMatchObject({
      attempt: 1,
      code: 'MODEL_UNAVAILABLE',
      retryable: true,
    });
    expect(events.find((e) => e.type === 'model.responded')?.data).toMatchObject({
      attempt: 2,
      text: 'Done.',
    });

    const refused = await setup([{ fail: { code: 'MODEL_REJECTED', message: 'bad key' } }]);
    const r = await refused.store.createSession({ agent: 'calc', input: 'x' });
    await refused.run(r.id);
    expect(await refused.store.getSession(r.id)).toMatchObject({
      status: 'failed',
      statusReason: matching(/refused the request: bad key/),
    });
  });

  it('cancels a session waiting for approval; the open call gets a result', async () => {
    const { store, run } = await setup([
      { toolCalls: [{ id: 'd1', name: 'deploy', args: { service: 'api' } }] },
    ]);
    const s = await store.createSession({ agent: 'calc', input: 'deploy' });
    await run(s.id, ['waiting']);
    await store.sendSignal(
      s.id,
      cancelSignal,
      { by: 'carol', reason: 'wrong ticket' },
      { wake: 'interrupt' },
    );
    await run(s.id, ['cancelled']);
    const events = await allEvents(store, s.id);
    expect(events.at(-1)).toMatchObject({
      type: 'session.cancelled',
      data: { by: 'carol', reason: 'wrong ticket' },
    });
    expect(events.filter((e) => e.type === 'tool.completed')).toHaveLength(1);
  });

  it('supersedes a model call its worker died in, and calls again with a clean transcript', async () => {
    const { store, model, agent } = await setup([
      { text: 'never finished', fail: { code: 'MODEL_UNAVAILABLE' } },
      { text: 'Second try.' },
    ]);
    const s = await store.createSession({ agent: 'calc', input: 'x' });
    // First runner: the model call hangs, as if the worker died while it streamed.
    const lease = (await store.claim(s.id, workerId('doomed'), 60_000))!;
    // Streams some text (made durable by the coalescer within 250 ms), then never finishes.
    const hung = {
      id: 'hung',
      stream: (_r: unknown, onDelta: (t: string) => void) => {
        onDelta('partial output that will be superseded');
        return new Promise<never>(() => undefined);
      },
    };
    void new AgentRunner({
      store,
      agent,
      model: hung,
      lease,
      signal: new AbortController().signal,
    }).run();
    for (let i = 0; i < 200 && !(await types(store, s.id)).includes('model.streamed'); i++)
      await new Promise((r) => setTimeout(r, 5));
    await store.releaseLease(lease);
    await runUntil({ store, agents: [{ ...agent, model }] }, s.id);
    const events = await allEvents(store, s.id);
    expect(events.find((e) => e.type === 'model.failed')?.data).toMatchObject({
      code: 'WORKER_STOPPED',
      attempt: 1,
    });
    expect(model.requests[0]!.messages.map((m) => m.role)).toEqual(['system', 'user']);
  });

  it('records no result for a tool that failed once the worker stopped holding the session, and the next holder runs it again', async () => {
    let holds = true;
    let runs = 0;
    const charge = defineTool({
      name: 'charge',
      description: 'charges once per key',
      input: z.object({}),
      effect: 'keyed',
      run: async (_input, context) => {
        runs++;
        // The worker's clock says the lease lapsed while the tool ran: the tool stops.
        if (runs === 1) holds = false;
        if (!context.holding()) throw new Error('the worker no longer holds this session');
        return 'charged';
      },
    });
    const { store, agent } = await setup(
      [{ toolCalls: [{ name: 'charge', args: {} }] }, { text: 'Done.' }],
      { tools: [charge] },
    );
    const s = await store.createSession({ agent: 'calc', input: 'x' });
    const lease = (await store.claim(s.id, workerId('lapsing'), 60_000))!;
    const run = new AgentRunner({
      store,
      agent,
      model: agent.model as never,
      lease,
      signal: new AbortController().signal,
      holding: () => holds,
    }).run();
    await expect(run).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await types(store, s.id)).not.toContain('tool.completed');
    await store.releaseLease(lease);
    await runUntil({ store, agents: [agent] }, s.id);
    const completed = (await allEvents(store, s.id)).filter((e) => e.type === 'tool.completed');
    expect(completed.map((e) => e.data)).toMatchObject([{ ok: true, output: 'charged' }]);
    expect(runs).toBe(2);
  });
});
