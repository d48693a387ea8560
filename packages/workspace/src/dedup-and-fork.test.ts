import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { isLongrunError } from '@longrun/core';
import { DirectoryBlobStore } from './directory-blob-store.ts';
import { forkWorkspace } from './fork-workspace.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { verifyWorkspace } from './verify-workspace.ts';
import { countingBlobStore } from './test-support/memory-blob-store.ts';
import { readTree, tempDirs, writeTree } from './test-support/workspace-fixtures.ts';

describe('dedup across workspaces and forks', () => {
  const { fresh, removeAll } = tempDirs();
  afterEach(removeAll);

  it('a second workspace sharing files uploads only what it does not share', async () => {
    const shared = { 'node_modules/lib.js': randomBytes(300_000), 'package.json': '{"name":"x"}' };
    const first = fresh('session-a');
    const second = fresh('session-b');
    writeTree(first, { ...shared, 'a-only.txt': 'a' });
    writeTree(second, {
      ...shared,
      'b-only.txt': 'b',
      'same-as-shared.js': shared['node_modules/lib.js'],
    });
    const { store, calls } = countingBlobStore(new DirectoryBlobStore(fresh('blobs')));
    const a = await snapshotWorkspace({ dir: first, blobs: store });
    const lib = a.manifest.entries.find((entry) => entry.path === 'node_modules/lib.js');
    // Over the largest chunk (256 KiB), so content-defined chunks.
    const libChunks = lib?.type === 'file' ? (lib.chunks?.length ?? 1) : 0;
    expect(libChunks).toBeGreaterThanOrEqual(2);
    expect(a.uploadedBlobs).toBe(libChunks + 3); // lib.js's chunks, 2 small files, the manifest
    const b = await snapshotWorkspace({ dir: second, blobs: store });
    expect(b.uploadedBlobs).toBe(2); // b-only.txt + manifest; the rest is stored already
    expect(b.uploadedBytes).toBeLessThan(2_000);
    expect(calls.puts).toHaveLength(libChunks + 5);
    expect(new Set(calls.puts).size).toBe(libChunks + 5);
  });

  it('a fork writes no blob: it is the parent manifest hash, restorable as the child workspace', async () => {
    const parent = fresh('parent');
    writeTree(parent, { 'src/a.ts': 'a', 'bin/x': { content: 'x', mode: 0o755 } });
    const { store, calls } = countingBlobStore(new DirectoryBlobStore(fresh('blobs')));
    const snap = await snapshotWorkspace({ dir: parent, blobs: store });
    calls.puts.length = 0;
    calls.gets.length = 0;

    const childHash = await forkWorkspace({ manifestHash: snap.manifestHash, blobs: store });
    expect(childHash).toBe(snap.manifestHash);
    expect(calls.puts).toEqual([]);
    expect(calls.gets).toEqual([]);

    const child = fresh('child');
    const restored = await restoreWorkspace({ dir: child, blobs: store, manifestHash: childHash });
    expect(calls.puts).toEqual([]);
    expect(readTree(child)).toEqual(readTree(parent));
    expect(await verifyWorkspace(child, restored.manifest)).toEqual([]);

    // The child diverges; the parent's snapshot is untouched and its blobs are shared.
    writeFileSync(`${child}/src/a.ts`, 'child change');
    const childSnap = await snapshotWorkspace({ dir: child, blobs: store, previous: snap });
    expect([childSnap.changed, childSnap.uploadedBlobs]).toEqual([1, 2]);
    expect(await verifyWorkspace(parent, snap.manifest)).toEqual([]);
  });

  it('refuses to fork a malformed hash or a manifest the store does not have', async () => {
    const blobs = new DirectoryBlobStore(fresh('blobs'));
    const bad: unknown = await forkWorkspace({ manifestHash: 'not-a-hash' }).catch(
      (e: unknown) => e,
    );
    expect(isLongrunError(bad, 'INVALID_ARGUMENT')).toBe(true);
    const absent: unknown = await forkWorkspace({ manifestHash: 'a'.repeat(64), blobs }).catch(
      (e: unknown) => e,
    );
    expect(isLongrunError(absent, 'WORKSPACE_CORRUPT')).toBe(true);
  });
});
