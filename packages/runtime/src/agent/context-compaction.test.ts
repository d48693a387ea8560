import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { LongrunError, type ModelRequest, type SessionId } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool, type AgentContextOptions } from './define-agent.ts';
import { TranscriptBuilder } from './transcript-builder.ts';
import { loadAgentRun } from '../harness/resume-load.ts';

const note = defineTool({
  name: 'note',
  description: 'notes a line and returns a long receipt',
  input: z.object({ line: z.string() }),
  effect: 'idempotent',
  run: async ({ line }) => `noted ${line}: ${'x'.repeat(400)}`,
});

const summaryAsk = /^Summarize the conversation above/;

function isSummaryCall(request: ModelRequest): boolean {
  const last = request.messages.at(-1);
  return last?.role === 'user' && summaryAsk.test(last.content);
}

/** Notes a line per step until `steps`, then says done; summary calls get a short summary. */
function stepping(steps: number) {
  let step = 0;
  return (request: ModelRequest): ScriptedTurn => {
    if (isSummaryCall(request)) return { text: `summary after step ${step}` };
    step++;
    if (step > steps) return { text: 'done' };
    return { text: `step ${step}`, toolCalls: [{ name: 'note', args: { line: `${step}` } }] };
  };
}

async function setup(
  turns: (request: ModelRequest, call: number) => ScriptedTurn,
  context: AgentContextOptions,
  id?: string,
) {
  const dir = tempDir('compaction');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const model = scriptedModel(turns, id === undefined ? {} : { id });
  const agent = defineAgent({
    name: 'long',
    model,
    instructions: 'Note lines.',
    tools: [note],
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
    context,
  });
  const run = (sessionId: SessionId) => runUntil({ store, agents: [agent] }, sessionId);
  return { store, model, run };
}

const tokensOf = (request: ModelRequest): number =>
  Math.ceil(JSON.stringify({ m: request.messages, t: request.tools }).length / 4);

