import { describe, expect, it } from 'vitest';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { SandboxPool, processDriver } from '@longrun/sandbox';
import { Worker } from '../worker.ts';
import { allEvents, tempDir } from '../testing.ts';
import { defineAgent } from './define-agent.ts';
import { shellTool } from '../tools/shell-tool.ts';

describe('agents in a sandbox pool', () => {
  it('a session waits in the pool queue at its ceiling and runs once the other releases its sandbox', async () => {
    const dir = tempDir('pool');
    // As root the process driver runs commands as a uid of their own: let it see the gate.
    chmodSync(dir, 0o755);
    const gate = join(dir, 'gate');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const pool = new SandboxPool({ driver: processDriver(), maxSandboxes: 1 });
    const agent = defineAgent({
      name: 'pooled',
      model: scriptedModel((request) =>
        request.messages.some((m) => m.role === 'tool')
          ? { text: 'done' }
          : {
              toolCalls: [
                {
                  name: 'run_command',
                  // Holds the pool's only sandbox until the test opens the gate.
                  args: {
                    command: `while [ ! -e ${gate} ]; do sleep 0.01; done; echo $((20 + 22))`,
                  },
                },
              ],
            },
      ),
      instructions: 'x',
      tools: [shellTool({ timeoutMs: 30_000 })],
      workspaceRoot: join(dir, 'ws'),
      sandbox: { driver: pool.asDriver() },
    });
    const worker = new Worker({ store, agents: [agent], pollMs: 5 });
    const a = await store.createSession({ agent: 'pooled', input: 'a' });
    const b = await store.createSession({ agent: 'pooled', input: 'b' });
    await worker.start();
    try {
      const deadline = Date.now() + 20_000;
      while (pool.stats().queued < 1 && Date.now() < deadline)
        await new Promise((r) => setTimeout(r, 5));
      expect(pool.stats()).toMatchObject({ size: 1, inUse: 1, queued: 1 });
      expect(existsSync(gate)).toBe(false);
      writeFileSync(gate, '');
      for (const id of [a.id, b.id]) {
        while ((await store.getSession(id)).status !== 'completed' && Date.now() < deadline)
          await new Promise((r) => setTimeout(r, 10));
        const completed = (await allEvents(store, id)).find((e) => e.type === 'tool.completed');
        expect(completed?.data).toMatchObject({ ok: true, output: 'exit code 0\n42\n' });
      }
      expect(pool.stats()).toMatchObject({ inUse: 0, queued: 0 });
    } finally {
      await worker.stop();
      await pool.close();
      await store.close();
    }
  });
});
