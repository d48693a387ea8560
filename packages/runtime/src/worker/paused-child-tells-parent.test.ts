import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { event, subAgentSignal, workerId } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { runUntil, tempDir } from '../testing.ts';
import { defineAgent } from '../agent/define-agent.ts';

describe('a sub-agent the worker parks after an error', () => {
  it("tells its parent's call at once, not at the parent's next re-check", async () => {
    const dir = tempDir('paused-child');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const parent = await store.createSession({ agent: 'planner', input: 'plan' });
    const child = await store.createSession({
      agent: 'breaks',
      input: 'work',
      parent: {
        sessionId: parent.id,
        rootSessionId: parent.id,
        step: 1,
        callIndex: 0,
        policies: [],
      },
    });
    // Its log names a workspace snapshot the blob store does not hold: no retry restores it,
    // and the worker parks the session for a person.
    const lease = await store.claim(child.id, workerId('setup'), 10_000);
    if (lease === null) throw new Error('the child is not claimable');
    const lost = { step: 0, manifestHash: 'f'.repeat(64), files: 1, bytes: 1, changed: 1 };
    await store.append({
      fence: lease,
      expectedSeq: lease.headSeq,
      events: [event('workspace.snapshotted', lost)],
      releaseLease: true,
    });
    const breaks = defineAgent({
      name: 'breaks',
      instructions: 'Work.',
      model: scriptedModel(() => ({ text: 'never asked' })),
      tools: [],
      workspaceRoot: join(dir, 'ws'),
    });
    await runUntil({ store, agents: [breaks] }, child.id, ['paused']);
    expect((await store.getSession(child.id)).statusReason).toMatch(/stopped by an error/);
    const told = await store.pendingSignals(parent.id, subAgentSignal(1, 0));
    expect(told.map((s) => s.payload)).toEqual([{ childSessionId: child.id, status: 'paused' }]);
    await store.close();
  });
});
