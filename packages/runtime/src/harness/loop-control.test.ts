import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import {
  callHash,
  fold,
  type JsonObject,
  type ModelRequest,
  type SessionId,
  type SessionState,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, matching, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentConfig } from '../agent/define-agent.ts';
import { resumeSession } from '../agent/session-commands.ts';
import { fileTools } from '../tools/file-tools.ts';
import { loadAgentRun } from './resume-load.ts';

let lookups = 0;
/** Looks a word up; the answer is always the same for the same word. */
const lookup = defineTool({
  name: 'lookup',
  description: 'looks a word up',
  input: z.object({ word: z.string() }),
  effect: 'pure',
  run: async ({ word }) => {
    lookups++;
    return `${word}: a word`;
  },
});
let fetches = 0;
/** A service that is down. */
const fetchPage = defineTool({
  name: 'fetch_page',
  description: 'fetches a page',
  input: z.object({ url: z.string() }),
  effect: 'pure',
  run: async () => {
    fetches++;
    throw new Error('connect ECONNREFUSED 127.0.0.1:9');
  },
});
/** What a test run sees of the workspace: how many files and their total length. */
const check = defineTool({
  name: 'check',
  description: 'checks the workspace',
  input: z.object({}),
  effect: 'pure',
  run: async (_input, { files }) => {
    const { entries } = await files.list('.', { recursive: true });
    return `${entries.length} files`;
  },
});

type Script = (request: ModelRequest) => ScriptedTurn;

/** The tool results the model has been given so far, from its transcript (so any worker agrees). */
const resultsSeen = (request: ModelRequest): number =>
  request.messages.reduce((n, m) => n + (m.role === 'tool' ? m.results.length : 0), 0);

async function setup(extra: Partial<AgentConfig> = {}) {
  const dir = tempDir('loops');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const agentFor = (script: Script) =>
    defineAgent({
      name: 'looper',
      model: scriptedModel((request) => script(request)),
      instructions: 'Work.',
      tools: [lookup, fetchPage, check, ...fileTools],
      workspaceRoot: join(dir, 'ws'),
      ...extra,
    });
  /** Runs a new worker, with a model of its own, until the session reaches one of `statuses`. */
  const run = (id: SessionId, script: Script, statuses?: string[]) =>
    runUntil({ store, agents: [agentFor(script)] }, id, statuses);
  const decisions = async (id: SessionId) =>
    (await allEvents(store, id)).flatMap((e) => (e.type === 'gate.decided' ? [e.data] : []));
  return { store, run, decisions };
}

/**
 * Looks the same word up until it has seen `results` tool results, then answers. Call ids come
 * from the transcript, so a new worker's model does not reuse one.
 */
const sameLookup =
  (results = Number.POSITIVE_INFINITY): Script =>
  (request) =>
    resultsSeen(request) >= results
      ? { text: 'done' }
      : { toolCalls: [{ id: `c${resultsSeen(request)}`, name: 'lookup', args: { word: 'loop' } }] };

