import { randomBytes } from 'node:crypto';
import { appendFileSync, statSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { StatCache } from './stat-cache.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { countingBlobStore, MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { removeDir, tempDir, writeTree, type TreeSpec } from './test-support/workspace-fixtures.ts';

/** A clock one second ahead: every file written so far counts as settled, not racily clean. */
const settledClock = () => Date.now() + 1_000;

function manyFiles(count: number): TreeSpec {
  const spec: TreeSpec = {};
  for (let i = 0; i < count; i++)
    spec[`dir-${i % 7}/file-${i}.txt`] = `file ${i}\n${randomBytes(64).toString('hex')}\n`;
  return spec;
}

/** Busy-waits (bounded) until the wall clock has moved on, so a later atime can differ. */
function letClockAdvance(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    /* bounded by `ms` */
  }
}

describe('incremental snapshots', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('incremental');
  });
  afterEach(() => removeDir(dir));

  it('after one file changes: one blob and the manifest uploaded, one file read', async () => {
    writeTree(dir, manyFiles(200));
    const { store, calls } = countingBlobStore(new MemoryBlobStore());
    const cache = new StatCache();
    const first = await snapshotWorkspace({ dir, blobs: store, cache, nowMs: settledClock });
    expect(first.readFiles).toBe(200);
    expect(first.uploadedBlobs).toBe(201);
    writeFileSync(`${dir}/dir-3/file-10.txt`, 'changed\n');
    calls.puts.length = 0;
    const second = await snapshotWorkspace({
      dir,
      blobs: store,
      cache,
      previous: first,
      nowMs: settledClock,
    });
    expect(second.readFiles).toBe(1);
    expect(second.uploadedBlobs).toBe(2);
    expect(calls.puts).toHaveLength(2);
    expect(calls.puts).toContain(second.manifestHash);
    expect(second.changed).toBe(1);
    expect(second.files).toBe(200);
    // Nothing changed: nothing read, nothing sent, the same manifest.
    const third = await snapshotWorkspace({
      dir,
      blobs: store,
      cache,
      previous: second,
      nowMs: settledClock,
    });
    expect([third.readFiles, third.uploadedBlobs, third.changed]).toEqual([0, 0, 0]);
    expect(third.manifestHash).toBe(second.manifestHash);
  });

  it('does not open unchanged files at all (seen from outside, through their access times)', async () => {
    writeTree(dir, manyFiles(40));
    const paths = Object.keys(manyFiles(40)).map((p) => `${dir}/${p}`);
    // relatime (this mount's default) updates atime on a read while atime <= mtime: a future
    // mtime makes every read of these files visible in their atime, not just the first one.
    const future = new Date(Date.now() + 24 * 3600 * 1000);
    for (const path of paths) utimesSync(path, new Date(0), future);
    const cache = new StatCache();
    const blobs = new MemoryBlobStore();
    await snapshotWorkspace({ dir, blobs, cache, nowMs: settledClock });
    const atimes = new Map(paths.map((p) => [p, statSync(p, { bigint: true }).atimeNs]));
    expect([...atimes.values()].every((t) => t > 0n)).toBe(true); // the first snapshot read them

    const changed = paths[5] as string;
    appendFileSync(changed, 'more\n');
    utimesSync(changed, new Date(0), future);
    letClockAdvance(30); // so a re-read would stamp a later atime than the first read did
    const second = await snapshotWorkspace({ dir, blobs, cache, nowMs: settledClock });
    expect(second.readFiles).toBe(1);
    expect(statSync(changed, { bigint: true }).atimeNs).toBeGreaterThan(0n); // the control: it was read
    for (const path of paths) {
      if (path !== changed)
        expect(statSync(path, { bigint: true }).atimeNs, path).toBe(atimes.get(path));
    }
  });

  it('re-reads a racily clean file: one hashed within the racy window of its last change', async () => {
    writeTree(dir, { 'a.txt': 'same size A', 'b.txt': 'other' });
    const ctimeMs = Number(statSync(`${dir}/a.txt`, { bigint: true }).ctimeNs / 1_000_000n);
    const cache = new StatCache({ racyWindowMs: 50 });
    const blobs = new MemoryBlobStore();
    // The snapshot runs in the same tick as the last write: its hash cannot be trusted later.
    await snapshotWorkspace({ dir, blobs, cache, nowMs: () => ctimeMs });
    const next = await snapshotWorkspace({ dir, blobs, cache, nowMs: () => ctimeMs + 10 });
    expect(next.readFiles).toBe(2);
    // Hashed again, now well after the change: from here on the stat is enough.
    const settled = await snapshotWorkspace({ dir, blobs, cache, nowMs: () => ctimeMs + 60_000 });
    expect(settled.readFiles).toBe(2);
    const after = await snapshotWorkspace({ dir, blobs, cache, nowMs: () => ctimeMs + 60_001 });
    expect(after.readFiles).toBe(0);
  });

  it('a persisted cache serves a new process; a store that lost a blob gets it again', async () => {
    writeTree(dir, manyFiles(30));
    const privateDir = tempDir('private');
    try {
      const file = `${privateDir}/stat-cache.json`;
      const blobs = new MemoryBlobStore();
      const first = await snapshotWorkspace({
        dir,
        blobs,
        cache: new StatCache({ file }),
        nowMs: settledClock,
      });
      const reborn = new StatCache({ file }); // as a new worker process would load it
      const second = await snapshotWorkspace({ dir, blobs, cache: reborn, nowMs: settledClock });
      expect([second.readFiles, second.uploadedBlobs]).toEqual([0, 0]);
      expect(second.manifestHash).toBe(first.manifestHash);

      const lost = first.manifest.entries.find((e) => e.type === 'file');
      if (lost?.type !== 'file') throw new Error('expected a file');
      blobs.drop(lost.sha256);
      const healed = await snapshotWorkspace({
        dir,
        blobs,
        cache: new StatCache({ file }),
        nowMs: settledClock,
      });
      expect([healed.readFiles, healed.uploadedBlobs]).toEqual([1, 1]);
      const target = tempDir('healed');
      await restoreWorkspace({ dir: target, blobs, manifestHash: healed.manifestHash });
      removeDir(target);
    } finally {
      removeDir(privateDir);
    }
  });

  it('a deleted file drops out of the manifest and counts as a change', async () => {
    writeTree(dir, { 'a.txt': 'a', 'b.txt': 'b' });
    const blobs = new MemoryBlobStore();
    const cache = new StatCache();
    const first = await snapshotWorkspace({ dir, blobs, cache, nowMs: settledClock });
    unlinkSync(`${dir}/b.txt`);
    const second = await snapshotWorkspace({
      dir,
      blobs,
      cache,
      previous: first,
      nowMs: settledClock,
    });
    expect(second.manifest.entries.map((e) => e.path)).toEqual(['a.txt']);
    expect([second.changed, second.readFiles, second.uploadedBlobs]).toEqual([1, 0, 1]);
  });

  it('a small edit to a big file uploads only the chunk it touched', async () => {
    writeTree(dir, { 'big.bin': randomBytes(10 * 1024 * 1024) });
    const blobs = new MemoryBlobStore();
    const cache = new StatCache();
    await snapshotWorkspace({ dir, blobs, cache, nowMs: settledClock });
    const fd = Buffer.from('patched');
    const { openSync, writeSync, closeSync } = await import('node:fs');
    const handle = openSync(`${dir}/big.bin`, 'r+');
    writeSync(handle, fd, 0, fd.length, 5 * 1024 * 1024); // inside the second 4 MiB chunk
    closeSync(handle);
    const second = await snapshotWorkspace({ dir, blobs, cache, nowMs: settledClock });
    expect(second.uploadedBlobs).toBe(2); // that chunk + the manifest
    expect(second.uploadedBytes).toBeLessThan(4 * 1024 * 1024 + 1024);
  });
});

