import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { ManualClock, type SessionId, type StoredEvent } from '@longrun/core';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from '../agent/define-agent.ts';
import { approvalSignal } from '../agent/approvals.ts';
import { forkSession } from '../session-fork.ts';
import { ReplayClock, replaySession } from './replay-session.ts';
import { requestFingerprints, type RequestFingerprint } from './request-fingerprints.ts';

function makeAgent(dir: string, runs: string[]) {
  const write = defineTool({
    name: 'write',
    description: 'writes a file',
    input: z.object({ path: z.string(), text: z.string() }),
    effect: 'idempotent',
    run: async ({ path, text }, { files }) => {
      runs.push(`write ${path}`);
      await files.writeFile(path, text);
      return `wrote ${text.length} bytes to ${path}`;
    },
  });
  const deploy = defineTool({
    name: 'deploy',
    description: 'deploys',
    input: z.object({ service: z.string() }),
    effect: 'keyed',
    needsApproval: true,
    run: async ({ service }) => {
      runs.push(`deploy ${service}`);
      return { deployed: service, at: Date.now() };
    },
  });
  const flaky = defineTool({
    name: 'flaky',
    description: 'fails',
    input: z.object({}),
    effect: 'pure',
    run: async () => {
      runs.push('flaky');
      throw new Error(`flaky at ${Math.random()}`);
    },
  });
  return defineAgent({
    name: 'replayed',
    model: scriptedModel([
      { toolCalls: [{ id: 'a', name: 'write', args: { path: 'a.txt', text: 'one' } }] },
      { toolCalls: [{ id: 'b', name: 'flaky', args: {} }] },
      { toolCalls: [{ id: 'c', name: 'deploy', args: { service: 'api' } }] },
      { text: 'Done.' },
      { text: 'Again.' },
    ]),
    instructions: 'Work.',
    tools: [write, deploy, flaky],
    workspaceRoot: join(dir, 'ws'),
  });
}

async function decideLatest(store: SqliteStore, id: SessionId, decision: 'granted' | 'denied') {
  const request = (await allEvents(store, id)).findLast((e) => e.type === 'approval.requested');
  if (request?.type !== 'approval.requested') throw new Error('no approval asked');
  await store.sendSignal(id, approvalSignal(request.data.approvalId), {
    decision,
    by: 'person',
    reason: decision === 'granted' ? 'ok' : 'not today',
    argsHash: request.data.argsHash,
  });
}

async function recordSession(dir: string) {
  const store = await SqliteStore.open({ path: join(dir, 'recorded.sqlite') });
  const runs: string[] = [];
  const agent = makeAgent(dir, runs);
  const s = await store.createSession({ agent: 'replayed', input: { task: 'work' } });
  await runUntil({ store, agents: [agent] }, s.id, ['waiting']);
  await decideLatest(store, s.id, 'granted');
  await runUntil({ store, agents: [agent] }, s.id);
  return { store, id: s.id, runs, agent };
}

async function replay(
  dir: string,
  name: string,
  agent: ReturnType<typeof makeAgent>,
  events: StoredEvent[],
  requests: RequestFingerprint[] = requestFingerprints(events),
) {
  const store = await SqliteStore.open({ path: join(dir, `${name}.sqlite`) });
  try {
    return await replaySession({ store, agent, events, requests, timeoutMs: 20_000 });
  } finally {
    await store.close();
  }
}

describe('offline replay', () => {
  it('re-runs an approved session with its recorded answers and results: 0 divergences, no tool run', async () => {
    const dir = tempDir('replay');
    const { store, id, runs, agent } = await recordSession(dir);
    const events = await allEvents(store, id);
    expect(events.map((e) => e.type)).toContain('approval.granted');
    runs.length = 0;
    const result = await replay(dir, 'r1', agent, events);
    expect(result.divergence).toBeNull();
    expect(result.status).toBe('completed');
    expect(result.inputs).toBe(1);
    expect(result.replayedCompared).toBe(result.recordedCompared);
    expect(runs).toEqual([]);

    // One tool result changed: the replay says where, as the step that got it.
    const changed = events.map((e) =>
      e.type === 'tool.completed' && e.data.tool === 'write'
        ? { ...e, data: { ...e.data, output: 'wrote 4 bytes to a.txt' } }
        : e,
    );
    // The fingerprints are the bundle's, taken from the log as it was recorded.
    const diverged = await replay(dir, 'r2', agent, changed, requestFingerprints(events));
    const at = events.find((e) => e.type === 'tool.completed' && e.data.tool === 'write')!;
    // The changed result is given to the model at step 2, whose recorded response answered
    // another request: the divergence is the result of step 1.
    expect(diverged.divergence).toMatchObject({
      expectedSeq: at.seq,
      expectedType: 'tool.completed',
      gotType: 'tool.completed',
    });
    expect(diverged.divergence!.diff[0]).toMatch(/request of step 2 is not the recorded one/);
    await store.close();
  });

  it('replays a fork: the copied prefix is copied, the rest re-run', async () => {
    const dir = tempDir('replay-fork');
    const { store, id, agent } = await recordSession(dir);
    const source = await allEvents(store, id);
    const atSeq = source.find((e) => e.type === 'approval.granted')!.seq - 1;
    const fork = await forkSession(store, id, { atSeq });
    // The fork asks for its own decision (the source's approval was not decided in it).
    await runUntil({ store, agents: [agent] }, fork.id, ['waiting']);
    await decideLatest(store, fork.id, 'denied');
    await runUntil({ store, agents: [agent] }, fork.id);
    const events = await allEvents(store, fork.id);
    expect(events.map((e) => e.type)).toContain('approval.denied');
    const result = await replay(dir, 'f1', agent, events);
    expect(result.divergence).toBeNull();
    expect(result.copied).toBe(atSeq - 1);
    await store.close();
  });
});

