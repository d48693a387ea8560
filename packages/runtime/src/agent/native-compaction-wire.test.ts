import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import type { SessionId, StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { startWireServer, wireClients, type WireServer } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from './define-agent.ts';
import { signalSession } from './session-commands.ts';
import { loadAgentRun } from '../harness/resume-load.ts';
import { TranscriptBuilder } from './transcript-builder.ts';
import { replaySession } from '../replay/replay-session.ts';
import { requestFingerprints } from '../replay/request-fingerprints.ts';

/**
 * Native compaction end to end: the real AI SDK Anthropic client against the wire server, which
 * answers a request that asks for compaction (`compact_20260112`) and passes its trigger with a
 * `compaction` block (a summary and a signature naming the request) ahead of the turn. The log
 * records it, the next request starts from it exactly as received and holds nothing older, and
 * a fresh worker resuming from the checkpoint sends the same.
 */

const steps = 30;
/** The step whose call waits for a signal: the session parks, and a fresh worker resumes it. */
const waitStep = 20;

const note = defineTool({
  name: 'note',
  description: 'notes a line and returns a long receipt',
  input: z.object({ line: z.string(), wait: z.boolean().optional() }),
  effect: 'idempotent',
  run: async ({ line, wait }, context) => {
    if (wait === true) await context.waitForSignal('go');
    return `noted ${line}: ${'x'.repeat(800)}`;
  },
});

type Block = { type: string; text?: string; content?: string; signature?: string };
type Message = { role: string; content: string | Block[] };

const messagesOf = (server: WireServer, step: number): Message[] =>
  (server.requests[step - 1]!.body as { messages: Message[] }).messages;

const ofType = <T extends StoredEvent['type']>(events: StoredEvent[], type: T) =>
  events.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);

let server: WireServer;

beforeEach(async () => {
  // One request per step, in order: a note per step (one waits), then the answer.
  server = await startWireServer({
    generate: (request) => {
      const step = request.index;
      if (step > steps) return { text: 'done' };
      const args = { line: `${step}`, ...(step === waitStep ? { wait: true } : {}) };
      return { text: `step ${step}`, toolCalls: [{ id: `toolu_${step}`, name: 'note', args }] };
    },
  });
});
afterEach(async () => {
  await server.close();
});

function nativeAgent(dir: string) {
  return defineAgent({
    name: 'long',
    // A fresh client for every worker: nothing is carried over in memory.
    model: wireClients(server).anthropic!.client,
    instructions: 'Note lines.',
    tools: [note],
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
    context: { compaction: 'native', windowTokens: 3_000 },
  });
}

async function openRun(dir: string) {
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const agent = nativeAgent(dir);
  const run = (id: SessionId, statuses?: string[]) =>
    runUntil({ store, agents: [agent] }, id, statuses);
  return { store, run };
}

describe('native compaction over the wire (Anthropic)', () => {
  it('records the compaction block, sends it back as received with nothing older, and resumes from it', async () => {
    const dir = tempDir('native-compaction');
    const first = await openRun(dir);
    const { id } = await first.store.createSession({ agent: 'long', input: 'note 30 lines' });
    await first.run(id, ['waiting']);
    // What a fresh worker loads: the checkpoint written with the latest compaction, then the rest.
    const loaded = await loadAgentRun(first.store, id);
    await signalSession(first.store, id, 'go', null);
    await first.store.close();

    const second = await openRun(dir);
    await second.run(id);
    expect((await second.store.getSession(id)).status).toBe('completed');
    const events = await allEvents(second.store, id);
    await second.store.close();

    expect(server.violations).toEqual([]);
    expect(server.requests).toHaveLength(steps + 1);
    // Every request asked for compaction at 80% of the window.
    for (const request of server.requests) {
      expect(request.body).toMatchObject({
        context_management: {
          edits: [{ type: 'compact_20260112', trigger: { type: 'input_tokens', value: 2_400 } }],
        },
      });
    }
    const compactions = ofType(events, 'context.compacted');
    expect(compactions.length).toBeGreaterThanOrEqual(2);
    const responded = ofType(events, 'model.responded');
    for (const c of compactions) {
      const step = c.data.native!.step;
      const block = {
        type: 'compaction',
        content: `Summary of the ${messagesOf(server, step).length} messages before request ${step}.`,
        signature: `compaction-signature-${step}`,
      };
      expect(c.data).toMatchObject({
        native: { provider: 'anthropic', step, part: 0 },
        summary: block.content,
        messages: expect.any(Number) as number,
      });
      expect(c.data.fromSeq).toBeLessThanOrEqual(c.data.throughSeq);
      // The turn's text is the model's answer alone; its first part is the block as received.
      const turn = responded.find((r) => r.data.step === step)!;
      expect(turn.seq).toBe(c.seq - 1);
      expect(turn.data.text).toBe(`step ${step}`);
      expect(turn.data.parts?.[0]).toEqual({
        type: 'compaction',
        text: block.content,
        providerMetadata: { anthropic: { type: 'compaction', signature: block.signature } },
      });
      // Every later request until the next compaction starts with that block: nothing older.
      const next = compactions.find((d) => d.data.native!.step > step)?.data.native!.step;
      for (let later = step + 1; later <= (next ?? steps + 1); later++) {
        const messages = messagesOf(server, later);
        expect(messages[0]?.role).toBe('assistant');
        expect((messages[0]?.content as Block[])[0]).toEqual(block);
        if (later === step + 1) expect(messages).toHaveLength(2);
      }
    }
    // No compaction summary reached the streamed text.
    for (const s of ofType(events, 'model.streamed')) expect(s.data.text).not.toMatch(/Summary/);

    // The resumed worker started from the checkpoint of the latest compaction before the wait.
    const before = compactions.filter((c) => c.data.native!.step < waitStep).at(-1)!;
    expect(loaded.fromSeq).toBeGreaterThanOrEqual(before.seq);
    expect(loaded.transcript.startSeq).toBe(before.seq);
    const whole = new TranscriptBuilder();
    for (const e of events.filter((e) => e.seq <= loaded.state.seq)) whole.apply(e);
    expect(loaded.transcript.snapshot().messages).toEqual(whole.snapshot().messages);
    // Its first request (step waitStep + 1) begins with that compaction's block.
    const resumed = messagesOf(server, waitStep + 1)[0];
    expect((resumed?.content as Block[])[0]).toMatchObject({
      type: 'compaction',
      signature: `compaction-signature-${before.data.native!.step}`,
    });

    // The recording replays with no divergence: the same requests, the same compactions.
    const replayStore = await SqliteStore.open({
      path: join(tempDir('native-compaction-replay'), 'db.sqlite'),
    });
    const replayed = await replaySession({
      store: replayStore,
      agent: nativeAgent(dir),
      events,
      requests: requestFingerprints(events),
    });
    await replayStore.close();
    expect(replayed.divergence).toBeNull();
    expect(replayed.status).toBe('completed');
  });
});
