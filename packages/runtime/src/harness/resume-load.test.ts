import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import {
  fold,
  modelRequestOf,
  workerId,
  type JsonValue,
  type SessionId,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, tempDir } from '../testing.ts';
import { Worker } from '../worker.ts';
import { defineAgent, defineTool } from '../agent/define-agent.ts';
import { TranscriptBuilder } from '../agent/transcript-builder.ts';
import { loadAgentRun } from './resume-load.ts';
import { loadState } from '../load-state.ts';

const checkpointEvery = 16;
/** Events of one step: model.responded (holding its request), tool.started, tool.completed. */
const eventsPerStep = 3;

const note = defineTool({
  name: 'note',
  description: 'notes a line',
  input: z.object({ line: z.string() }),
  effect: 'idempotent',
  run: async ({ line }) => `noted ${line}`,
});

/** Step `step`'s turn: one `note` call. */
function noteTurn(step: number): ScriptedTurn {
  return { text: `step ${step}`, toolCalls: [{ name: 'note', args: { line: `${step}` } }] };
}

/**
 * A reasoning model's turn: signed reasoning, text and two calls with the provider's ids, one
 * with arguments whose keys are not in sorted order; the second call has no text part.
 */
function reasoningTurn(step: number): ScriptedTurn {
  return {
    text: `step ${step}`,
    toolCalls: [
      { id: `toolu_${step}a`, name: 'note', args: { zeta: [step], line: `${step}`, alpha: {} } },
      { id: `toolu_${step}b`, name: 'note', args: { line: `again ${step}` } },
    ],
    parts: [
      {
        type: 'reasoning',
        text: `think ${step}`,
        providerMetadata: { anthropic: { signature: `sig${step}` } },
      },
      { type: 'text', text: `step ${step}` },
      { type: 'tool-call', callIndex: 0 },
      { type: 'tool-call', callIndex: 1, providerMetadata: { openai: { itemId: `fc_${step}` } } },
    ],
  };
}

async function setup(steps: number, turn: (step: number) => ScriptedTurn = noteTurn) {
  const dir = tempDir('resume');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const model = scriptedModel((request) => {
    const done = request.messages.filter((m) => m.role === 'assistant').length;
    return done >= steps ? { text: 'done' } : turn(done + 1);
  });
  const agent = defineAgent({
    name: 'notes',
    model,
    instructions: 'Take notes.',
    tools: [note],
    maxSteps: steps + 1,
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
  });
  return { store, model, agent };
}

/** Runs the session on a worker until `stopAtStep` is recorded (or it ends), then stops it. */
async function runSession(
  setupResult: Awaited<ReturnType<typeof setup>>,
  id: SessionId,
  stopAtStep = Number.POSITIVE_INFINITY,
): Promise<void> {
  const { store, agent } = setupResult;
  let stopped!: () => void;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const worker = new Worker({ store, agents: [agent], pollMs: 5, checkpointEvery });
  worker.on('events.committed', ({ events }) => {
    if (events.some((e) => e.type === 'model.responded' && e.data.step >= stopAtStep)) stopped();
  });
  worker.on('session.ended', () => stopped());
  await worker.start();
  await done;
  await worker.stop();
}

/** A session of `steps` steps, run until step `stopAt` is recorded, and its log so far. */
async function stoppedSession(steps: number, stopAt: number) {
  const s = await setup(steps);
  const session = await s.store.createSession({ agent: 'notes', input: 'take notes' });
  await runSession(s, session.id, stopAt);
  return { s, id: session.id, events: await allEvents(s.store, session.id) };
}

function transcriptOf(events: readonly StoredEvent[]): TranscriptBuilder {
  const builder = new TranscriptBuilder();
  for (const e of events) builder.apply(e);
  return builder;
}

