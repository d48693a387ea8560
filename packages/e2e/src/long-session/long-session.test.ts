import { afterEach, describe, expect, it } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { openStore } from '@longrun/cli';
import type { WireServer } from '@longrun/models/testing';
import { sqliteTarget, type StoreTarget } from '../store-targets.ts';
import {
  isSummaryRequest,
  longSessionAgent,
  runLongSession,
  startLongSessionServer,
  type LongSessionShape,
} from './long-session.ts';

/**
 * Issue 13's proof, at test size: a scripted session under a 128k-token window, against the wire
 * server (which refuses an over-long request and a call without result with the providers' own
 * 400s), completes with compactions. The bench (`longSession`) runs the same session for 10,000
 * steps; here 200 steps of 8,000-character results (about 50 steps a compaction) keep the test
 * within seconds (about 60 ms a step on a loaded 2-core machine, most of it the store's commits).
 */
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function open(shape: LongSessionShape) {
  const target: StoreTarget = await sqliteTarget();
  const store: SessionStore = await openStore(target.url);
  const server: WireServer = await startLongSessionServer(shape);
  cleanup.push(
    () => target.drop(),
    () => store.close(),
    () => server.close(),
  );
  return { target, store, server, agent: longSessionAgent(server.baseURL, shape, target.dir) };
}

describe('a long session under a 128k-token window', () => {
  it.each(['anthropic', 'openai-chat'] as const)(
    '%s: completes with compactions; every request was within the window and had no orphaned call',
    async (protocol) => {
      const shape = { steps: 200, windowTokens: 128_000, protocol, outputChars: 8_000 };
      const { store, server, agent } = await open(shape);
      const session = await store.createSession({ agent: agent.name, input: 'take 200 notes' });
      await runLongSession(store, agent, session.id);
      const ended = await store.getSession(session.id);
      expect(ended.status).toBe('completed');
      expect(server.violations).toEqual([]);
      for (const request of server.requests) {
        expect(request.tokens).toBeLessThanOrEqual(shape.windowTokens);
      }
      const events = await store.readEvents(session.id, 0, 1_000_000);
      const compactions = events.filter((e) => e.type === 'context.compacted');
      expect(compactions.length).toBeGreaterThanOrEqual(3);
      expect(server.requests.filter(isSummaryRequest)).toHaveLength(compactions.length);
      // Every step was taken once: 200 notes and the final answer.
      const steps = events.filter((e) => e.type === 'model.responded');
      expect(steps).toHaveLength(201);
      expect(events.filter((e) => e.type === 'tool.completed')).toHaveLength(200);
      // The largest request came close to the window: compaction did not start too early.
      const largest = Math.max(...server.requests.map((r) => r.tokens ?? 0));
      expect(largest).toBeGreaterThan(shape.windowTokens * 0.6);
    },
  );
});