describe('replay of timer waits', () => {
  it('skips a recorded hour-long sleep on its own clock instead of waiting for it', async () => {
    const dir = tempDir('replay-sleep');
    const clock = new ManualClock(Date.now());
    const recorded = await SqliteStore.open({ path: join(dir, 'recorded.sqlite'), clock });
    const nap = defineTool({
      name: 'nap',
      description: 'sleeps an hour, durably',
      input: z.object({}),
      effect: 'idempotent',
      run: async (_input, context) => {
        await context.sleep(3_600_000);
        return 'rested';
      },
    });
    const agent = defineAgent({
      name: 'sleeper',
      model: scriptedModel([
        { toolCalls: [{ id: 'n', name: 'nap', args: {} }] },
        { text: 'Done.' },
      ]),
      instructions: 'Rest, then answer.',
      tools: [nap],
      workspaceRoot: join(dir, 'ws'),
    });
    const s = await recorded.createSession({ agent: 'sleeper', input: 'go' });
    await runUntil({ store: recorded, agents: [agent] }, s.id, ['waiting']);
    clock.advance(3_600_001);
    await runUntil({ store: recorded, agents: [agent] }, s.id);
    const events = await allEvents(recorded, s.id);
    expect(events.map((e) => e.type)).toContain('wait.resolved');
    await recorded.close();

    const replayClock = new ReplayClock();
    const store = await SqliteStore.open({ path: join(dir, 'replay.sqlite'), clock: replayClock });
    const started = Date.now();
    try {
      const result = await replaySession({
        store,
        agent,
        events,
        requests: requestFingerprints(events),
        clock: replayClock,
        timeoutMs: 20_000,
      });
      expect(result.divergence, JSON.stringify(result.divergence)).toBeNull();
      expect(result.status).toBe('completed');
      expect(Date.now() - started).toBeLessThan(15_000);
      expect(replayClock.nowMs() - Date.now()).toBeGreaterThan(3_500_000);
    } finally {
      await store.close();
    }
  });
});

describe('replay of a compacted session', () => {
  it('answers each summary call with the summary the recording holds: 0 divergences', async () => {
    const dir = tempDir('replay-compacted');
    const recorded = await SqliteStore.open({ path: join(dir, 'recorded.sqlite') });
    const big = defineTool({
      name: 'big',
      description: 'returns 40,000 characters (more than a result may keep in the transcript)',
      input: z.object({ n: z.number() }),
      effect: 'pure',
      run: async ({ n }) => `B${n}:`.padEnd(40_000, String(n % 10)),
    });
    const agent = defineAgent({
      name: 'compacted',
      instructions: 'Work, then read back what the first step returned.',
      tools: [big],
      context: { windowTokens: 12_000, compactAt: 0.8, keepRecentTurns: 2 },
      model: scriptedModel((request) => {
        if (request.context?.purpose === 'summary')
          return { text: `SUMMARY of ${request.messages.length} messages` };
        const step = request.context?.step ?? 0;
        if (step <= 8) return { toolCalls: [{ id: `b${step}`, name: 'big', args: { n: step } }] };
        if (step === 9) {
          const args = { step: 1, callIndex: 0, offset: 0, length: 40 };
          return { toolCalls: [{ id: 'r', name: 'read_tool_result', args }] };
        }
        return { text: 'Done.' };
      }),
      workspaceRoot: join(dir, 'ws'),
    });
    const s = await recorded.createSession({ agent: 'compacted', input: 'go' });
    await runUntil({ store: recorded, agents: [agent] }, s.id);
    const events = await allEvents(recorded, s.id);
    const summaries = events.filter((e) => e.type === 'context.compacted');
    expect(summaries.length).toBeGreaterThanOrEqual(2);
    const result = await replay(dir, 'c1', agent, events);
    expect(result.divergence).toBeNull();
    expect(result.status).toBe('completed');
    await recorded.close();
  });
});
