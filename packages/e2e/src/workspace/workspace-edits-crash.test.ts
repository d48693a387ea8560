import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fold, type SessionStore } from '@longrun/core';
import { openStore } from '@longrun/cli';
import { loadWorkspaceState, verifyWorkspace } from '@longrun/workspace';
import { checkpointMismatch } from '../checkpoint-readback.ts';
import { targets, type StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { appendAgentName, appendedLine } from './append-lines.ts';
import { MachineProcess } from './machine-process.ts';

const script = join(import.meta.dirname, 'append-worker-process.ts');
const steps = 150;

/** A worker running the appending agent with its workspaces under `root`. */
const appendWorker = (url: string, id: string, root: string) =>
  new MachineProcess(script, [url, id, root, String(steps)]);

/** Once the worker has said it runs step `step` (or a later one). */
const atStep = (step: number) => (line: string) =>
  line.startsWith('step ') && Number(line.slice(5)) >= step;

for (const target of targets)
  describe.runIf(target.run)(`workspace edits survive kill -9, ${target.name}`, () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    it('workers killed mid-run on two roots: every line once, in order, and the log restores the files byte for byte', async () => {
      const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 1_000_000);
      console.log(`[workspace edits crash] seed ${seed} (LONGRUN_SEED reproduces)`);
      let state = seed;
      const random = () => (state = (state * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
      const db: StoreTarget = await target.make();
      const store: SessionStore = await openStore(db.url);
      cleanup.push(
        () => db.drop(),
        () => store.close(),
      );
      const session = await store.createSession({ agent: appendAgentName, input: 'append' });
      const roots = [join(db.dir, 'machine-a'), join(db.dir, 'machine-b')];
      // Kills at random steps, each worker on the other root than the one before it.
      const killAt = [0, 1, 2, 3].map((i) => Math.floor(((i + random()) * steps) / 5) + 1);
      for (const [index, step] of killAt.entries()) {
        const worker = appendWorker(db.url, `w${index}`, roots[index % 2]!);
        cleanup.push(() => worker.kill());
        await worker.until(atStep(step), `step ${step}`);
        // Mid-step: after the tool wrote, before or while its result commits, or between steps.
        await new Promise((r) => setTimeout(r, Math.floor(random() * 3)));
        await worker.kill();
      }
      const last = appendWorker(db.url, 'final', roots[killAt.length % 2]!);
      cleanup.push(() => last.kill());
      await waitForStatus(store, session.id, ['completed'], 120_000);

      const events = await store.readEvents(session.id, 0, 100_000);
      const workspace = fold(events).workspace;
      expect(workspace).not.toBeNull();
      const dir = join(roots[killAt.length % 2]!, session.id);
      const expected = Array.from({ length: steps }, (_, i) => `${appendedLine(i + 1)}\n`).join('');
      expect(readFileSync(join(dir, 'log.txt'), 'utf8')).toBe(expected);
      // The log's last state (a stored manifest and the edits since) is exactly the files.
      const { manifest } = await loadWorkspaceState(store.blobs, workspace!);
      expect(await verifyWorkspace(dir, manifest)).toEqual([]);
      // Most steps carried their change as edits; stored snapshots came only every so often.
      const edited = events.filter((e) => e.type === 'tool.completed' && e.data.workspaceEdits);
      const stored = events.filter((e) => e.type === 'workspace.snapshotted');
      expect(edited.length).toBeGreaterThan(steps / 2);
      expect(stored.length).toBeLessThan(steps / 10);
      // The checkpoint's transcript starts in parts written by the killed workers and the last
      // one, and reads back as the transcript the log gives up to its seq.
      const checkpoint = await store.latestCheckpoint(session.id);
      expect(checkpoint?.parts.length).toBeGreaterThan(0);
      expect(checkpointMismatch(events, checkpoint!)).toBeNull();
    }, 240_000);
  });