describe('loop control in a running session', () => {
  it('pauses a model that calls the same tool with the same arguments forever, with the evidence', async () => {
    lookups = 0;
    const { store, run, decisions } = await setup();
    const s = await store.createSession({ agent: 'looper', input: 'look it up' });
    await run(s.id, sameLookup(), ['paused']);
    // Four calls ran; the fifth identical one is where the session stopped.
    expect(lookups).toBe(4);
    const session = await store.getSession(s.id);
    expect(session.status).toBe('paused');
    expect(session.statusReason).toMatch(
      /^stuck loop: lookup called 5 times with the same arguments/,
    );
    const completed = (await allEvents(store, s.id)).filter((e) => e.type === 'tool.completed');
    expect(await decisions(s.id)).toEqual([
      {
        gate: 'stuckLoop',
        point: 'tool.call',
        decision: 'pause',
        reason: session.statusReason,
        step: 5,
        callIndex: 0,
        evidence: {
          rule: 'sameCall',
          tool: 'lookup',
          argsHash: callHash('lookup', { word: 'loop' }),
          times: 5,
          within: 20,
          calls: completed.map((e) => ({ step: e.data.step, callIndex: 0, seq: e.seq, ok: true })),
          next: { step: 5, callIndex: 0 },
        },
      },
    ]);
  });

  it('never pauses a model that makes progress for 100 steps, repeating a check after each change', async () => {
    const { store, run, decisions } = await setup({ maxSteps: 150 });
    // Write a file, check the workspace (the same call each time), read the file back.
    const script: Script = (request) => {
      const n = resultsSeen(request);
      if (n >= 102) return { text: 'all written' };
      const i = Math.floor(n / 3);
      const path = `notes/${i}.txt`;
      const calls: { name: string; args: JsonObject }[] = [
        { name: 'write_file', args: { path, content: `note ${i}` } },
        { name: 'check', args: {} },
        { name: 'read_file', args: { path } },
      ];
      return { toolCalls: [calls[n % 3]!] };
    };
    const s = await store.createSession({ agent: 'looper', input: 'write notes' });
    await run(s.id, script, ['completed', 'failed', 'paused']);
    expect(await decisions(s.id)).toEqual([]);
    const session = await store.getSession(s.id);
    expect(session.status).toBe('completed');
    const events = await allEvents(store, s.id);
    const checks = events.filter((e) => e.type === 'tool.completed' && e.data.tool === 'check');
    expect(checks).toHaveLength(34);
    // The checkpoint keeps a bounded window, and a worker resuming from it folds the same.
    const checkpoint = (await store.latestCheckpoint(s.id))?.state as unknown as {
      format: number;
      state: SessionState;
    };
    expect(checkpoint.format).toBe(10);
    expect(checkpoint.state.loop?.calls.length).toBeLessThanOrEqual(50);
    expect((await loadAgentRun(store, s.id)).state).toEqual(fold(events));
  });

  it('opens the circuit breaker on a tool that keeps failing, with its errors', async () => {
    fetches = 0;
    const { store, run, decisions } = await setup();
    const script: Script = (request) => ({
      toolCalls: [{ name: 'fetch_page', args: { url: `https://x/${resultsSeen(request)}` } }],
    });
    const s = await store.createSession({ agent: 'looper', input: 'fetch' });
    await run(s.id, script, ['paused']);
    expect(fetches).toBe(5);
    const [decided] = await decisions(s.id);
    expect(decided).toMatchObject({
      gate: 'circuitBreaker',
      point: 'tool.call',
      decision: 'pause',
      step: 6,
      evidence: {
        rule: 'circuitBreaker',
        tool: 'fetch_page',
        failures: 5,
        runs: 5,
        errors: [
          { step: 3, error: matching(/ECONNREFUSED/) },
          { step: 4, error: matching(/ECONNREFUSED/) },
          { step: 5, error: 'tool fetch_page failed: connect ECONNREFUSED 127.0.0.1:9' },
        ],
      },
    });
    expect((await store.getSession(s.id)).statusReason).toMatch(
      /^circuit breaker: fetch_page failed 5 of its latest 5 runs \(last: tool fetch_page failed: connect ECONNREFUSED/,
    );
  });

  it('goes on after a resume on another worker, without pausing again on the same evidence', async () => {
    lookups = 0;
    const { store, run, decisions } = await setup();
    const s = await store.createSession({ agent: 'looper', input: 'look it up' });
    await run(s.id, sameLookup(7), ['paused']);
    expect(lookups).toBe(4);
    const pausedAt = (await allEvents(store, s.id)).length;
    await resumeSession(store, s.id, { by: 'ops', reason: 'it may look it up three more times' });
    // A new worker, with a new model: it reads the checkpoint and the tail.
    await run(s.id, sameLookup(7));
    expect((await store.getSession(s.id)).status).toBe('completed');
    expect(lookups).toBe(7);
    expect(await decisions(s.id)).toHaveLength(1);
    const types = (await allEvents(store, s.id)).slice(pausedAt).map((e) => e.type);
    expect(types.slice(0, 3)).toEqual(['session.resumed', 'tool.started', 'tool.completed']);
  });

  it('pauses again on new evidence after a resume, counting only the calls after it', async () => {
    lookups = 0;
    const { store, run, decisions } = await setup({ loopControl: { sameCall: { times: 3 } } });
    const s = await store.createSession({ agent: 'looper', input: 'look it up' });
    await run(s.id, sameLookup(), ['paused']);
    expect(lookups).toBe(2);
    await resumeSession(store, s.id, { by: 'ops', reason: null });
    await run(s.id, sameLookup(), ['paused']);
    expect(lookups).toBe(4);
    const events = await allEvents(store, s.id);
    const resumedSeq = events.find((e) => e.type === 'session.resumed')!.seq;
    const second = (await decisions(s.id))[1]!;
    const counted = (second.evidence as { calls: { seq: number }[] }).calls;
    expect(counted).toHaveLength(2);
    for (const c of counted) expect(c.seq).toBeGreaterThan(resumedSeq);
  });

  it('is off when the agent says so', async () => {
    lookups = 0;
    const { store, run, decisions } = await setup({ loopControl: false, maxSteps: 30 });
    const s = await store.createSession({ agent: 'looper', input: 'look it up' });
    await run(s.id, sameLookup(25));
    expect((await store.getSession(s.id)).status).toBe('completed');
    expect(lookups).toBe(25);
    expect(await decisions(s.id)).toEqual([]);
  });
});
