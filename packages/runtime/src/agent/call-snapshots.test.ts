import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from './define-agent.ts';

/**
 * The harness snapshots the workspace after a tool call only when the call may have changed it:
 * it wrote, made or removed a file through its context, or opened the sandbox. Checking a call
 * that did neither would scan the whole workspace for nothing (most of a step's CPU).
 */
describe('workspace snapshots after tool calls', () => {
  it('follow a call that writes through its files, and not one that only reads or does neither', async () => {
    const dir = tempDir('call-snapshots');
    const workspaceRoot = join(dir, 'ws');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    let sessionDir = '';
    // Changes the workspace behind the harness's back, the way only a tool that reaches past its
    // context could: a snapshot that follows this call would record the file.
    const noteOutside = defineTool({
      name: 'note',
      description: 'notes something elsewhere',
      input: z.object({ text: z.string() }),
      effect: 'idempotent',
      run: async ({ text }) => {
        writeFileSync(join(sessionDir, 'outside.txt'), text);
        return 'noted';
      },
    });
    const read = defineTool({
      name: 'read',
      description: 'reads a file',
      input: z.object({ path: z.string() }),
      effect: 'idempotent',
      run: async ({ path }, { files }) => (await files.stat(path)) !== null,
    });
    const write = defineTool({
      name: 'write',
      description: 'writes a file',
      input: z.object({ path: z.string(), text: z.string() }),
      effect: 'idempotent',
      run: async ({ path, text }, { files }) => {
        await files.writeFile(path, text);
        return 'written';
      },
    });
    const agent = defineAgent({
      name: 'writer',
      model: scriptedModel([
        { toolCalls: [{ id: 'a', name: 'note', args: { text: 'one' } }] },
        { toolCalls: [{ id: 'b', name: 'read', args: { path: 'outside.txt' } }] },
        { toolCalls: [{ id: 'c', name: 'write', args: { path: 'made.txt', text: 'two' } }] },
        { text: 'Done.' },
      ]),
      instructions: 'Write.',
      tools: [noteOutside, read, write],
      workspaceRoot,
    });
    const s = await store.createSession({ agent: 'writer', input: 'write' });
    sessionDir = join(workspaceRoot, s.id);
    await runUntil({ store, agents: [agent] }, s.id);
    const snapshots = (await allEvents(store, s.id)).flatMap((e) =>
      e.type === 'workspace.snapshotted' ? [e.data] : [],
    );
    // Only the write's step has a snapshot, and it holds both files: the one the note left
    // outside the harness's view is picked up by the first snapshot after it, not before.
    expect(snapshots.map((d) => ({ step: d.step, files: d.files }))).toEqual([
      { step: 3, files: 2 },
    ]);
    await store.close();
  });
});
