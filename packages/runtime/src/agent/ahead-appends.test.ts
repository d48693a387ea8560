import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { z } from 'zod';
import type { AppendRequest, SessionStore, Tool } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from './define-agent.ts';

/** The store, every append of which takes `delayMs` longer to commit (a slow disk). */
function slowAppends(store: SqliteStore, delayMs: number): SessionStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (property === 'append')
        return async (request: AppendRequest) => {
          await new Promise((r) => setTimeout(r, delayMs));
          return target.append(request);
        };
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
}

/**
 * The harness sends a step's appends ahead of their commits (a response, a result), but a tool
 * call runs only once its start, and the response that asked for it, have committed: a call of
 * every effect class reads the log when it runs, and says whether its own start is there.
 */
describe('appends sent ahead of their commits', () => {
  it('runs a call of every effect class only once its start has committed', async () => {
    const dir = tempDir('ahead');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const slow = slowAppends(store, 15);
    const effects: Tool['effect'][] = ['idempotent', 'keyed', 'pure', 'unsafe'];
    const startCommitted = new Map<string, boolean>();
    const tools: Tool[] = effects.map((effect) =>
      defineTool({
        name: `${effect}_call`,
        description: `a call of effect class ${effect}`,
        input: z.object({}),
        effect,
        async run(_input, context) {
          const log = await allEvents(store, context.sessionId);
          startCommitted.set(
            effect,
            log.some(
              (e) =>
                e.type === 'tool.started' &&
                e.data.step === context.step &&
                e.data.callIndex === context.callIndex,
            ),
          );
          return effect;
        },
      }),
    );
    const agent = defineAgent({
      name: 'ahead',
      instructions: 'one call of each effect class',
      model: scriptedModel((request) => {
        const step = request.context?.step ?? 1;
        const tool = tools[step - 1];
        return tool === undefined
          ? { text: 'done' }
          : { text: `step ${step}`, toolCalls: [{ name: tool.name, args: {} }] };
      }),
      tools,
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
    });
    const s = await store.createSession({ agent: 'ahead', input: 'go' });
    await runUntil({ store: slow, agents: [agent] }, s.id, ['completed']);
    expect(Object.fromEntries(startCommitted)).toEqual({
      idempotent: true,
      keyed: true,
      pure: true,
      unsafe: true,
    });
    // Each call has one start and one result, in seq order, with no gap.
    const log = await allEvents(store, s.id);
    expect(log.every((e, i) => e.seq === i + 1)).toBe(true);
    for (const effect of effects) {
      const of = (type: string) =>
        log.filter(
          (e) => e.type === type && (e.data as { tool?: string }).tool === `${effect}_call`,
        );
      expect(of('tool.started')).toHaveLength(1);
      expect(of('tool.completed')).toHaveLength(1);
    }
    await store.close();
  });
});
