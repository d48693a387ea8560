import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import {
  isLongrunError,
  type ModelClient,
  type ModelRequest,
  type SessionId,
  type SessionStore,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { allEvents, tempDir } from '../testing.ts';
import { Worker } from '../worker.ts';
import { sendMessage } from './session-commands.ts';
import { defineAgent, defineTool } from './define-agent.ts';
import { WorkspaceTracker } from './agent-workspace.ts';

describe('WorkspaceTracker', () => {
  it('keeps every held directory and only the idle ones released last, up to its bound', () => {
    const tracker = new WorkspaceTracker({ maxIdleDirs: 2 });
    const known = (dir: string) => tracker.entry(dir).recorded !== null;
    const record = (dir: string) => {
      tracker.hold(dir);
      tracker.entry(dir).recorded = {
        stored: { manifestHash: dir, manifest: { version: 1, entries: [] } as never },
        manifest: { version: 1, entries: [] } as never,
        editsKey: '',
        edits: 0,
        editBytes: 0,
        editCalls: 0,
      };
    };
    for (const dir of ['a', 'b', 'c', 'd']) record(dir);
    tracker.hold('a'); // a second run of a's session, on the same worker
    expect(tracker.size).toBe(4);
    for (const dir of ['a', 'b', 'c']) tracker.release(dir);
    // a is still held once; b and c are idle, within the bound.
    expect(tracker.size).toBe(4);
    tracker.release('d');
    // Three idle (b, c, d): b, released longest ago, is forgotten.
    expect(['a', 'b', 'c', 'd'].filter((d) => tracker.knows(d))).toEqual(['a', 'c', 'd']);
    tracker.release('a');
    // a idle too: c is now the one released longest ago.
    expect(['a', 'b', 'c', 'd'].filter((d) => tracker.knows(d))).toEqual(['a', 'd']);
    expect(known('a') && known('d')).toBe(true);
    expect(tracker.size).toBe(2);
  });

  it('refuses a bound that is not a whole number of directories', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      let error: unknown;
      try {
        new WorkspaceTracker({ maxIdleDirs: bad });
      } catch (e) {
        error = e;
      }
      expect(isLongrunError(error, 'INVALID_ARGUMENT'), String(bad)).toBe(true);
    }
  });
});

/**
 * A model that writes `notes.txt` on the task "write", reads it back on a follow-up "read", and
 * answers once the call has its result.
 */
const notesModel: ModelClient = {
  id: 'test:notes',
  async stream(request: ModelRequest) {
    const last = request.messages.at(-1);
    const usage = { inputTokens: 1, outputTokens: 1 };
    if (last?.role !== 'user')
      return { text: 'Done.', toolCalls: [], finishReason: 'stop', usage, modelId: 'test:notes' };
    const name = last.content.includes('read') ? 'read_notes' : 'write_notes';
    return {
      text: '',
      toolCalls: [{ id: `${name}-${request.messages.length}`, name, args: {} }],
      finishReason: 'tool-calls',
      usage,
      modelId: 'test:notes',
    };
  },
};

const notesAgent = (workspaceRoot: string) =>
  defineAgent({
    name: 'notes',
    model: notesModel,
    instructions: 'Keep notes.',
    workspaceRoot,
    tools: [
      defineTool({
        name: 'write_notes',
        description: 'writes notes.txt',
        input: z.object({}),
        effect: 'idempotent',
        run: async (_input, { files }) => {
          await files.writeFile('notes.txt', 'as the log recorded them');
          return 'written';
        },
      }),
      defineTool({
        name: 'read_notes',
        description: 'reads notes.txt',
        input: z.object({}),
        effect: 'idempotent',
        run: async (_input, { files }) => Buffer.from(await files.readFile('notes.txt')).toString(),
      }),
    ],
  });

async function settled(store: SessionStore, id: SessionId): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const s = await store.getSession(id);
    if (s.status === 'completed' || s.status === 'failed') return;
    if (Date.now() > deadline) throw new Error(`session ${id} still ${s.status}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * One worker runs session A (which writes notes.txt), then `others` sessions, then A's follow-up
 * (which reads notes.txt back). Between the two, A's directory, if it is still there, is changed
 * behind the worker's back. Returns what the follow-up read and whether A's directory was there
 * after each of its runs.
 */
async function followUpReads(
  options: { idleWorkspaceDirs: number; removeFinishedWorkspaces?: boolean },
  others: number,
): Promise<{ read: string; dirAfterFirstRun: boolean; dirAtEnd: boolean }> {
  const dir = tempDir('workspace-tracker');
  const workspaceRoot = join(dir, 'ws');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const worker = new Worker({
    store,
    agents: [notesAgent(workspaceRoot)],
    pollMs: 5,
    concurrency: 1,
    ...options,
  });
  const ended: string[] = [];
  worker.on('session.ended', ({ sessionId }) => ended.push(sessionId));
  /** Until the session's run ended on the worker (after its last commit: the directory's fate). */
  const runEnded = async (id: string, runs: number) => {
    const deadline = Date.now() + 20_000;
    while (ended.filter((e) => e === id).length < runs && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 5));
  };
  await worker.start();
  try {
    const a = await store.createSession({ agent: 'notes', input: 'write' });
    const aDir = join(workspaceRoot, a.id);
    await settled(store, a.id);
    await runEnded(a.id, 1);
    const dirAfterFirstRun = existsSync(aDir);
    if (dirAfterFirstRun) writeFileSync(join(aDir, 'notes.txt'), 'changed behind the worker');
    for (let i = 0; i < others; i++) {
      const other = await store.createSession({ agent: 'notes', input: 'write' });
      await settled(store, other.id);
    }
    await sendMessage(store, a.id, 'read them back');
    await settled(store, a.id);
    await runEnded(a.id, 2);
    const reads = (await allEvents(store, a.id)).flatMap((e) =>
      e.type === 'tool.completed' && e.data.tool === 'read_notes' ? [e.data.output] : [],
    );
    expect(reads).toHaveLength(1);
    const read = reads[0];
    if (typeof read !== 'string') throw new Error(`read_notes gave ${JSON.stringify(read)}`);
    const dirAtEnd = existsSync(aDir);
    // The file itself is what the read found, where it is still there.
    if (dirAtEnd) expect(readFileSync(join(aDir, 'notes.txt'), 'utf8')).toBe(read);
    return { read, dirAfterFirstRun, dirAtEnd };
  } finally {
    await worker.stop();
    await store.close();
  }
}

describe('a worker that has run many sessions', () => {
  it('forgets the workspaces it no longer runs past its bound, and restores one that comes back from its snapshot', async () => {
    // Bound 1, three sessions in between: A's directory is forgotten, so its follow-up restores
    // it from the log's snapshot, undoing the change made behind the worker's back.
    const forgotten = await followUpReads({ idleWorkspaceDirs: 1 }, 3);
    expect(forgotten.read).toBe('as the log recorded them');
    // The control: A still known (bound 32), the worker trusts its own directory as it left it.
    const known = await followUpReads({ idleWorkspaceDirs: 32 }, 3);
    expect(known).toEqual({
      read: 'changed behind the worker',
      dirAfterFirstRun: true,
      dirAtEnd: true,
    });
  });

  it("removes a finished session's directory when asked, and a follow-up restores it from the snapshot", async () => {
    const removed = await followUpReads(
      { idleWorkspaceDirs: 32, removeFinishedWorkspaces: true },
      1,
    );
    expect(removed).toEqual({
      read: 'as the log recorded them',
      dirAfterFirstRun: false,
      dirAtEnd: false,
    });
  });
});
