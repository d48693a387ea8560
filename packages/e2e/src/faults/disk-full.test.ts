import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoredEvent } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { z } from 'zod';
import { Worker, defineAgent, defineTool, type AgentDefinition } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { mountTinyTmpfs } from './tmpfs.ts';

const mount = mountTinyTmpfs(1024);
if ('error' in mount) {
  console.error(`\n!!! disk-full suite did NOT run: ${mount.error}\n`);
  if (process.env.CI === 'true') throw new Error(`disk-full suite needs a tmpfs: ${mount.error}`);
}

/**
 * Each step writes a 16 KB tool output, so a 1 MB disk fills within a few dozen steps. Its
 * workspaces live off the small disk: only the store's writes meet the full disk.
 */
function bulkyAgent(workspaceRoot: string): AgentDefinition {
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
        description: 'produces 16 KB of output',
        input: z.object({ n: z.number() }),
        effect: 'idempotent',
        run: async ({ n }) => 'x'.repeat(16_384) + JSON.stringify(n),
      }),
    ],
    maxSteps: 121,
    workspaceRoot,
    // The transcript passes 80% of the scripted model's 128k window near step 25; this suite
    // is about the disk, and its script answers tool calls only (no summaries).
    context: { compaction: false },
  });
}

describe.runIf(!('error' in mount))('SQLite on a disk that fills up', () => {
  it(
    'stalls with a clear reason, loses nothing acknowledged, and continues when space returns',
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
        await new Promise((r) => setTimeout(r, 1_500)); // stays stalled, lease keeper gives up, nothing crashes
        expect(stalls[0]).toMatch(/^STORAGE_FULL: .*disk .* is full/);
        expect((await store.getSession(session.id)).status).not.toBe('completed');
        mount.resize(64 * 1024);
        for (
          let i = 0;
          i < 1_500 && (await store.getSession(session.id)).status !== 'completed';
          i++
        ) {
          await new Promise((r) => setTimeout(r, 20));
        }
        await worker.stop();
        const events = await store.readEvents(session.id, 0, 100_000);
        expect((await store.getSession(session.id)).status).toBe('completed');
        expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
        for (const a of acked) {
          expect(JSON.stringify(events[a.seq - 1]?.data)).toBe(JSON.stringify(a.data));
        }
        expect(store.integrityCheck()).toEqual([]);
        console.log(
          `[disk-full] stalled after ${ackedWhenFull} acknowledged events; ${stalls.length} stall reports; finished at seq ${events.length}`,
        );
      } finally {
        // Closed before the unmount, whatever failed, so that a failed assertion is what the
        // test reports (not a busy mount).
        await store?.close().catch(() => undefined);
        mount.unmount();
        rmSync(workspaces, { recursive: true, force: true });
      }
    },
  );
});
