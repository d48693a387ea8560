import { createCipheriv } from 'node:crypto';
import {
  existsSync,
  linkSync,
  openSync,
  closeSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { isLongrunError } from '@longrun/core';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { defaultChunking } from './content-defined-chunking.ts';
import { chunkFile, readFileForEdit } from './hash-file.ts';
import type { FileEntry, Manifest } from './manifest.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { snapshotWorkspace, type SnapshotResult } from './snapshot-workspace.ts';
import { StatCache } from './stat-cache.ts';
import { verifyWorkspace } from './verify-workspace.ts';
import { findWorkspaceEdits } from './workspace-edits.ts';
import { MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { tempDirs } from './test-support/workspace-fixtures.ts';

// A sandbox makes a sparse file just under the workspace's cap with `truncate -s 3900M`, at no
// cost to itself (the cap's quota counts disk blocks, and holes have none), as many times as it
// likes. A snapshot reads every byte of every file it takes, outside the sandbox: so it takes
// files totalling at most the cap, those wholly on disk first, and leaves the rest out, saying
// why. The sandbox's real files are never the ones left out, and come back byte for byte.
const mib = 1024 ** 2;
const gib = 1024 ** 3;
const dirs = tempDirs();
afterEach(() => dirs.removeAll());

function sparse(path: string, bytes: number): void {
  writeFileSync(path, '');
  truncateSync(path, bytes);
}

/** `bytes` of deterministic incompressible data (AES-CTR of zeros under a fixed key). */
function denseBytes(bytes: number, seed: number): Buffer {
  const key = Buffer.alloc(16, seed);
  return createCipheriv('aes-128-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(bytes));
}

function fileSizes(manifest: Manifest): Record<string, number> {
  const files = manifest.entries.filter((e): e is FileEntry => e.type === 'file');
  return Object.fromEntries(files.map((e) => [e.path, e.size]));
}

async function restoredCopy(snap: SnapshotResult): Promise<string> {
  const target = dirs.fresh('sparse-target');
  await restoreWorkspace({
    dir: target,
    blobs: snapBlobs.get(snap)!,
    manifestHash: snap.manifestHash,
  });
  expect(await verifyWorkspace(target, snap.manifest)).toEqual([]);
  return target;
}
const snapBlobs = new WeakMap<SnapshotResult, MemoryBlobStore>();

async function snapshot(dir: string, maxFileBytes: number, cache?: StatCache) {
  const blobs = new MemoryBlobStore();
  const snap = await snapshotWorkspace({ dir, blobs, maxFileBytes, ...(cache ? { cache } : {}) });
  snapBlobs.set(snap, blobs);
  return snap;
}

describe('sparse files and hard links under the workspace cap', () => {
  it('three 3.9 GB sparse files beside real files: only the real files are read, and restored byte for byte', async () => {
    // The probe's workspace: 4 GiB cap, `truncate -s 3900M f$i` three times, and the real files,
    // which here take more than the 196 MiB the cap has left beside one of the sparse files.
    const dir = dirs.fresh('sparse-probe');
    const real = {
      'main.ts': Buffer.from('export const x = 1;\n'),
      'data.bin': denseBytes(197 * mib, 1),
    };
    for (const [name, bytes] of Object.entries(real)) writeFileSync(join(dir, name), bytes);
    for (const i of [1, 2, 3]) sparse(join(dir, `f${i}`), 3900 * mib);
    const realBytes = real['main.ts'].length + real['data.bin'].length;

    const snap = await snapshot(dir, 4 * gib);

    console.log(
      `[sparse] read ${snap.readBytes} bytes in ${snap.readFiles} files, ${Math.round(snap.durationMs)} ms`,
    );
    expect(snap.readBytes).toBe(realBytes);
    expect(snap.bytes).toBe(realBytes);
    expect(fileSizes(snap.manifest)).toEqual({ 'data.bin': 197 * mib, 'main.ts': 20 });
    expect(snap.skipped.map((s) => s.path)).toEqual(['f1', 'f2', 'f3']);
    for (const { reason } of snap.skipped) {
      expect(reason).toContain(
        `its ${3900 * mib} bytes would take the snapshot past its limit of ${4 * gib}`,
      );
      expect(reason).toContain(`${3900 * mib} of its bytes are not on disk (a sparse file's holes`);
      expect(reason).toMatch(/not snapshotted: delete it/);
    }
    const target = await restoredCopy(snap);
    for (const [name, bytes] of Object.entries(real))
      expect(readFileSync(join(target, name)).equals(bytes), name).toBe(true);
    expect(existsSync(join(target, 'f1'))).toBe(false);
  }, 60_000);

  it('sparse files take what room the cap leaves, fewest holes first, and come back sparse', async () => {
    const dir = dirs.fresh('sparse-room');
    writeFileSync(join(dir, 'notes.txt'), 'real\n');
    sparse(join(dir, 'big-hole'), 40 * mib);
    sparse(join(dir, 'small-hole'), 30 * mib);
    // Data at both ends of a hole: the hole is not on disk, the data is.
    const ends = join(dir, 'ends.bin');
    const fd = openSync(ends, 'w');
    writeSync(fd, denseBytes(300 * 1024, 2), 0, 300 * 1024, 0);
    writeSync(fd, 'tail', 20 * mib);
    closeSync(fd);
    const endsHoles = 20 * mib + 4 - statSync(ends).blocks * 512;

    const snap = await snapshot(dir, 64 * mib);

    // notes.txt (on disk) first; then ends.bin (~20 MiB of holes), then small-hole (30 MiB): 50 MiB
    // of 64 taken, no room for big-hole's 40.
    expect(Object.keys(fileSizes(snap.manifest))).toEqual(['ends.bin', 'notes.txt', 'small-hole']);
    expect(snap.skipped.map((s) => s.path)).toEqual(['big-hole']);
    expect(snap.skipped[0]!.reason).toContain(
      `${20 * mib + 4 + 5 + 30 * mib} of which other files already fill`,
    );
    expect(endsHoles).toBeGreaterThan(19 * mib);
    expect(snap.readBytes).toBeLessThanOrEqual(64 * mib);
    const target = await restoredCopy(snap);
    expect(statSync(join(target, 'small-hole')).blocks * 512).toBeLessThan(mib);
    expect(statSync(join(target, 'ends.bin')).blocks * 512).toBeLessThan(2 * mib);
    expect(readFileSync(join(target, 'ends.bin')).equals(readFileSync(ends))).toBe(true);
  });

  it("a hard link's blocks count once: further names are taken only while the cap has room", async () => {
    const dir = dirs.fresh('sparse-links');
    const bytes = denseBytes(24 * mib, 3);
    writeFileSync(join(dir, 'a.bin'), bytes);
    linkSync(join(dir, 'a.bin'), join(dir, 'b.bin'));
    linkSync(join(dir, 'a.bin'), join(dir, 'c.bin'));

    const snap = await snapshot(dir, 64 * mib);

    expect(Object.keys(fileSizes(snap.manifest))).toEqual(['a.bin', 'b.bin']);
    expect(snap.readBytes).toBe(48 * mib);
    expect(snap.skipped).toHaveLength(1);
    expect(snap.skipped[0]!.path).toBe('c.bin');
    expect(snap.skipped[0]!.reason).toContain("or a hard link's shared blocks");
    const target = await restoredCopy(snap);
    expect(readFileSync(join(target, 'b.bin')).equals(bytes)).toBe(true);
  });

  it('workspace edits see a file left out as no change until it fits, and a new one as a snapshot', async () => {
    const dir = dirs.fresh('sparse-edits');
    writeFileSync(join(dir, 'notes.txt'), 'real\n');
    sparse(join(dir, 'one'), 40 * mib);
    sparse(join(dir, 'two'), 40 * mib);
    const cache = new StatCache();
    const snap = await snapshot(dir, 64 * mib, cache);
    expect(snap.skipped.map((s) => s.path)).toEqual(['two']);
    const find = () =>
      findWorkspaceEdits({
        dir,
        current: snap.manifest,
        cache,
        skipped: new Set(snap.skipped.map((s) => s.path)),
        maxBytes: 8 * 1024,
        maxEdits: 32,
        maxFileBytes: 64 * mib,
        nowMs: () => Date.now() + 60_000,
      });
    writeFileSync(join(dir, 'notes.txt'), 'real\nmore\n');
    expect((await find())?.edits).toEqual([{ path: 'notes.txt', at: 5, text: 'more\n' }]);
    sparse(join(dir, 'three'), 40 * mib);
    expect(await find()).toBeNull();
    rmSync(join(dir, 'three'));
    rmSync(join(dir, 'one'));
    // `two` fits now: it is a change, which only a stored snapshot can carry.
    expect(await find()).toBeNull();
  });
});

describe('reads bounded by what they expect', () => {
  it('a file that grows past its limit while being hashed is FILE_TOO_LARGE, not read on', async () => {
    const dir = dirs.fresh('sparse-grow');
    const path = join(dir, 'grows.bin');
    writeFileSync(path, denseBytes(2 * mib, 4));
    const files = new ConfinedWorkspaceFiles(dir);
    let grown = false;
    const hashing = chunkFile(files, 'grows.bin', defaultChunking, {
      maxBytes: 3 * mib,
      // After the first chunk, the file becomes 64 GiB long: only the limit stops the read.
      onBlob: () => {
        if (!grown) truncateSync(path, 64 * gib);
        grown = true;
        return Promise.resolve();
      },
    });
    const error: unknown = await hashing.catch((e: unknown) => e);
    expect(isLongrunError(error, 'FILE_TOO_LARGE')).toBe(true);
    expect(grown).toBe(true);
    await expect(readFileForEdit(files, 'grows.bin', { maxBytes: gib })).rejects.toMatchObject({
      code: 'FILE_TOO_LARGE',
    });
  }, 20_000);

  it('verify tells a 64 GiB sparse file from the snapshot by its size, without reading it', async () => {
    const dir = dirs.fresh('sparse-verify');
    writeFileSync(join(dir, 'a.txt'), 'small');
    const snap = await snapshot(dir, 64 * mib);
    sparse(join(dir, 'a.txt'), 64 * gib);
    expect(await verifyWorkspace(dir, snap.manifest)).toEqual([
      { path: 'a.txt', kind: 'size', detail: `expected 5 bytes, found ${64 * gib}` },
    ]);
  }, 20_000);
});
