// The user's own test of their agent, with the testing kits: a scripted model (in the agent) and
// @longrun/runtime/testing's runUntil, on a throwaway SQLite store. `*.spec.ts`, so the
// repository's own test run (which takes `*.test.ts`) leaves it to packed-install.test.ts,
// which runs it with vitest in the installed project.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { SqliteStore } from '@longrun/store-sqlite';
import { allEvents, runUntil } from '@longrun/runtime/testing';
import agent from './my-agent.ts';

it('counts the words of its task with its tool', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'my-agent-test-'));
  const store = await SqliteStore.open({ path: join(dir, 'sessions.sqlite') });
  try {
    const session = await store.createSession({ agent: agent.name, input: 'one two three' });
    await runUntil({ store, agents: [agent] }, session.id);
    expect((await store.getSession(session.id)).status).toBe('completed');
    const tool = (await allEvents(store, session.id)).find((e) => e.type === 'tool.completed');
    expect(tool?.data).toMatchObject({ tool: 'count_words', ok: true, output: { words: 3 } });
  } finally {
    await store.close();
  }
});
