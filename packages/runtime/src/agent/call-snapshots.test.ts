import { describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { LongrunError, fold, type AppendRequest } from '@longrun/core';
import { loadWorkspaceState } from '@longrun/workspace';
import { join } from 'node:path';
import { z } from 'zod';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent, defineTool } from './define-agent.ts';
import { writeFileTool } from '../tools/file-tools.ts';

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

describe('workspace edits in tool results', () => {
  it('carry small changes; a manifest is stored first, after 64 calls with edits, and for a directory', async () => {
    const dir = tempDir('call-edits');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const append = defineTool({
      name: 'append',
      description: 'appends a line to log.txt',
      input: z.object({ n: z.number() }),
      effect: 'idempotent',
      run: async ({ n }, { files }) => {
        const before =
          (await files.stat('log.txt')) === null ? '' : await files.readFile('log.txt');
        await files.writeFile('log.txt', `${Buffer.from(before).toString()}line ${n}\n`);
        return n;
      },
    });
    const mkdir = defineTool({
      name: 'mkdir',
      description: 'makes a directory',
      input: z.object({}),
      effect: 'idempotent',
      run: async (_input, { files }) => {
        await files.mkdir('sub');
        return 'made';
      },
    });
    const turns = [
      ...Array.from({ length: 66 }, (_, i) => ({
        toolCalls: [{ id: `a${i + 1}`, name: 'append', args: { n: i + 1 } }],
      })),
      { toolCalls: [{ id: 'm', name: 'mkdir', args: {} }] },
      { toolCalls: [{ id: 'last', name: 'append', args: { n: 68 } }] },
      { text: 'Done.' },
    ];
    const agent = defineAgent({
      name: 'appender',
      model: scriptedModel(turns),
      instructions: 'Append.',
      tools: [append, mkdir],
      workspaceRoot: join(dir, 'ws'),
      maxSteps: 100,
    });
    const s = await store.createSession({ agent: 'appender', input: 'append' });
    await runUntil({ store, agents: [agent] }, s.id);
    const events = await allEvents(store, s.id);
    const stored = events.flatMap((e) => (e.type === 'workspace.snapshotted' ? [e.data.step] : []));
    const edited = events.flatMap((e) =>
      e.type === 'tool.completed' && e.data.workspaceEdits !== undefined
        ? [[e.data.step, e.data.workspaceEdits] as const]
        : [],
    );
    // Step 1 made the file (there was no manifest to edit), 66 came after 64 calls with edits, 67
    // made a directory; every other append is one edit, carrying its line.
    expect(stored).toEqual([1, 66, 67]);
    expect(edited.map(([step]) => step)).toEqual([
      ...Array.from({ length: 64 }, (_, i) => i + 2),
      68,
    ]);
    const log = 'line 1\nline 2\n'.length;
    expect(edited[1]).toEqual([3, [{ path: 'log.txt', at: log, text: 'line 3\n' }]]);
    // The session's last state restores to what the agent wrote.
    const { manifest } = await loadWorkspaceState(store.blobs, fold(events).workspace!);
    const file = manifest.entries.find((e) => e.path === 'log.txt');
    expect(file?.type === 'file' ? file.size : 0).toBe(
      [...Array.from({ length: 66 }, (_, i) => i + 1), 68].map((n) => `line ${n}\n`).join('')
        .length,
    );
    expect(readFileSync(join(dir, 'ws', s.id, 'log.txt'), 'utf8')).toContain('line 68\n');
    await store.close();
  });
});

describe('a stored snapshot whose event did not commit', () => {
  it('is no base for edits: the next change is stored whole and the log restores every file', async () => {
    const dir = tempDir('uncommitted-base');
    const real = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    let refused = 0;
    // The first append carrying a stored snapshot is refused as if another worker held the lease.
    const store = new Proxy(real, {
      get(target, property, receiver) {
        if (property === 'append') {
          return async (request: AppendRequest) => {
            if (refused === 0 && request.events.some((e) => e.type === 'workspace.snapshotted')) {
              refused += 1;
              throw new LongrunError('LEASE_LOST', 'refused once by the test');
            }
            return target.append(request);
          };
        }
        const value: unknown = Reflect.get(target, property, receiver);
        return typeof value === 'function'
          ? (value as (...a: unknown[]) => unknown).bind(target)
          : value;
      },
    });
    const write = (path: string, content: string) => ({
      toolCalls: [{ name: 'write_file', args: { path, content } }],
    });
    const agent = defineAgent({
      name: 'writer',
      model: scriptedModel((request) => {
        const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
        if (step === 1) return write('a.txt', 'first');
        if (step === 2) return write('b.txt', 'second');
        return { text: 'done' };
      }),
      instructions: 'x',
      tools: [writeFileTool],
      workspaceRoot: join(dir, 'ws'),
    });
    const s = await store.createSession({ agent: 'writer', input: 'go' });
    await runUntil({ store, agents: [agent], leaseMs: 200 }, s.id);
    expect(refused).toBe(1);
    const events = await allEvents(real, s.id);
    // Without care, step 2's file would be an edit on the snapshot that never committed, which
    // the log cannot apply: the log would name no workspace at all.
    const state = fold(events).workspace ?? null;
    expect(state).not.toBeNull();
    const { manifest } = await loadWorkspaceState(real.blobs, state!);
    expect(manifest.entries.map((e) => e.path)).toEqual(['a.txt', 'b.txt']);
    await real.close();
  });
});
