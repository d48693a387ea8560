import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ManualClock,
  isLongrunError,
  workerId,
  type JsonObject,
  type JsonValue,
  type StoredEvent,
  type Tool,
  type ToolContext,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from './define-agent.ts';
import { deliverWebhook, signalSession } from './session-commands.ts';
import { waitTools } from '../tools/wait-tools.ts';
import { Worker, type WorkerOptions } from '../worker.ts';

/**
 * Durable waits in tool code (DESIGN §12): a wait suspends the call, the session parks holding
 * no worker, and when the wait resolves the call runs again from its start with its waits
 * replayed by ordinal. Time is a ManualClock: a timer comes due when the test says so.
 */
async function setup(tool: Tool, options: { calls?: JsonObject[] } = {}) {
  const dir = tempDir('waits');
  const clock = new ManualClock();
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite'), clock });
  const model = scriptedModel((request) => {
    const step = request.context?.step ?? 0;
    if (step > 1) return { text: 'Done.' };
    const args = (options.calls ?? [{}]).map((a) => ({ name: tool.name, args: a }));
    return { text: 'waiting', toolCalls: args };
  });
  const agent = defineAgent({
    name: 'waiter',
    model,
    instructions: 'Wait.',
    tools: [tool],
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
  });
  const s = await store.createSession({ agent: 'waiter', input: 'go' });
  const run = (statuses?: string[]) => runUntil({ store, agents: [agent] }, s.id, statuses);
  const outputs = async () =>
    ofType(await allEvents(store, s.id), 'tool.completed').map((e) => e.data.output);
  return { store, clock, id: s.id, run, outputs };
}

type Of<T extends StoredEvent['type']> = Extract<StoredEvent, { type: T }>;
function ofType<T extends StoredEvent['type']>(events: StoredEvent[], type: T): Of<T>[] {
  return events.filter((e): e is Of<T> => e.type === type);
}

/** A tool whose body is `body`, counting its runs. */
function waitingTool(
  body: (context: ToolContext) => Promise<JsonValue>,
  effect: Tool['effect'] = 'idempotent',
) {
  const runs: number[] = [];
  const tool = defineTool({
    name: 'waiter',
    description: 'waits',
    input: z.object({}).passthrough(),
    effect,
    run: async (_input, context) => {
      runs.push(context.attempt);
      return body(context);
    },
  });
  return { tool, runs };
}

