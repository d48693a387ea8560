import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SessionId, SessionRecord, SessionStatus, StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { z } from 'zod';
import { Worker, defineAgent, defineTool, type AgentDefinition } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { fillDisk, mountTinyTmpfs } from './tmpfs.ts';

const mount = mountTinyTmpfs(1024);
if ('error' in mount) {
  console.error(`\n!!! disk-full suite did NOT run: ${mount.error}\n`);
  if (process.env.CI === 'true') throw new Error(`disk-full suite needs a tmpfs: ${mount.error}`);
}

/**
 * Each step writes a 16 KB tool output, so a 1 MB disk fills within a few dozen steps. Its
 * workspaces live off the small disk: only the store's writes meet the full disk.
 */
function bulkyAgent(workspaceRoot: string, outputBytes = 16_384): AgentDefinition {
  return defineAgent({
    name: 'bulky',
    instructions: 'Produce output for 120 steps.',
    model: scriptedModel((request) => {
      const step = request.messages.filter((m) => m.role === 'assistant').length + 1;
      if (step > 120) return { text: 'done' };
      return { toolCalls: [{ id: `step-${step}`, name: 'produce', args: { n: step } }] };
    }),
    tools: [
      defineTool({
        name: 'produce',
        description: 'produces some output',
        input: z.object({ n: z.number() }),
        effect: 'idempotent',
        run: async ({ n }) => 'x'.repeat(outputBytes) + JSON.stringify(n),
      }),
    ],
    maxSteps: 121,
    workspaceRoot,
    // The transcript passes 80% of the scripted model's 128k window near step 25; this suite
    // is about the disk, and its script answers tool calls only (no summaries).
    context: { compaction: false },
  });
}

/** The session's record once it has `status`, polled every 20 ms, or as it is after `tries`. */
async function untilStatus(
  store: SqliteStore,
  id: SessionId,
  status: SessionStatus,
  tries: number,
): Promise<SessionRecord> {
  let record = await store.getSession(id);
  for (let i = 0; i < tries && record.status !== status; i++) {
    await new Promise((r) => setTimeout(r, 20));
    record = await store.getSession(id);
  }
  return record;
}

/**
 * The session's log, checked whole: completed, seqs without a gap, every acknowledged event in it
 * as acknowledged, and the database intact.
 */
async function expectWholeLog(
  store: SqliteStore,
  id: SessionId,
  acked: readonly StoredEvent[],
): Promise<StoredEvent[]> {
  const events = await store.readEvents(id, 0, 100_000);
  expect((await store.getSession(id)).status).toBe('completed');
  expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
  for (const a of acked) {
    expect(JSON.stringify(events[a.seq - 1]?.data)).toBe(JSON.stringify(a.data));
  }
  expect(store.integrityCheck()).toEqual([]);
  return events;
}