describe('resuming an agent session', () => {
  it('reads the checkpoint and the events after it, never more than the interval and one step', async () => {
    const s = await setup(200);
    const session = await s.store.createSession({ agent: 'notes', input: 'take notes' });
    await runSession(s, session.id, 150);
    const events = await allEvents(s.store, session.id);
    expect(events.length).toBeGreaterThanOrEqual(150 * eventsPerStep);

    // The transcript's start is in checkpoint parts, each written once.
    const checkpoint = await s.store.latestCheckpoint(session.id);
    expect(checkpoint?.parts.length).toBeGreaterThan(0);
    expect(checkpoint?.state).toMatchObject({
      transcript: { parts: { count: checkpoint?.parts.length } },
    });
    const loaded = await loadAgentRun(s.store, session.id);
    expect(loaded.fromSeq).toBeGreaterThan(0);
    expect(loaded.eventsRead).toBe(events.length - loaded.fromSeq);
    expect(loaded.eventsRead).toBeLessThan(checkpointEvery + eventsPerStep);
    // What a full read gives: the same state and the same transcript.
    expect(loaded.state).toEqual(fold(events));
    expect(loaded.transcript.snapshot()).toEqual(transcriptOf(events).snapshot());
    // loadState (the state alone, e.g. for `longrun demo`) reads the same checkpoint and tail.
    const { state, tailEvents } = await loadState(s.store, session.id);
    expect(state).toEqual(fold(events));
    expect(tailEvents).toBe(loaded.eventsRead);
  });

  it('continues from the checkpoint with the transcript an uninterrupted run would send', async () => {
    const s = await setup(60);
    const session = await s.store.createSession({ agent: 'notes', input: 'take notes' });
    await runSession(s, session.id, 45);
    const resumedAt = s.model.requests.length;
    await runSession(s, session.id);
    expect((await s.store.getSession(session.id)).status).toBe('completed');
    await expectUninterruptedRequests(s, session.id, resumedAt);
  });

  it("continues a reasoning model's turns from the checkpoint with every part and signature", async () => {
    const s = await setup(40, reasoningTurn);
    const session = await s.store.createSession({ agent: 'notes', input: 'take notes' });
    await runSession(s, session.id, 25);
    const checkpoint = await s.store.latestCheckpoint(session.id);
    expect(checkpoint?.state).toMatchObject({ format: 10 });
    expect(JSON.stringify(checkpoint)).toContain('sig2');
    const loaded = await loadAgentRun(s.store, session.id);
    expect(loaded.fromSeq).toBe(checkpoint?.seq);
    const events = await allEvents(s.store, session.id);
    expect(JSON.stringify(loaded.transcript.snapshot())).toBe(
      JSON.stringify(transcriptOf(events).snapshot()),
    );
    const resumedAt = s.model.requests.length;
    await runSession(s, session.id);
    expect((await s.store.getSession(session.id)).status).toBe('completed');
    await expectUninterruptedRequests(s, session.id, resumedAt);
    expect(JSON.stringify(s.model.requests.at(-1)?.messages)).toContain('fc_39');
  });

  it('reads the whole log when the checkpoint holds no transcript (written before it did)', async () => {
    const { s, id, events } = await stoppedSession(10, 5);
    // A format-1 checkpoint: the folded state alone, at the head.
    await replaceCheckpoint(s.store, id, events.length, fold(events) as never);
    const loaded = await loadAgentRun(s.store, id);
    expect(loaded.fromSeq).toBe(0);
    expect(loaded.eventsRead).toBe(events.length);
    expect(loaded.transcript.snapshot()).toEqual(transcriptOf(events).snapshot());
    await runSession(s, id);
    expect((await s.store.getSession(id)).status).toBe('completed');
  });

  it('writes format 10 and still resumes from a format-2 checkpoint with only the tail', async () => {
    const { s, id, events } = await stoppedSession(30, 20);
    expect((await s.store.latestCheckpoint(id))?.state).toMatchObject({ format: 10 });
    // What the previous version wrote: the transcript's messages as objects.
    const { messages, calls } = transcriptOf(events).snapshot();
    const format2 = { format: 2, state: fold(events), transcript: { messages, calls } };
    await replaceCheckpoint(s.store, id, events.length, format2 as never);
    const loaded = await loadAgentRun(s.store, id);
    expect(loaded.fromSeq).toBe(events.length);
    expect(loaded.eventsRead).toBe(0);
    // A checkpoint written before compaction dates its messages at its own seq.
    const resumed = loaded.transcript.snapshot();
    expect(JSON.stringify({ messages: resumed.messages, calls: resumed.calls })).toBe(
      JSON.stringify({ messages, calls }),
    );
    expect(resumed.seqs).toEqual(messages.map(() => events.length));
    const resumedAt = s.model.requests.length;
    await runSession(s, id);
    expect((await s.store.getSession(id)).status).toBe('completed');
    await expectUninterruptedRequests(s, id, resumedAt);
  });

  it('reads the whole log when the checkpoint is of a format it does not know', async () => {
    const { s, id, events } = await stoppedSession(10, 5);
    const later = { format: 99, state: fold(events), somethingNew: [1, 2] };
    await replaceCheckpoint(s.store, id, events.length, later as never);
    const loaded = await loadAgentRun(s.store, id);
    expect(loaded.fromSeq).toBe(0);
    expect(loaded.state).toEqual(fold(events));
    expect(loaded.transcript.snapshot()).toEqual(transcriptOf(events).snapshot());
  });
});

/** Puts `state` in place of the session's checkpoint, at `seq` (its head), as a worker would. */
async function replaceCheckpoint(
  store: SqliteStore,
  id: SessionId,
  seq: number,
  state: JsonValue,
): Promise<void> {
  const lease = (await store.claim(id, workerId('old'), 10_000))!;
  await store.append({ fence: lease, expectedSeq: seq, events: [], checkpoint: { seq, state } });
  await store.releaseLease(lease);
}

/** Each request from `from` on is the log's transcript up to the event recording it. */
async function expectUninterruptedRequests(
  s: Awaited<ReturnType<typeof setup>>,
  id: SessionId,
  from: number,
): Promise<void> {
  const events = await allEvents(s.store, id);
  const requests = s.model.requests.slice(from);
  expect(requests.length).toBeGreaterThan(0);
  for (const request of requests) {
    const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
    const requested = events.find((e) => modelRequestOf(e)?.step === step);
    const before = events.filter((e) => e.seq < (requested?.seq ?? 0));
    expect(JSON.stringify(request.messages)).toBe(
      JSON.stringify(transcriptOf(before).messages('Take notes.')),
    );
  }
  expect(s.model.violations).toEqual([]);
}