describe('the stat cache', () => {
  it('refuses a cache file inside the workspace', async () => {
    const dir = tempDir('cache-inside');
    try {
      const error: unknown = await snapshotWorkspace({
        dir,
        blobs: new MemoryBlobStore(),
        cache: new StatCache({ file: `${dir}/.cache.json` }),
      }).then(
        () => null,
        (e: unknown) => e,
      );
      expect((error as { code?: string }).code).toBe('INVALID_ARGUMENT');
    } finally {
      removeDir(dir);
    }
  });

  it('ignores a damaged cache file and one written for another root', async () => {
    const dir = tempDir('cache-damaged');
    const other = tempDir('cache-other');
    const privateDir = tempDir('cache-private');
    try {
      writeTree(dir, { 'a.txt': 'a' });
      writeTree(other, { 'a.txt': 'not a' });
      const file = `${privateDir}/cache.json`;
      const blobs = new MemoryBlobStore();
      await snapshotWorkspace({
        dir: other,
        blobs,
        cache: new StatCache({ file }),
        nowMs: settledClock,
      });
      const foreign = await snapshotWorkspace({
        dir,
        blobs,
        cache: new StatCache({ file }),
        nowMs: settledClock,
      });
      expect(foreign.readFiles).toBe(1);
      writeFileSync(file, '{"version":1,"root":');
      const damaged = await snapshotWorkspace({
        dir,
        blobs,
        cache: new StatCache({ file }),
        nowMs: settledClock,
      });
      expect(damaged.readFiles).toBe(1);
    } finally {
      for (const d of [dir, other, privateDir]) removeDir(d);
    }
  });
});