describe.runIf(!('error' in mount))('SQLite on a disk that fills up', () => {
  afterAll(() => {
    if (!('error' in mount)) mount.unmount();
  });

  it(
    'pauses the session with the reason, loses nothing acknowledged, and resumes it when space returns',
    { timeout: 120_000 },
    async () => {
      if ('error' in mount) return;
      const workspaces = mkdtempSync(join(tmpdir(), 'longrun-disk-full-'));
      let store: SqliteStore | undefined;
      try {
        store = await SqliteStore.open({ path: join(mount.dir, 'longrun.db') });
        const session = await store.createSession({ agent: 'bulky', input: null });
        const acked: StoredEvent[] = [];
        const stalls: string[] = [];
        let full!: () => void;
        const filled = new Promise<void>((r) => (full = r));
        const worker = new Worker({
          store,
          agents: [bulkyAgent(workspaces)],
          leaseMs: 1_000,
          pollMs: 20,
        });
        worker.on('events.committed', ({ events }) => acked.push(...events));
        worker.on('append.stalled', ({ error }) => {
          stalls.push(`${error.code}: ${error.message}`);
          full();
        });
        await worker.start();
        await filled;
        const ackedWhenFull = acked.length;
        expect(stalls[0]).toMatch(/^STORAGE_FULL: .*disk .* is full/);
        // Parked with the reason, in the room the store's reserve file frees: not `running`.
        const parked = await untilStatus(store, session.id, 'paused', 250);
        expect(parked.status).toBe('paused');
        expect(parked.statusReason).toMatch(
          /^the disk holding the store is full: .*longrun resumes it by itself once the disk has room again/,
        );
        expect(parked.leaseOwner).toBeNull();
        // It stays parked while the disk is full: nothing crashes, nothing is resumed early.
        await new Promise((r) => setTimeout(r, 1_500));
        expect((await store.getSession(session.id)).status).toBe('paused');
        mount.resize(64 * 1024);
        await untilStatus(store, session.id, 'completed', 1_500);
        await worker.stop();
        const events = await expectWholeLog(store, session.id, acked);
        // Resumed by the worker once there was room, as the log says.
        expect(events.filter((e) => e.type === 'session.resumed').map((e) => e.data.by)).toContain(
          'longrun (the disk has room again)',
        );
        console.log(
          `[disk-full] stalled after ${ackedWhenFull} acknowledged events; ${stalls.length} stall reports; finished at seq ${events.length}`,
        );
      } finally {
        // Closed whatever failed, so that a failed assertion is what the test reports (not a
        // busy mount at the unmount).
        await store?.close().catch(() => undefined);
        rmSync(workspaces, { recursive: true, force: true });
      }
    },
  );
  it(
    'a disk another program filled to its last byte: paused with the reason in the reserved room, resumed by a new worker when the program frees it',
    { timeout: 120_000 },
    async () => {
      if ('error' in mount) return;
      mount.resize(64 * 1024);
      const dir = join(mount.dir, 'filled-by-another');
      const workspaces = mkdtempSync(join(tmpdir(), 'longrun-disk-full-'));
      const filler = join(mount.dir, 'another-programs-file');
      let store: SqliteStore | undefined;
      try {
        store = await SqliteStore.open({ path: join(dir, 'longrun.db') });
        const session = await store.createSession({ agent: 'bulky', input: null });
        const acked: StoredEvent[] = [];
        const worker = new Worker({
          store,
          agents: [bulkyAgent(workspaces, 200)],
          leaseMs: 1_000,
          pollMs: 20,
        });
        let fill!: () => void;
        const tenSteps = new Promise<void>((r) => (fill = r));
        worker.on('events.committed', ({ events }) => {
          acked.push(...events);
          if (acked.filter((e) => e.type === 'tool.completed').length >= 10) fill();
        });
        await worker.start();
        await tenSteps;
        // Another program takes every byte left; small writes fail too from now on.
        const bytes = fillDisk(filler);
        const parked = await untilStatus(store, session.id, 'paused', 500);
        expect(parked.status, `filled ${bytes} bytes`).toBe('paused');
        expect(parked.statusReason).toMatch(/^the disk holding the store is full: /);
        await new Promise((r) => setTimeout(r, 1_000));
        expect((await store.getSession(session.id)).status).toBe('paused');
        // The worker that parked it goes away; a new one, which parked nothing, finds it at its
        // start by its reason and resumes it when the other program frees its file.
        await worker.stop();
        const next = new Worker({
          store,
          agents: [bulkyAgent(workspaces, 200)],
          leaseMs: 1_000,
          pollMs: 20,
        });
        next.on('events.committed', ({ events }) => acked.push(...events));
        await next.start();
        await new Promise((r) => setTimeout(r, 500));
        expect((await store.getSession(session.id)).status).toBe('paused');
        rmSync(filler);
        await untilStatus(store, session.id, 'completed', 1_500);
        await next.stop();
        const events = await expectWholeLog(store, session.id, acked);
        console.log(
          `[disk-full] another program filled ${bytes} bytes after ${acked.length} acknowledged events; finished at seq ${events.length}`,
        );
      } finally {
        await store?.close().catch(() => undefined);
        rmSync(filler, { force: true });
        rmSync(workspaces, { recursive: true, force: true });
      }
    },
  );
});
