import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { SessionStore, StoredEvent } from '@longrun/core';
import { openStore } from '@longrun/cli';
import { loadManifest, verifyWorkspace } from '@longrun/workspace';
import { targets, type StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { MachineProcess } from './machine-process.ts';

const script = join(import.meta.dirname, 'workspace-worker-process.ts');

/** A machine: a worker process with a workspace root of its own. */
const machine = (url: string, id: string, root: string, gates: string, driver: string) =>
  new MachineProcess(script, [url, id, root, gates, driver]);

const ofType = (events: StoredEvent[], type: string) => events.filter((e) => e.type === type);

for (const target of targets)
  describe.runIf(target.run)(`a workspace outlives its worker, ${target.name}`, () => {
    const cleanup: (() => Promise<void>)[] = [];
    afterEach(async () => {
      for (const step of cleanup.splice(0).reverse()) await step();
    });

    // bwrap needs bubblewrap and root (mounts, cgroups): .ci/run provides both.
    it.each(['process', 'bwrap'])(
      'a worker killed after file-changing steps: another, with another root, restores the snapshot byte for byte and finishes (%s driver)',
      async (driver) => {
        const db: StoreTarget = await target.make();
        const store: SessionStore = await openStore(db.url);
        cleanup.push(
          () => db.drop(),
          () => store.close(),
        );
        const [rootA, rootB, gates] = ['machine-a', 'machine-b', 'gates'].map((d) =>
          join(db.dir, d),
        );
        mkdirSync(gates!, { recursive: true });
        const session = await store.createSession({ agent: 'workspace-takeover', input: 'go' });

        const first = machine(db.url, 'machine-a', rootA!, gates!, driver);
        cleanup.push(() => first.kill());
        await first.until((l) => l === 'holding 1', 'the hold step');
        await first.kill();
        const events = await store.readEvents(session.id);
        const snapshots = ofType(events, 'workspace.snapshotted');
        expect(snapshots.map((e) => e.data)).toMatchObject([
          { step: 1, files: 1 },
          { step: 2, files: 3 },
        ]);
        const last = snapshots.at(-1)!.data as { manifestHash: string };
        const manifest = await loadManifest(store.blobs, last.manifestHash);
        // The dead machine's files, as it left them, are what the manifest says.
        const dirA = join(rootA!, session.id);
        expect(await verifyWorkspace(dirA, manifest)).toEqual([]);

        // Another machine: a root of its own, holding a stale file the snapshot does not have.
        const dirB = join(rootB!, session.id);
        mkdirSync(dirB, { recursive: true });
        writeFileSync(join(dirB, 'stale.txt'), 'from an older life');
        writeFileSync(join(gates!, 'open'), '');
        const second = machine(db.url, 'machine-b', rootB!, gates!, driver);
        cleanup.push(() => second.kill());
        await waitForStatus(store, session.id, ['completed'], 60_000);
        // The run is over once its sandbox has closed (bwrap copies the capped workspace back).
        await second.until((l) => l.startsWith(`ended ${session.id}`), 'the end of the run');
        expect(second.lines).toContain('holding 2');

        expect(existsSync(join(dirB, 'stale.txt'))).toBe(false);
        expect(await verifyWorkspace(dirB, manifest)).toEqual([]);
        for (const file of ['notes/plan.md', 'bin/run.sh', 'data.bin']) {
          expect(readFileSync(join(dirB, file)).equals(readFileSync(join(dirA, file))), file).toBe(
            true,
          );
        }
        expect(statSync(join(dirB, 'bin/run.sh')).mode & 0o777).toBe(0o755);
        const after = await store.readEvents(session.id);
        const check = ofType(after, 'tool.completed').find(
          (e) => (e.data as { step: number }).step === 4,
        );
        expect(String((check?.data as { output: string }).output)).toMatch(
          /^exit code 0\nplan v1\nhello from the script/,
        );
        // Nothing changed after step 2: no later snapshot.
        expect(ofType(after, 'workspace.snapshotted')).toHaveLength(2);
      },
      120_000,
    );
  });
