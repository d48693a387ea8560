import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import type { SessionStore } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { tempDir } from './testing.ts';
import { Worker } from './worker.ts';
import { defineAgent } from './agent/define-agent.ts';

/** The store, with its first claimNext's answer held until `release` (the claim is in flight). */
function heldFirstClaim(inner: SessionStore) {
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  let asked!: () => void;
  const claimAsked = new Promise<void>((resolve) => (asked = resolve));
  let claims = 0;
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === 'claimNext')
        return async (...args: Parameters<SessionStore['claimNext']>) => {
          const lease = await target.claimNext(...args);
          if (++claims === 1) {
            asked();
            await released;
          }
          return lease;
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return { store, release, claimAsked };
}

describe('Worker.wake', () => {
  it('a wake that arrives while a claim is in flight is not lost', async () => {
    const dir = tempDir('wake');
    const inner = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const held = heldFirstClaim(inner);
    const agent = defineAgent({
      name: 'echo',
      model: scriptedModel([{ text: 'hi' }]),
      instructions: 'Say hi.',
      tools: [],
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
    });
    // A poll an hour long: only a wake can start the session within the test's time.
    const worker = new Worker({ store: held.store, agents: [agent], pollMs: 3_600_000 });
    await worker.start();
    try {
      await held.claimAsked; // the first claim found nothing; its answer is still on its way
      const session = await inner.createSession({ agent: 'echo', input: 'go' });
      worker.wake();
      held.release();
      let status = '';
      for (let i = 0; i < 400 && status !== 'completed'; i++) {
        status = (await inner.getSession(session.id)).status;
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(status).toBe('completed');
    } finally {
      await worker.stop();
      await inner.close();
    }
  });
});
