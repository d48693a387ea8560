import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import { fold } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurn } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from '../agent/define-agent.ts';
import { replaySession } from '../replay/replay-session.ts';
import { requestFingerprints } from '../replay/request-fingerprints.ts';

// 110,000 characters, each place recognisable: "<index>," repeated.
const big = Array.from({ length: 20_000 }, (_, i) => `${String(i).padStart(4, '0')},`).join('');

const dump = defineTool({
  name: 'dump',
  description: 'prints a large log',
  input: z.object({}),
  effect: 'pure',
  run: async () => big,
});

describe('large tool outputs', () => {
  it('keeps an output too large for the transcript in the blob store; the model sees a capped view and pages through the rest', async () => {
    const dir = tempDir('tool-results');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const offered: string[][] = [];
    const seen: string[] = [];
    const agent = defineAgent({
      name: 'reader',
      model: scriptedModel((request): ScriptedTurn => {
        offered.push(request.tools.map((t) => t.name));
        const last = request.messages.at(-1);
        if (last?.role === 'tool') seen.push(JSON.stringify(last.results));
        const turn = request.messages.filter((m) => m.role === 'assistant').length;
        if (turn === 0) return { toolCalls: [{ name: 'dump', args: {} }] };
        if (turn === 1)
          return {
            toolCalls: [
              { name: 'read_tool_result', args: { step: 1, callIndex: 0, offset: 8_000 } },
              { name: 'read_tool_result', args: { step: 1, callIndex: 7 } },
            ],
          };
        return { text: 'read it' };
      }),
      instructions: 'Read the log.',
      tools: [dump],
      workspaceRoot: join(dir, 'ws'),
    });
    const session = await store.createSession({ agent: 'reader', input: 'go' });
    try {
      await runUntil({ store, agents: [agent] }, session.id);
      const events = await allEvents(store, session.id);
      expect(fold(events).status).toBe('completed');
      const results = events.flatMap((e) => (e.type === 'tool.completed' ? [e.data] : []));
      const kept = results[0]!;
      expect(big.length).toBe(110_000);
      // The log holds the hash and a capped view, not the 110,000 characters.
      expect(kept.outputRef).toMatchObject({ chars: big.length });
      expect(typeof kept.output === 'string' && kept.output.length).toBeLessThan(8_300);
      expect(kept.output as string).toMatch(
        /^\[output of 110000 characters, kept outside the transcript; the first 8000 follow\. Read more with read_tool_result \{"step": 1, "callIndex": 0, "offset": 8000\}\]\n0000,0001,/,
      );
      expect(JSON.stringify(events).length).toBeLessThan(30_000);
      const blob = await store.blobs.get(kept.outputRef!.hash);
      expect(new TextDecoder().decode(blob)).toBe(big);
      // The pager is offered once there is something to page through, and reads this session's own.
      expect(offered[0]).toEqual(['dump']);
      expect(offered[1]).toEqual(['dump', 'read_tool_result']);
      expect(results[1]).toMatchObject({ tool: 'read_tool_result', ok: true });
      expect(results[1]!.output).toBe(
        `[characters 8000–16000 of 110000. Next: offset 16000.]\n${big.slice(8_000, 16_000)}`,
      );
      expect(results[2]).toMatchObject({
        tool: 'read_tool_result',
        ok: false,
        errorCode: 'NOT_FOUND',
      });
      // The model saw the capped view, never the whole output.
      expect(seen.every((s) => s.length < 20_000)).toBe(true);
      // Offline replay answers the pager from the recording too: no divergence.
      const replayStore = await SqliteStore.open({ path: join(dir, 'replay.sqlite') });
      try {
        const replayed = await replaySession({
          store: replayStore,
          agent,
          events,
          requests: requestFingerprints(events),
          timeoutMs: 20_000,
        });
        expect(replayed.divergence).toBeNull();
      } finally {
        await replayStore.close();
      }
    } finally {
      await store.close();
    }
  });

  it('keeps every output whole when the agent says so, and refuses bad limits at defineAgent', async () => {
    const dir = tempDir('tool-results-off');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const agent = defineAgent({
      name: 'whole',
      model: scriptedModel((request): ScriptedTurn =>
        request.messages.some((m) => m.role === 'tool')
          ? { text: 'ok' }
          : { toolCalls: [{ name: 'dump', args: {} }] },
      ),
      instructions: 'x',
      tools: [dump],
      workspaceRoot: join(dir, 'ws'),
      toolResults: false,
    });
    const session = await store.createSession({ agent: 'whole', input: 'go' });
    try {
      await runUntil({ store, agents: [agent] }, session.id);
      const done = (await allEvents(store, session.id)).find((e) => e.type === 'tool.completed');
      expect(done?.type === 'tool.completed' && done.data.output).toBe(big);
    } finally {
      await store.close();
    }
    expect(() =>
      defineAgent({
        name: 'bad',
        model: scriptedModel(() => ({ text: 'x' })),
        instructions: 'x',
        toolResults: { maxInlineChars: 1_000, viewChars: 5_000 },
      }),
    ).toThrow(/viewChars must not pass maxInlineChars/);
  });
});
