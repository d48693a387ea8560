import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Policy, SandboxDriver } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { bwrapDriver, isolationGaps, processDriver } from '@longrun/sandbox';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent } from '../agent/define-agent.ts';
import { shellTool } from '../tools/shell-tool.ts';

const bwrap = await bwrapDriver();
const gaps = isolationGaps(await bwrap.protections());
if (gaps.length > 0) {
  console.error(
    `\n!!! policy sandbox suite did NOT run: bubblewrap does not isolate here (${gaps.map((g) => g.name).join(', ')})\n`,
  );
  if (process.env.CI === 'true') throw new Error('the policy sandbox suite needs bubblewrap');
}

async function runCommands(commands: string[], policy: Policy, driver: SandboxDriver = bwrap) {
  const dir = tempDir('policy-sandbox');
  const outside = join(dir, 'outside');
  mkdirSync(outside);
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const agent = defineAgent({
    name: 'builder',
    model: scriptedModel((request) => {
      const turn = request.messages.filter((m) => m.role === 'assistant').length;
      const command = commands[turn];
      return command === undefined
        ? { text: 'done' }
        : { toolCalls: [{ name: 'run_command', args: { command } }] };
    }),
    instructions: 'Build.',
    tools: [shellTool({ timeoutMs: 20_000 })],
    workspaceRoot: join(dir, 'ws'),
    workspaceSnapshots: false,
    sandbox: { driver },
    policy,
  });
  const session = await store.createSession({ agent: 'builder', input: 'go' });
  const ws = join(dir, 'ws', session.id);
  mkdirSync(join(ws, 'src'), { recursive: true });
  symlinkSync(outside, join(ws, 'linked'));
  await runUntil({ store, agents: [agent] }, session.id, ['completed', 'failed'], 60_000);
  const results = (await allEvents(store, session.id)).flatMap((e) =>
    e.type === 'tool.completed' ? [e.data] : [],
  );
  await store.close();
  return { ws, outside, results };
}

const allowCommands = { tool: 'run_command', action: 'allow' } as const;

describe.runIf(gaps.length === 0)("a policy's write paths in the sandbox", () => {
  it(
    'commands write only the directories the policy lets be written; the rest is read-only',
    { timeout: 90_000 },
    async () => {
      const { ws, results } = await runCommands(
        [
          'touch out/made && echo made-ok',
          'touch src/evil; echo "exit $?"',
          'touch top-level; echo "exit $?"',
          'mv out ../gone 2>&1; rm -rf src 2>&1; ln -s / out2 2>&1; echo done',
        ],
        { tools: [allowCommands], paths: { read: ['**'], write: ['out/**'] } },
      );
      expect(results.map((r) => r.ok)).toEqual([true, true, true, true]);
      expect(JSON.stringify(results[0]?.output)).toContain('made-ok');
      expect(JSON.stringify(results[1]?.output)).toMatch(/exit 1[\s\S]*Read-only file system/);
      expect(JSON.stringify(results[2]?.output)).toMatch(/exit 1[\s\S]*Read-only file system/);
      expect(existsSync(join(ws, 'out', 'made'))).toBe(true);
      expect(existsSync(join(ws, 'src', 'evil'))).toBe(false);
      expect(existsSync(join(ws, 'top-level'))).toBe(false);
      expect(existsSync(join(ws, 'src'))).toBe(true);
      expect(existsSync(join(ws, 'out2'))).toBe(false);
    },
  );

  it(
    'a writable directory that is a link out of the workspace is refused, not mounted',
    { timeout: 90_000 },
    async () => {
      const { outside, results } = await runCommands(['touch linked/pwned; echo "exit $?"'], {
        tools: [allowCommands],
        paths: { read: ['**'], write: ['linked/**'] },
      });
      expect(results[0]?.ok).toBe(false);
      expect(JSON.stringify(results[0]?.output)).toMatch(/FILE_TYPE_REFUSED|link/);
      expect(readdirSync(outside)).toEqual([]);
    },
  );

  it(
    'the process driver, which cannot confine writes, refuses such a policy with a clear error',
    { timeout: 60_000 },
    async () => {
      const { results } = await runCommands(
        ['touch out/x'],
        { tools: [allowCommands], paths: { write: ['out/**'] } },
        processDriver(),
      );
      expect(results[0]?.ok).toBe(false);
      expect(JSON.stringify(results[0]?.output)).toMatch(
        /SANDBOX_UNAVAILABLE.*process driver cannot keep commands/,
      );
    },
  );
});
