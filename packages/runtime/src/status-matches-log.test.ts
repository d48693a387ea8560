import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { z } from 'zod';
import { LongrunError, type SandboxDriver } from '@longrun/core';
import { processDriver } from '@longrun/sandbox';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { allEvents, tempDir } from './testing.ts';
import { defineAgent, defineTool } from './agent/define-agent.ts';
import { resumeSession } from './agent/session-commands.ts';
import { Worker } from './worker.ts';

/** A sandbox driver whose sandboxes fail to close: an error after the run's last commit. */
function failingCloseDriver(): SandboxDriver {
  const inner = processDriver();
  return {
    kind: inner.kind,
    protections: () => inner.protections(),
    async open(spec) {
      const sandbox = await inner.open(spec);
      return Object.assign(Object.create(sandbox) as typeof sandbox, {
        close: async () => {
          await sandbox.close();
          throw new LongrunError('INVALID_STATE', 'the sandbox could not be torn down (EBUSY)');
        },
      });
    },
  };
}

const agent = (dir: string, driver?: SandboxDriver) =>
  defineAgent({
    name: 'once',
    model: scriptedModel((request) =>
      request.messages.some((m) => m.role === 'tool')
        ? { text: 'done' }
        : { toolCalls: [{ name: 'touch', args: {} }] },
    ),
    instructions: 'x',
    workspaceRoot: join(dir, 'ws'),
    ...(driver === undefined ? {} : { sandbox: { driver } }),
    tools: [
      defineTool({
        name: 'touch',
        description: 'opens the sandbox',
        input: z.object({}),
        effect: 'idempotent',
        run: async (_input, context) => {
          await context.sandbox();
          return 'ok';
        },
      }),
    ],
  });

async function until<T>(what: string, read: () => Promise<T>, done: (v: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("a session's record says what its log says", () => {
  it('an error after the last commit does not park a session whose log says it completed', async () => {
    const dir = tempDir('status-log');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    const worker = new Worker({ store, agents: [agent(dir, failingCloseDriver())], pollMs: 5 });
    const ended: string[] = [];
    worker.on('session.ended', ({ outcome }) => ended.push(outcome));
    await worker.start();
    try {
      const s = await store.createSession({ agent: 'once', input: 'go' });
      await until(
        'the run ended',
        async () => ended.length,
        (n) => n > 0,
      );
      const events = await allEvents(store, s.id);
      expect(events.at(-1)?.type).toBe('session.completed');
      expect((await store.getSession(s.id)).status).toBe('completed');
    } finally {
      await worker.stop();
      await store.close();
    }
  });

  it('a session resumed after its log says it completed settles as completed, not claimed again and again', async () => {
    const dir = tempDir('status-log');
    const path = join(dir, 'db.sqlite');
    const store = await SqliteStore.open({ path });
    const worker = new Worker({ store, agents: [agent(dir)], pollMs: 5 });
    await worker.start();
    try {
      const s = await store.createSession({ agent: 'once', input: 'go' });
      await until(
        'completed',
        async () => (await store.getSession(s.id)).status,
        (v) => v === 'completed',
      );
      // The state an earlier longrun left: parked after its log completed.
      const db = new DatabaseSync(path);
      db.prepare(`UPDATE sessions SET status = 'paused', status_reason = 'EBUSY' WHERE id = ?`).run(
        s.id,
      );
      db.close();
      await resumeSession(store, s.id, { by: 'ops', reason: null });
      const settled = await until(
        'completed again',
        () => store.getSession(s.id),
        (r) => r.status === 'completed',
      );
      const epoch = settled.leaseEpoch;
      await new Promise((r) => setTimeout(r, 300));
      // Nobody claims it any more (a claim makes a new epoch).
      expect((await store.getSession(s.id)).leaseEpoch).toBe(epoch);
    } finally {
      await worker.stop();
      await store.close();
    }
  });
});
