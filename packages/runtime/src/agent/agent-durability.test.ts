import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import {
  ManualClock,
  workerId,
  type SessionId,
  type StoredEvent,
  type Tool,
  type ToolContext,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { MemoryLedger, allEvents, runUntil, tempDir } from '../testing.ts';
import { normalizeTranscript } from '../transcript.ts';
import { WorkerEvents } from '../worker/worker-events.ts';
import { defineAgent, defineTool, type AgentDefinition } from './define-agent.ts';
import { AgentRunner } from './agent-runner.ts';

/**
 * The durable loop under an agent: what the first milestone's step loop proved, proved on the one
 * harness. The test agent calls, at every step, a keyed `charge` on an external ledger (odd steps)
 * or an idempotent `note` (even steps), and answers after `steps` of them.
 */
async function setup(options: { steps?: number; tools?: Tool[]; clock?: ManualClock } = {}) {
  const dir = tempDir('durable');
  const store = await SqliteStore.open({
    path: join(dir, 'db.sqlite'),
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const ledger = new MemoryLedger();
  const steps = options.steps ?? 1;
  const tools = options.tools ?? [chargeTool(ledger), noteTool];
  const model = scriptedModel((request) => {
    const step = request.context?.step ?? 0;
    if (step > steps) return { text: 'Done.' };
    const tool = tools[(step + 1) % tools.length] ?? tools[0]!;
    return { text: `step ${step}`, toolCalls: [{ name: tool.name, args: { n: step } }] };
  });
  const agent = defineAgent({
    name: 'ledger',
    model,
    instructions: 'Call one tool per step.',
    tools,
    maxSteps: steps + 1,
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
  });
  const s = await store.createSession({ agent: 'ledger', input: 'go' });
  const run = (statuses?: string[]) => runUntil({ store, agents: [agent] }, s.id, statuses);
  return { store, ledger, agent, model, id: s.id, run };
}

const input = z.object({ n: z.number() });

function chargeTool(ledger: MemoryLedger, after?: (context: ToolContext) => Promise<void>) {
  return defineTool({
    name: 'charge',
    description: 'charges an external ledger, once per idempotency key',
    input,
    effect: 'keyed',
    run: async ({ n }, context) => {
      ledger.apply(context.idempotencyKey, `step-${n}`);
      await after?.(context);
      return { charged: n };
    },
  });
}

const noteTool = defineTool({
  name: 'note',
  description: 'notes a line',
  input,
  effect: 'idempotent',
  run: async ({ n }) => `noted ${n}`,
});

/** Never settles: the tool's worker "died" inside it. */
const hang = () => new Promise<never>(() => undefined);

/**
 * Runs the session until a tool hangs (as if its process were killed there), then gives the
 * lease up, as a dead worker's lease lapses: the call stays started, with no result.
 */
async function crashInTool(
  store: SqliteStore,
  agent: AgentDefinition,
  id: SessionId,
  ranOnce: () => boolean,
): Promise<void> {
  const lease = (await store.claim(id, workerId('doomed'), 60_000))!;
  const model = agent.model as never;
  void new AgentRunner({ store, agent, model, lease, signal: new AbortController().signal }).run();
  for (let i = 0; i < 400 && !ranOnce(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(ranOnce()).toBe(true);
  await store.releaseLease(lease);
}

const ofType = (events: StoredEvent[], type: string) => events.filter((e) => e.type === type);

describe('the harness, across stops and crashes', () => {
  it('runs a session to completion: seqs without gaps, one result per call, one keyed effect per odd step', async () => {
    const { store, ledger, id, run } = await setup({ steps: 20 });
    await run();
    const events = await allEvents(store, id);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)?.type).toBe('session.completed');
    expect(ofType(events, 'model.responded')).toHaveLength(21);
    expect(ofType(events, 'tool.completed')).toHaveLength(20);
    expect(ledger.applied().map((a) => a.entry)).toEqual(
      Array.from({ length: 10 }, (_, i) => `step-${2 * i + 1}`),
    );
    expect((await store.getSession(id)).status).toBe('completed');
    await store.close();
  });

  it('resumes after being stopped at every event boundary with an identical transcript', async () => {
    const reference = await setup({ steps: 4 });
    await reference.run();
    const expected = normalizeTranscript(await allEvents(reference.store, reference.id));
    await reference.store.close();
    for (let stopAfter = 1; stopAfter < expected.length - 1; stopAfter++) {
      const { store, ledger, agent, id, run } = await setup({ steps: 4 });
      const lease = (await store.claim(id, workerId('first'), 60_000))!;
      const stop = new AbortController();
      const events = new WorkerEvents();
      let seen = 1;
      events.on('events.committed', (c) => {
        seen += c.events.length;
        if (seen >= stopAfter + 1) stop.abort();
      });
      const model = agent.model as never;
      await new AgentRunner({ store, agent, model, lease, signal: stop.signal, events })
        .run()
        .catch(() => undefined);
      await store.releaseLease(lease).catch(() => undefined);
      await run();
      const log = normalizeTranscript(await allEvents(store, id));
      expect(log, `stopped after ${stopAfter} events`).toEqual(expected);
      expect(ledger.applied()).toHaveLength(2);
      await store.close();
    }
  });

  it('re-runs a keyed call interrupted after its side effect with the same key, applying it once', async () => {
    let crash = true;
    const ledger = new MemoryLedger();
    const charge = chargeTool(ledger, async () => {
      if (!crash) return;
      crash = false;
      await hang();
    });
    const { store, agent, id, run } = await setup({ tools: [charge] });
    await crashInTool(store, agent, id, () => !crash);
    await run();
    expect(ledger.applied()).toHaveLength(1);
    expect([...ledger.attempts().values()]).toEqual([2]);
    expect(await store.listEffects(id)).toMatchObject([{ status: 'completed', attempts: 2 }]);
    const [completed] = ofType(await allEvents(store, id), 'tool.completed');
    expect(completed?.data).toMatchObject({ ok: true, attempt: 2 });
  });

  it('settles an interrupted unsafe call through verify instead of running it again', async () => {
    let runs = 0;
    const launch = defineTool({
      name: 'launch',
      description: 'launches, once',
      input,
      effect: 'unsafe',
      run: async () => {
        runs++;
        return hang();
      },
      verify: async () => ({ applied: true, output: 'found the launch already done' }),
    });
    const { store, agent, id, run } = await setup({ tools: [launch] });
    await crashInTool(store, agent, id, () => runs > 0);
    await run();
    expect(runs).toBe(1);
    const [completed] = ofType(await allEvents(store, id), 'tool.completed');
    expect(completed?.data).toMatchObject({ ok: true, output: 'found the launch already done' });
  });

  it('waits out a long model retry on a durable timer holding no lease, then resumes when it is due', async () => {
    const clock = new ManualClock(Date.now());
    const { store, id, agent } = await setup({ clock });
    let calls = 0;
    const flaky = scriptedModel((request, call) => {
      calls = call;
      if (call === 1) {
        return { fail: { code: 'MODEL_UNAVAILABLE', retryAfterMs: 60_000 } };
      }
      const step = request.context?.step ?? 0;
      return step > 1 ? { text: 'Done.' } : { toolCalls: [{ name: 'note', args: { n: 1 } }] };
    });
    const waiting = { ...agent, model: flaky };
    await runUntil({ store, agents: [waiting] }, id, ['waiting']);
    expect(await store.getSession(id)).toMatchObject({ status: 'waiting', leaseOwner: null });
    expect(await store.claimNext(workerId('eager'), 1000)).toBeNull();
    expect(calls).toBe(1);
    clock.advance(60_000);
    await runUntil({ store, agents: [waiting] }, id);
    const events = await allEvents(store, id);
    expect(ofType(events, 'wait.started')).toMatchObject([{ data: { kind: 'timer' } }]);
    expect(ofType(events, 'wait.resolved')).toHaveLength(1);
    expect(events.at(-1)?.type).toBe('session.completed');
  });

  it('stops a runner whose lease was taken over; none of its writes land', async () => {
    const clock = new ManualClock(Date.now());
    const { store, agent, id } = await setup({ clock });
    const stale = (await store.claim(id, workerId('stale'), 1_000))!;
    clock.advance(1_000);
    const current = (await store.claim(id, workerId('current'), 60_000))!;
    const model = agent.model as never;
    const signal = new AbortController().signal;
    const runner = new AgentRunner({ store, agent, model, lease: stale, signal });
    await expect(runner.run()).rejects.toMatchObject({ code: 'LEASE_LOST' });
    expect(await allEvents(store, id)).toHaveLength(1);
    expect(current.epoch).toBe(2);
  });
});
