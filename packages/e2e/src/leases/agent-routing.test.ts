import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { workerId, type SessionId, type SessionStore } from '@longrun/core';
import { openStore } from '@longrun/cli';
import { scriptedModel } from '@longrun/models/testing';
import { Worker, defineAgent } from '@longrun/runtime';
import { targets } from '../store-targets.ts';

/** An agent that answers at once with its own name: which agent ran a session shows in its output. */
function namedAgent(name: string, dir: string) {
  return defineAgent({
    name,
    model: scriptedModel(() => ({ text: `done by ${name}` })),
    instructions: 'Answer.',
    tools: [],
    workspaceRoot: join(dir, name),
  });
}

async function waitForStatuses(
  store: SessionStore,
  ids: SessionId[],
  status: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const sessions = await store.getSessions(ids);
    if (sessions.every((s) => s.status === status)) return;
    if (Date.now() > deadline) {
      throw new Error(
        `not all ${status} after ${timeoutMs} ms: ${sessions.map((s) => `${s.id} ${s.status}`).join(', ')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Invariant: a worker claims only sessions of the agents it runs. A session of an agent it lacks
 * stays queued and unclaimed (never parked as paused) until a worker that has the agent runs it.
 */
for (const target of targets) {
  describe.runIf(target.run)(`claims by agent, ${target.name}`, () => {
    it('leaves sessions of an agent a worker lacks for the worker that has it', async () => {
      const t = await target.make();
      const store = await openStore(t.url);
      const ranBy = new Map<string, string>();
      const worker = (name: string) => {
        const w = new Worker({
          store,
          agents: [namedAgent(name, t.dir)],
          workerId: workerId(`${name}-worker`),
          pollMs: 5,
        });
        w.on('session.ended', ({ sessionId, outcome }) =>
          ranBy.set(sessionId, `${name}:${outcome}`),
        );
        return w;
      };
      const alphas: SessionId[] = [];
      const betas: SessionId[] = [];
      for (let i = 0; i < 5; i++) {
        alphas.push((await store.createSession({ agent: 'alpha', input: { task: `a${i}` } })).id);
        betas.push((await store.createSession({ agent: 'beta', input: { task: `b${i}` } })).id);
      }
      const alphaWorker = worker('alpha');
      await alphaWorker.start();
      const betaWorker = worker('beta');
      try {
        await waitForStatuses(store, alphas, 'completed');
        // Many polls later, the alpha worker has still not touched a beta session.
        await new Promise((r) => setTimeout(r, 200));
        for (const s of await store.getSessions(betas)) {
          expect(s).toMatchObject({ status: 'queued', leaseEpoch: 0, leaseOwner: null });
        }
        await betaWorker.start();
        await waitForStatuses(store, betas, 'completed');
      } finally {
        await alphaWorker.stop();
        await betaWorker.stop();
      }
      for (const id of alphas) expect(ranBy.get(id)).toBe('alpha:completed');
      for (const id of betas) expect(ranBy.get(id)).toBe('beta:completed');
      for (const s of await store.getSessions([...alphas, ...betas])) {
        const done = (await store.readEvents(s.id, 0, 20)).at(-1);
        expect(done).toMatchObject({
          type: 'session.completed',
          data: { output: `done by ${s.agent}` },
        });
        // Claimed once: by the worker that has its agent, never first by the other one.
        expect(s.leaseEpoch).toBe(1);
      }
      await store.close();
      await t.drop();
    });
  });
}
