import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { runUntil, tempDir } from '../testing.ts';
import { defineAgent } from '../agent/define-agent.ts';
import { Worker } from '../worker.ts';

describe('finished sessions’ workspaces a dead worker left', () => {
  it('are removed when a worker that removes finished workspaces starts; nothing else is', async () => {
    const dir = tempDir('finished-workspaces');
    const root = join(dir, 'ws');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const agent = defineAgent({
      name: 'brief',
      instructions: 'Answer.',
      model: scriptedModel(() => ({ text: 'done' })),
      tools: [],
      workspaceRoot: root,
    });
    // Run to its end by a worker that keeps workspaces: as if killed before it removed it.
    const finished = await store.createSession({ agent: 'brief', input: 'go' });
    await runUntil({ store, agents: [agent] }, finished.id);
    const left = join(root, finished.id);
    writeFileSync(join(left, 'out.txt'), 'what the agent wrote');
    // A session not finished (its directory stays), and directories not of this store's sessions.
    const queued = await store.createSession({ agent: 'other', input: 'later' });
    for (const name of [queued.id, 'ses_0000000000000000000000000000dead', 'notes'])
      mkdirSync(join(root, name), { recursive: true });

    const worker = new Worker({ store, agents: [agent], removeFinishedWorkspaces: true });
    await worker.start();
    try {
      for (let i = 0; i < 200 && existsSync(left); i++) await new Promise((r) => setTimeout(r, 10));
      expect(existsSync(left), 'the finished session’s workspace').toBe(false);
      for (const name of [queued.id, 'ses_0000000000000000000000000000dead', 'notes'])
        expect(existsSync(join(root, name)), name).toBe(true);
    } finally {
      await worker.stop();
      await store.close();
    }
  });
});
