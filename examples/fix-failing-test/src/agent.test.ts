import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from '@longrun/runtime';
import { SqliteStore } from '@longrun/store-sqlite';
import { fixFailingTestAgent } from './agent.ts';

function testsPass(dir: string): boolean {
  return (
    spawnSync(process.execPath, ['--test'], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
      .status === 0
  );
}

describe('the fix-failing-test example, offline', () => {
  it(
    'finds the failing test, fixes the code, and leaves the tests green',
    { timeout: 60_000 },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'longrun-example-'));
      const store = await SqliteStore.open({ path: join(dir, 'longrun.db') });
      const agent = fixFailingTestAgent({
        workspaceRoot: join(dir, 'workspaces'),
        replayChunkDelayMs: 0,
      });
      const session = await store.createSession({
        agent: agent.name,
        input: { task: 'The tests fail. Fix the code.' },
      });
      const worker = new Worker({ store, agents: [agent], pollMs: 5 });
      await worker.start();
      for (
        let i = 0;
        i < 2_000 && (await store.getSession(session.id)).status !== 'completed';
        i++
      ) {
        await new Promise((r) => setTimeout(r, 10));
      }
      await worker.stop();
      const events = await store.readEvents(session.id, 0, 10_000);
      expect((await store.getSession(session.id)).status).toBe('completed');
      const commands = events
        .filter((e) => e.type === 'tool.completed' && e.data.tool === 'run_command')
        .map((e) => String((e.data as { output: string }).output));
      expect(commands[0]).toMatch(/^exit code 1\n[\s\S]*fail 1/);
      expect(commands[1]).toMatch(/^exit code 0\n[\s\S]*pass 3/);
      expect(testsPass(join(dir, 'workspaces', session.id))).toBe(true);
      await store.close();
    },
  );
});