describe('durable waits in tool code', () => {
  it('sleep: parks holding no lease until the timer is due, then re-runs the call with the sleep replayed', async () => {
    const before: string[] = [];
    const { tool, runs } = waitingTool(async (context) => {
      before.push('before');
      await context.sleep(2_000);
      return 'slept';
    }, 'unsafe');
    const { store, clock, id, run, outputs } = await setup(tool);
    await run(['waiting']);
    const parked = await store.getSession(id);
    expect(parked).toMatchObject({ status: 'waiting', leaseOwner: null, waitingFor: null });
    expect(parked.wakeAtMs).toBe(clock.nowMs() + 2_000);
    expect(runs).toEqual([1]);
    clock.advance(1_999);
    // Not due: a worker claims nothing.
    expect(await store.claimNext(workerId('probe'), 1_000)).toBeNull();
    clock.advance(1);
    await run();
    const events = await allEvents(store, id);
    // Model events aside (their shape is the model loop's business):
    expect(events.map((e) => e.type).filter((t) => !t.startsWith('model.'))).toEqual([
      'session.created',
      'tool.started',
      'wait.started',
      'wait.resolved',
      'tool.resumed',
      'tool.completed',
      'session.completed',
    ]);
    expect(ofType(events, 'wait.started')[0]?.data).toMatchObject({
      kind: 'timer',
      call: { step: 1, callIndex: 0, ordinal: 0 },
    });
    // An unsafe tool that waited is resumed, never taken for interrupted.
    expect(runs).toEqual([1, 1]);
    expect(before).toHaveLength(2);
    expect(await outputs()).toEqual(['slept']);
    await store.close();
  });

  it('waitForSignal: a signal sent before the wait starts is delivered to it, once', async () => {
    const { tool, runs } = waitingTool(async (context) => {
      const got = await context.waitForSignal('ci.done');
      return got.timedOut ? 'timed out' : got.payload;
    });
    const { store, id, run, outputs } = await setup(tool);
    await signalSession(store, id, 'ci.done', { build: 42 });
    await run();
    expect(await outputs()).toEqual([{ build: 42 }]);
    expect(runs).toHaveLength(2);
    expect(await store.pendingSignals(id, 'ci.done')).toEqual([]);
    const resolved = ofType(await allEvents(store, id), 'wait.resolved');
    expect(resolved).toHaveLength(1);
    expect(resolved[0]?.data.payload).toEqual({ build: 42 });
    await store.close();
  });

  it('waitForSignal: a signal sent while the session waits wakes it; two waits take two signals in order', async () => {
    const { tool, runs } = waitingTool(async (context) => {
      const a = await context.waitForSignal('approve');
      const b = await context.waitForSignal('approve');
      return [a, b].map((r) => (r.timedOut ? null : r.payload));
    });
    const { store, id, run, outputs } = await setup(tool);
    await run(['waiting']);
    expect((await store.getSession(id)).waitingFor).toBe('approve');
    await signalSession(store, id, 'approve', 'first');
    await run(['waiting']);
    await signalSession(store, id, 'approve', 'second');
    await run();
    expect(await outputs()).toEqual([['first', 'second']]);
    expect(runs).toHaveLength(3);
    await store.close();
  });

  it('waitForSignal: times out with a typed result when no signal comes', async () => {
    const { tool } = waitingTool(async (context) => {
      const got = await context.waitForSignal('never', { timeoutMs: 1_000 });
      return got.timedOut ? 'timed out' : 'got it';
    });
    const { store, clock, id, run, outputs } = await setup(tool);
    await run(['waiting']);
    expect(await store.getSession(id)).toMatchObject({
      waitingFor: 'never',
      wakeAtMs: clock.nowMs() + 1_000,
    });
    clock.advance(1_000);
    await run();
    expect(await outputs()).toEqual(['timed out']);
    await store.close();
  });

  it('refuses to wait for a signal name of the runtime (a webhook, a cancel)', async () => {
    const { tool } = waitingTool(async (context) => {
      await context.waitForSignal('hook:h1_0_0');
      return 'waited';
    });
    const { store, run, outputs } = await setup(tool);
    await run();
    expect(JSON.stringify((await outputs())[0])).toMatch(/INVALID_ARGUMENT.*runtime's own/);
    await store.close();
  });

  it('webhook: single use — the first POST resumes the call with its body, a second is GONE', async () => {
    const tokens: string[] = [];
    const { tool, runs } = waitingTool(async (context) => {
      const hook = await context.createWebhook({ timeoutMs: 60_000 });
      tokens.push(hook.token);
      expect(hook.path).toBe(`/v1/hooks/${hook.token}`);
      const got = await hook.wait();
      return got.timedOut ? 'expired' : got.payload;
    });
    const { store, id, run, outputs } = await setup(tool);
    await run(['waiting']);
    const token = tokens[0]!;
    expect((await store.getSession(id)).waitingFor).toMatch(/^hook:/);
    await expectCode(deliverWebhook(store, 'x'.repeat(43), { forged: true }), 'NOT_FOUND');
    await deliverWebhook(store, token, { status: 'green' });
    await expectCode(deliverWebhook(store, token, { status: 'again' }), 'GONE');
    await run();
    expect(await outputs()).toEqual([{ status: 'green' }]);
    // The re-run got the same hook with a fresh token; the hook is used, so it is GONE too.
    expect(runs).toHaveLength(2);
    expect(tokens[1]).not.toBe(token);
    await expectCode(deliverWebhook(store, tokens[1]!, {}), 'GONE');
    await store.close();
  });

  it('webhook: multi-use takes every delivery in order; an expired hook is GONE', async () => {
    const tokens: string[] = [];
    const { tool } = waitingTool(async (context) => {
      const hook = await context.createWebhook({ multiUse: true, timeoutMs: 10_000 });
      tokens.push(hook.token);
      const results: JsonValue[] = [];
      for (let i = 0; i < 3; i++) {
        const got = await hook.wait();
        results.push(got.timedOut ? 'expired' : got.payload);
      }
      return results;
    });
    const { store, clock, id, run, outputs } = await setup(tool);
    await run(['waiting']);
    await deliverWebhook(store, tokens[0]!, 1);
    await deliverWebhook(store, tokens[0]!, 2);
    await run(['waiting']);
    clock.advance(10_000);
    await expectCode(deliverWebhook(store, tokens[0]!, 3), 'GONE');
    await run();
    expect(await outputs()).toEqual([[1, 2, 'expired']]);
    expect((await store.getSession(id)).status).toBe('completed');
    await store.close();
  });

  it('waitTools: the model sleeps and waits for a signal through its own tools', async () => {
    const dir = tempDir('wait-tools');
    const clock = new ManualClock();
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite'), clock });
    const model = scriptedModel((request) => {
      const step = request.context?.step ?? 0;
      if (step === 1) return { text: '', toolCalls: [{ name: 'sleep', args: { ms: 500 } }] };
      if (step === 2)
        return { text: '', toolCalls: [{ name: 'wait_for_signal', args: { name: 'go' } }] };
      return { text: 'Done.' };
    });
    const agent = defineAgent({
      name: 'sleeper',
      model,
      instructions: 'Sleep, then wait.',
      tools: waitTools(),
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
    });
    const s = await store.createSession({ agent: 'sleeper', input: 'go' });
    const run = (statuses?: string[]) => runUntil({ store, agents: [agent] }, s.id, statuses);
    await run(['waiting']);
    clock.advance(500);
    // Still `waiting` (on the timer, now due) until a worker claims it: wait for the next wait.
    await runWhile({ store, agents: [agent] }, async () => {
      return (await store.getSession(s.id)).waitingFor !== 'go';
    });
    await signalSession(store, s.id, 'go', { ok: true });
    await run();
    const outputs = ofType(await allEvents(store, s.id), 'tool.completed').map(
      (e) => e.data.output,
    );
    expect(outputs).toEqual([
      'slept 500 ms',
      { signal: 'go', timedOut: false, payload: { ok: true } },
    ]);
    await store.close();
  });
});

/** Runs a worker while `busy` says so, for 20 s at most. */
async function runWhile(options: WorkerOptions, busy: () => Promise<boolean>): Promise<void> {
  const worker = new Worker({ pollMs: 5, ...options });
  await worker.start();
  const deadline = Date.now() + 20_000;
  try {
    while (await busy()) {
      if (Date.now() > deadline) throw new Error('still busy after 20 s');
      await new Promise((r) => setTimeout(r, 5));
    }
  } finally {
    await worker.stop();
  }
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isLongrunError(error) ? error.code : error).toBe(code);
}
