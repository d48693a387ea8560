import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { fold, workerId, type SessionId, type StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { normalizeTranscript } from '../transcript.ts';
import { defineAgent, defineTool, type AgentDefinition } from '../agent/define-agent.ts';
import { AgentRunner } from '../agent/agent-runner.ts';
import { replaySession } from '../replay/replay-session.ts';
import { requestFingerprints } from '../replay/request-fingerprints.ts';
import { readBundle, writeSessionBundle } from '../bundle/bundle-files.ts';
import { toolInputEntry } from '../bundle/session-bundle.ts';

// 1,000,000 characters, each place recognisable: "<index>;" repeated.
const content = Array.from({ length: 125_000 }, (_, i) => `${String(i).padStart(7, '0')};`).join(
  '',
);
const args = { path: 'big.txt', content };
const argsText = JSON.stringify(args);

/** An agent that writes one large file, reads the arguments it wrote back a page, then answers. */
function writer(
  dir: string,
  run: (content: string) => Promise<string>,
  toolInputs?: false,
): AgentDefinition {
  const save = defineTool({
    name: 'save',
    description: 'writes a file',
    input: z.object({ path: z.string(), content: z.string() }),
    effect: 'idempotent',
    run: async (input) => run(input.content),
  });
  return defineAgent({
    name: 'writer',
    model: scriptedModel((request): ScriptedTurn => {
      const turn = request.messages.filter((m) => m.role === 'assistant').length;
      // Ids by turn: the model of the worker that resumes counts its calls from 0 again.
      if (turn === 0) return { toolCalls: [{ id: 'save', name: 'save', args }] };
      if (turn === 1) {
        const page = { step: 1, callIndex: 0, part: 'input', offset: 8_000 };
        return { toolCalls: [{ id: 'page', name: 'read_tool_result', args: page }] };
      }
      return { text: 'saved' };
    }),
    instructions: 'Save the file.',
    tools: [save],
    workspaceSnapshots: false,
    workspaceRoot: join(dir, 'ws'),
    ...(toolInputs === undefined ? {} : { toolInputs }),
  });
}

/**
 * Runs the session on a worker that dies inside the tool (it never returns) and gives its lease
 * up: `model.responded` (with the call's start) is committed, the call's result is not.
 */
async function dieInTool(store: SqliteStore, dir: string, id: SessionId): Promise<void> {
  let entered = false;
  const agent = writer(dir, () => {
    entered = true;
    return new Promise<never>(() => undefined);
  });
  const lease = (await store.claim(id, workerId('doomed'), 60_000))!;
  const model = agent.model as never;
  void new AgentRunner({ store, agent, model, lease, signal: new AbortController().signal }).run();
  for (let i = 0; i < 400 && !entered; i++) await new Promise((r) => setTimeout(r, 5));
  expect(entered).toBe(true);
  await store.releaseLease(lease);
}

const sizeOf = (value: unknown): number => JSON.stringify(value).length;

describe('large tool inputs', () => {
  it('keeps a 1 MB argument in the blob store; the tool gets it whole, after a crash on another worker too; the log, checkpoints and later requests hold a capped view', async () => {
    const dir = tempDir('tool-inputs');
    const path = join(dir, 'db.sqlite');
    const first = await SqliteStore.open({ path });
    const session = await first.createSession({ agent: 'writer', input: 'go' });
    await dieInTool(first, dir, session.id);
    const atCrash = await allEvents(first, session.id);
    await first.close();
    // The crash left the call started and without a result; its arguments are a reference.
    expect(atCrash.map((e) => e.type)).not.toContain('tool.completed');
    const responded = atCrash.find((e) => e.type === 'model.responded');
    const call = responded?.type === 'model.responded' ? responded.data.toolCalls[0] : undefined;
    expect(call?.inputRef).toMatchObject({ chars: argsText.length });
    expect(sizeOf(call)).toBeLessThan(8_600);
    const view = call?.args.kept_arguments;
    expect(typeof view === 'string' && view.slice(0, 300)).toMatch(
      /^\[arguments of 1000031 characters \(sha256 [0-9a-f]{64}\), kept outside the transcript; the first 8000 follow\. Read more with read_tool_result \{"step": 1, "callIndex": 0, "part": "input", "offset": 8000\}\]\n\{"path":"big\.txt","content":"0000000;0000001;/,
    );

    // A fresh worker, on a store opened again, runs the interrupted call with the whole input.
    const store = await SqliteStore.open({ path });
    const received: string[] = [];
    const agent = writer(dir, async (c) => (received.push(c), `wrote ${c.length} characters`));
    try {
      // A checkpoint (state and transcript) at every result: each must stay small.
      await runUntil({ store, agents: [agent], checkpointEvery: 1 }, session.id);
      const events = await allEvents(store, session.id);
      expect(fold(events).failure).toBeNull();
      expect(fold(events).status).toBe('completed');
      expect(received).toHaveLength(1);
      expect(received[0] === content).toBe(true);
      // No event holds the content whole; the log, the checkpoint and every later request are small.
      expect(events.every((e) => !JSON.stringify(e.data).includes(content.slice(0, 20_000)))).toBe(
        true,
      );
      expect(sizeOf(events)).toBeLessThan(40_000);
      const checkpoint = await store.latestCheckpoint(session.id);
      expect(checkpoint).not.toBeNull();
      expect(sizeOf(checkpoint)).toBeLessThan(30_000);
      const requests = (agent.model as unknown as { requests: unknown[] }).requests;
      expect(requests.length).toBeGreaterThanOrEqual(2);
      for (const r of requests) expect(sizeOf(r)).toBeLessThan(30_000);
      // The pager reads the arguments the model wrote, a page at a time.
      const paged = events.flatMap((e) =>
        e.type === 'tool.completed' && e.data.tool === 'read_tool_result' ? [e.data] : [],
      );
      expect(paged).toMatchObject([{ ok: true }]);
      expect(paged[0]!.output).toBe(
        `[characters 8000–16000 of ${argsText.length}. Next: offset 16000.]\n${argsText.slice(8_000, 16_000)}`,
      );
      const blob = await store.blobs.get(call!.inputRef!.hash);
      expect(blob && new TextDecoder().decode(blob)).toBe(argsText);
      // Transcript identical to an uninterrupted run's.
      const reference = await SqliteStore.open({ path: join(dir, 'reference.sqlite') });
      try {
        const same = await reference.createSession({ agent: 'writer', input: 'go' });
        await runUntil(
          { store: reference, agents: [writer(dir, async (c) => `wrote ${c.length} characters`)] },
          same.id,
        );
        expect(normalizeTranscript(await allEvents(reference, same.id))).toEqual(
          normalizeTranscript(events),
        );
      } finally {
        await reference.close();
      }
      await expectReplays(store, agent, events, dir);
    } finally {
      await store.close();
    }
  });

  it('keeps every call whole when the agent says so, and refuses bad limits at defineAgent', async () => {
    const dir = tempDir('tool-inputs-off');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const received: string[] = [];
    const agent = writer(dir, async (c) => (received.push(c), 'ok'), false);
    const session = await store.createSession({ agent: 'writer', input: 'go' });
    try {
      // Nothing is kept, so the page call is answered with an error; the session still ends.
      await runUntil({ store, agents: [agent] }, session.id);
      const events = await allEvents(store, session.id);
      const responded = events.find((e) => e.type === 'model.responded');
      const call = responded?.type === 'model.responded' ? responded.data.toolCalls[0] : undefined;
      expect(call?.inputRef).toBeUndefined();
      expect(call?.args.content === content && received[0] === content).toBe(true);
    } finally {
      await store.close();
    }
    expect(() =>
      defineAgent({
        name: 'bad',
        model: scriptedModel(() => ({ text: 'x' })),
        instructions: 'x',
        toolInputs: { maxInlineChars: 50 },
      }),
    ).toThrow(/toolInputs\.maxInlineChars must be a whole number ≥ 100/);
  });
});

/**
 * A replay, from the store and from a bundle, checks each call's input on the whole arguments and
 * makes the recorded requests (same fingerprints); without the arguments it says what it lacks.
 */
async function expectReplays(
  store: SqliteStore,
  agent: AgentDefinition,
  events: StoredEvent[],
  dir: string,
): Promise<void> {
  const bundlePath = join(dir, 'session.tar.gz');
  await writeSessionBundle(store, events[0]!.sessionId, bundlePath, { traceJson: false });
  const files = await readBundle(bundlePath);
  const sources = {
    store: (hash: string) => store.blobs.get(hash),
    bundle: async (hash: string) => files.get(toolInputEntry(hash)) ?? null,
    none: async () => null,
  };
  for (const [name, inputs] of Object.entries(sources)) {
    const replayStore = await SqliteStore.open({ path: join(dir, `replay-${name}.sqlite`) });
    try {
      const replayed = await replaySession({
        store: replayStore,
        agent,
        events,
        requests: requestFingerprints(events),
        inputs,
        timeoutMs: 20_000,
      });
      if (name === 'none')
        expect(JSON.stringify(replayed.divergence)).toMatch(/kept its arguments outside the log/);
      else expect(replayed.divergence, name).toBeNull();
    } finally {
      await replayStore.close();
    }
  }
}
