import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { fold, workerId, type SessionId, type StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, tempDir } from '../testing.ts';
import { Worker } from '../worker.ts';
import { defineAgent, defineTool } from '../agent/define-agent.ts';
import { TranscriptBuilder } from '../agent/transcript-builder.ts';
import { loadAgentRun } from './resume-load.ts';

const checkpointEvery = 16;
/** Events of one step: model.requested, model.responded, tool.started, tool.completed. */
const eventsPerStep = 4;

const note = defineTool({
  name: 'note',
  description: 'notes a line',
  input: z.object({ line: z.string() }),
  effect: 'idempotent',
  run: async ({ line }) => `noted ${line}`,
});

async function setup(steps: number) {
  const dir = tempDir('resume');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const model = scriptedModel((request) => {
    const done = request.messages.filter((m) => m.role === 'assistant').length;
    return done >= steps
      ? { text: 'done' }
      : { text: `step ${done + 1}`, toolCalls: [{ name: 'note', args: { line: `${done + 1}` } }] };
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

    const loaded = await loadAgentRun(s.store, session.id);
    expect(loaded.fromSeq).toBeGreaterThan(0);
    expect(loaded.eventsRead).toBe(events.length - loaded.fromSeq);
    expect(loaded.eventsRead).toBeLessThan(checkpointEvery + eventsPerStep);
    // What a full read gives: the same state and the same transcript.
    expect(loaded.state).toEqual(fold(events));
    expect(loaded.transcript.snapshot()).toEqual(transcriptOf(events).snapshot());
  });

  it('continues from the checkpoint with the transcript an uninterrupted run would send', async () => {
    const s = await setup(60);
    const session = await s.store.createSession({ agent: 'notes', input: 'take notes' });
    await runSession(s, session.id, 45);
    const resumedAt = s.model.requests.length;
    await runSession(s, session.id);
    expect((await s.store.getSession(session.id)).status).toBe('completed');
    const events = await allEvents(s.store, session.id);
    // Each request after the resume is the log's transcript up to its `model.requested`.
    for (const request of s.model.requests.slice(resumedAt)) {
      const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
      const requested = events.find((e) => e.type === 'model.requested' && e.data.step === step);
      const before = events.filter((e) => e.seq < (requested?.seq ?? 0));
      expect(request.messages).toEqual(transcriptOf(before).messages('Take notes.'));
    }
    expect(s.model.violations).toEqual([]);
  });

  it('reads the whole log when the checkpoint holds no transcript (written before it did)', async () => {
    const s = await setup(10);
    const session = await s.store.createSession({ agent: 'notes', input: 'take notes' });
    await runSession(s, session.id, 5);
    const events = await allEvents(s.store, session.id);
    const lease = (await s.store.claim(session.id, workerId('old'), 10_000))!;
    // A format-1 checkpoint: the folded state alone, at the head.
    await s.store.append({
      fence: lease,
      expectedSeq: events.length,
      events: [],
      checkpoint: { seq: events.length, state: fold(events) as never },
    });
    await s.store.releaseLease(lease);
    const loaded = await loadAgentRun(s.store, session.id);
    expect(loaded.fromSeq).toBe(0);
    expect(loaded.eventsRead).toBe(events.length);
    expect(loaded.transcript.snapshot()).toEqual(transcriptOf(events).snapshot());
    await runSession(s, session.id);
    expect((await s.store.getSession(session.id)).status).toBe('completed');
  });
});
