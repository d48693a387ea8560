import { truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { removeDir, tempDir } from './test-support/workspace-fixtures.ts';

// Sparse files cost a command nothing to make (a tmpfs cap counts blocks, not lengths) and are
// far larger than the worker's memory: a snapshot must read them in bounded memory, and leave
// out one longer than the workspace's cap could ever hold.
const gib = 1024 ** 3;
let dir: string;
beforeEach(() => {
  dir = tempDir('huge');
});
afterEach(() => removeDir(dir));

describe('snapshots of huge files', () => {
  it('hash a 1 GiB file with one chunk of memory, and store its repeated chunk once', async () => {
    const path = join(dir, 'sparse.bin');
    writeFileSync(path, '');
    truncateSync(path, gib);
    const blobs = new MemoryBlobStore();
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 5);
    try {
      const snap = await snapshotWorkspace({ dir, blobs });
      expect(snap.manifest.entries).toMatchObject([{ path: 'sparse.bin', size: gib }]);
    } finally {
      clearInterval(sampler);
    }
    expect((peak - before) / 2 ** 20).toBeLessThan(64);
    // 256 chunks of zeros are one blob, plus the manifest.
    expect(blobs.size).toBe(2);
  }, 60_000);

  it('leave out a file longer than the limit, saying why', async () => {
    writeFileSync(join(dir, 'small.txt'), 'kept');
    const path = join(dir, 'huge.bin');
    writeFileSync(path, '');
    truncateSync(path, 64 * gib);
    const startedAt = Date.now();
    const snap = await snapshotWorkspace({ dir, blobs: new MemoryBlobStore(), maxFileBytes: gib });
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(snap.manifest.entries.map((e) => e.path)).toEqual(['small.txt']);
    expect(snap.skipped).toEqual([
      {
        path: 'huge.bin',
        reason: `its ${64 * gib} bytes exceed the snapshot limit of ${gib} (the workspace's size cap); not snapshotted`,
      },
    ]);
  });
});