describe('context compaction', () => {
  it('keeps every request within the window, never splits a call from its result, and resumes from the compacted transcript', async () => {
    const windowTokens = 2_000;
    const { store, model, run } = await setup(stepping(60), {
      windowTokens,
      keepRecentTurns: 2,
    });
    const s = await store.createSession({ agent: 'long', input: 'note 60 lines' });
    await run(s.id);
    expect((await store.getSession(s.id)).status).toBe('completed');
    expect(model.violations).toEqual([]);
    for (const request of model.requests)
      expect(tokensOf(request)).toBeLessThanOrEqual(windowTokens);
    const events = await allEvents(store, s.id);
    const compactions = events.filter((e) => e.type === 'context.compacted');
    expect(compactions.length).toBeGreaterThanOrEqual(3);
    const steps = model.requests.filter((r) => !isSummaryCall(r));
    // Every step of the session was made (60 notes and the last answer).
    expect(steps).toHaveLength(61);
    // After a compaction the transcript starts from its summary, then the kept assistant turns.
    const last = compactions.at(-1)!;
    if (last.type !== 'context.compacted') throw new Error('unreachable');
    const after = steps.at(-1)!;
    expect(after.messages[0]?.role).toBe('system');
    const first = after.messages[1];
    expect(first?.role === 'user' && first.content.endsWith(last.data.summary)).toBe(true);
    expect(after.messages[2]?.role).toBe('assistant');
    // Ranges follow each other: each compaction replaces what the one before it left.
    for (const c of compactions) {
      if (c.type !== 'context.compacted') continue;
      expect(c.data.fromSeq).toBeLessThanOrEqual(c.data.throughSeq);
      expect(c.data.throughSeq).toBeLessThan(c.seq);
      expect(c.data.usage.inputTokens).toBeGreaterThan(0);
    }
    // The fold charges the summary calls.
    const state = (await loadAgentRun(store, s.id)).state;
    expect(state.context?.compactions).toBe(compactions.length);
    // The checkpoint's transcript and the whole log's give the same messages.
    const loaded = await loadAgentRun(store, s.id);
    expect(loaded.fromSeq).toBeGreaterThan(0);
    const whole = new TranscriptBuilder();
    for (const e of events) whole.apply(e);
    expect(loaded.transcript.messages('x')).toEqual(whole.messages('x'));
    expect(loaded.transcript.startSeq).toBe(last.seq);
  });

  it('compacts and retries once when the provider refuses a request as too long', async () => {
    const limit = 6_000;
    let refusals = 0;
    const steps = stepping(30);
    const { store, model, run } = await setup(
      (request, call) => {
        if (!isSummaryCall(request) && JSON.stringify(request.messages).length > limit) {
          refusals++;
          return {
            fail: { code: 'MODEL_CONTEXT_EXCEEDED', message: `prompt is too long (call ${call})` },
          };
        }
        return steps(request);
      },
      {},
      'custom:unknown-window',
    );
    const s = await store.createSession({ agent: 'long', input: 'note 30 lines' });
    await run(s.id);
    expect((await store.getSession(s.id)).status).toBe('completed');
    expect(refusals).toBeGreaterThan(0);
    const events = await allEvents(store, s.id);
    const compacted = events.filter((e) => e.type === 'context.compacted');
    expect(compacted).toHaveLength(refusals);
    expect(
      compacted.every((e) => e.type === 'context.compacted' && e.data.reason === 'refused'),
    ).toBe(true);
    expect(model.violations).toEqual([]);
  });

  it('fails the session when the request is still too long after a compaction', async () => {
    const { store, run } = await setup(
      (request) => {
        if (isSummaryCall(request)) return { text: 'summary' };
        return { fail: { code: 'MODEL_CONTEXT_EXCEEDED', message: 'prompt is too long' } };
      },
      {},
      'custom:unknown-window',
    );
    const s = await store.createSession({ agent: 'long', input: 'note' });
    await run(s.id);
    const session = await store.getSession(s.id);
    expect(session.status).toBe('failed');
    const types = (await allEvents(store, s.id)).map((e) => e.type);
    expect(types.filter((t) => t === 'model.failed')).toHaveLength(2);
    expect(types.filter((t) => t === 'context.compacted')).toHaveLength(1);
    expect(types.at(-1)).toBe('session.failed');
  });

  it('resets the context with a handoff: the task and the progress file, no summary call', async () => {
    const dir = tempDir('handoff');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const progress = defineTool({
      name: 'progress',
      description: 'writes PROGRESS.md and returns a long receipt',
      input: z.object({ step: z.number() }),
      effect: 'idempotent',
      run: async ({ step }, context) => {
        await context.files.writeFile('PROGRESS.md', `# Progress\nDone through step ${step}.\n`);
        return `progress saved: ${'y'.repeat(400)}`;
      },
    });
    let step = 0;
    const model = scriptedModel((request) => {
      if (isSummaryCall(request)) return { text: 'a summary nobody asked for' };
      step++;
      if (step > 30) return { text: 'done' };
      return { text: `step ${step}`, toolCalls: [{ name: 'progress', args: { step } }] };
    });
    const agent = defineAgent({
      name: 'handoff',
      model,
      instructions: 'Work and keep PROGRESS.md.',
      tools: [progress],
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
      context: { windowTokens: 1_500, handoff: true },
    });
    const s = await store.createSession({ agent: 'handoff', input: { task: 'work for 30 steps' } });
    await runUntil({ store, agents: [agent] }, s.id);
    const events = await allEvents(store, s.id);
    const resets = events.filter((e) => e.type === 'context.compacted');
    expect(resets.length).toBeGreaterThan(1);
    expect(model.requests.filter(isSummaryCall)).toEqual([]);
    for (const reset of resets) {
      if (reset.type !== 'context.compacted') continue;
      expect(reset.data.modelId).toBe('handoff');
      expect(reset.data.handoff).toMatchObject({ file: 'PROGRESS.md' });
      expect(reset.data.summary).toMatch(
        /^The task:\nwork for 30 steps\n\nPROGRESS\.md:\n# Progress\nDone through step \d+\./,
      );
    }
    // The call after a reset starts afresh: instructions, then the handoff, nothing older.
    const after = model.requests.find((r) =>
      r.messages.some((m) => m.role === 'user' && m.content.startsWith('[Your context was reset')),
    );
    expect(after?.messages.map((m) => m.role).slice(0, 2)).toEqual(['system', 'user']);
    expect(after?.messages[1]).toMatchObject({
      content: expect.stringMatching(/Done through step/) as string,
    });
    expect(model.violations).toEqual([]);
    expect((await store.getSession(s.id)).status).toBe('completed');
    await store.close();
  });

  it('refuses context options that cannot work', () => {
    const bad = (context: AgentContextOptions) => () =>
      defineAgent({ name: 'a', model: scriptedModel([]), instructions: '', context });
    expect(bad({ compactAt: 1.5 })).toThrow(LongrunError);
    expect(bad({ windowTokens: 10 })).toThrow(/windowTokens/);
    expect(bad({ keepRecentTurns: -1 })).toThrow(/keepRecentTurns/);
    expect(bad({ compaction: 'provider' as 'native' })).toThrow(
      /compaction must be 'summary', 'native' or false/,
    );
  });

  it("writes summaries for 'native' when the model's provider cannot compact natively", async () => {
    const { store, model, run } = await setup(stepping(30), {
      windowTokens: 2_000,
      keepRecentTurns: 2,
      compaction: 'native',
    });
    expect(model.nativeCompactionOptions).toBeUndefined();
    const s = await store.createSession({ agent: 'long', input: 'note 30 lines' });
    await run(s.id);
    expect((await store.getSession(s.id)).status).toBe('completed');
    const compacted = (await allEvents(store, s.id)).filter((e) => e.type === 'context.compacted');
    expect(compacted.length).toBeGreaterThan(0);
    for (const e of compacted) {
      if (e.type !== 'context.compacted') continue;
      expect(e.data.native).toBeUndefined();
      expect(e.data.summary).toMatch(/^summary after step/);
    }
    expect(model.requests.every((r) => r.providerOptions === undefined)).toBe(true);
    await store.close();
  });
});
