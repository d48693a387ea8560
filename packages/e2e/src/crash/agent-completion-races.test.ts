import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Worker, defineAgent, userMessageSignal, type AgentDefinition } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import type { AppendRequest, SessionStore } from '@longrun/core';
import { sqliteTarget } from '../store-targets.ts';
import { sleep } from './agent-crash-run.ts';

/**
 * Races around the commit that completes a turn (both found by these suites, fixed in
 * AgentRunner#completeTurn): the turn is completed while the lease is still held, the loop
 * looks for a follow-up message once more, and the worker hands the lease back afterwards.
 *
 * 1. A lease renewal that lands between the completing commit and the loop's next check must not
 *    turn a completed session into a `stopped` report (with a spurious "lease lost").
 * 2. A follow-up message sent while that commit is in flight must start a new turn, not be
 *    stranded in the inbox of a session nobody claims again.
 *
 * Both are made deterministic by a store that delays the completing commit.
 */

/** A store whose append that completes a session runs `around` first or after it commits. */
function delayedCompletion(
  inner: SessionStore,
  around: { before?: () => Promise<void>; afterMs?: number },
): SessionStore {
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'append') {
        return async (request: AppendRequest) => {
          const completing = request.status?.status === 'completed';
          if (completing && around.before) await around.before();
          const result = await target.append(request);
          if (completing && around.afterMs) await sleep(around.afterMs);
          return result;
        };
      }
      const value = Reflect.get(target, prop, receiver) as unknown;
      return typeof value === 'function'
        ? (value as (...args: unknown[]) => unknown).bind(target)
        : value;
    },
  });
}

function quickAgent(dir: string): AgentDefinition {
  return defineAgent({
    name: 'quick',
    model: scriptedModel((request) => ({
      text: `answer to message ${request.messages.filter((m) => m.role === 'user').length}`,
    })),
    instructions: 'Answer.',
    tools: [],
    workspaceRoot: join(dir, 'workspaces'),
  });
}

describe('the commit that completes a turn', () => {
  it("a lease renewal refused after it is not reported as the session's end: completed, not stopped", async () => {
    const target = await sqliteTarget();
    const inner = await openStore(target.url);
    const ended: string[] = [];
    const worker = new Worker({
      store: delayedCompletion(inner, { afterMs: 100 }),
      agents: [quickAgent(target.dir)],
      leaseMs: 90, // renewed every 30 ms: at least once while the acknowledgement is late
      pollMs: 5,
    });
    worker.on('session.ended', ({ outcome }) => ended.push(outcome));
    try {
      const session = await inner.createSession({ agent: 'quick', input: 'go' });
      await worker.start();
      // On a loaded machine a 90 ms lease may also lapse before the turn completes (a real
      // loss, reported as `stopped`, and the session is taken up again): what must hold is
      // that the run that completes the session reports it as completed.
      for (let i = 0; i < 2_000 && !ended.includes('completed'); i++) await sleep(10);
      expect((await inner.getSession(session.id)).status).toBe('completed');
      expect(ended.at(-1), `outcomes reported: ${ended.join(', ')}`).toBe('completed');
    } finally {
      await worker.stop();
      await inner.close();
      await target.drop();
    }
  });

  it('a follow-up message sent while it commits starts a new turn (it is not stranded)', async () => {
    const target = await sqliteTarget();
    const inner = await openStore(target.url);
    const session = await inner.createSession({ agent: 'quick', input: 'go' });
    let sent = false;
    const worker = new Worker({
      store: delayedCompletion(inner, {
        before: async () => {
          if (sent) return;
          sent = true;
          await inner.sendSignal(
            session.id,
            userMessageSignal,
            { text: 'one more thing' },
            { wake: 'reopen' },
          );
        },
      }),
      agents: [quickAgent(target.dir)],
      pollMs: 5,
    });
    try {
      await worker.start();
      const turns = async (): Promise<number> =>
        (await inner.readEvents(session.id, 0, 1_000)).filter((e) => e.type === 'session.completed')
          .length;
      for (let i = 0; i < 150 && (await turns()) < 2; i++) await sleep(20);
      const types = (await inner.readEvents(session.id, 0, 1_000)).map((e) => e.type);
      expect(types.filter((t) => t === 'user.messaged').length).toBe(1);
      expect(await inner.pendingSignals(session.id, userMessageSignal)).toEqual([]);
      expect(await turns()).toBe(2);
    } finally {
      await worker.stop();
      await inner.close();
      await target.drop();
    }
  });
});
