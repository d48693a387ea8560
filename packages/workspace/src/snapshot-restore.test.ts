import { execFileSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { DirectoryBlobStore } from './directory-blob-store.ts';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { verifyWorkspace } from './verify-workspace.ts';
import { readTree, tempDirs, writeTree, type TreeSpec } from './test-support/workspace-fixtures.ts';

const mixedTree: TreeSpec = {
  'README.md': '# project\n',
  'src/index.ts': 'export const answer = 42;\n',
  'src/deep/nested/dir/file.txt': 'deep\n',
  'bin/run.sh': { content: '#!/bin/sh\necho hi\n', mode: 0o755 },
  'secret.key': { content: 'k', mode: 0o600 },
  'empty.txt': '',
  'naïve café/日本語 🧪.txt': 'unicode names\n',
  'with space and\nnewline': 'odd name\n',
  'data/random.bin': randomBytes(200_000),
  'data/big.bin': randomBytes(9 * 1024 * 1024 + 123),
  'empty-dir': { dir: 0o755 },
  'private-dir': { dir: 0o700 },
  'locked-dir/inside.txt': 'in a read-only dir\n',
  'links/relative': { symlink: '../src/index.ts' },
  'links/absolute-outside': { symlink: '/etc/passwd' },
  'links/dangling': { symlink: 'does/not/exist' },
  'links/to-dir': { symlink: '../src' },
};

describe('snapshot and restore', () => {
  const { fresh, removeAll } = tempDirs();
  afterEach(removeAll);

  it('restores a mixed tree on another root byte for byte, modes included, and verifies clean', async () => {
    const source = fresh('source');
    writeTree(source, mixedTree);
    writeTree(source, { 'locked-dir': { dir: 0o555 } });
    const blobs = new DirectoryBlobStore(fresh('blobs'));
    const snap = await snapshotWorkspace({ dir: source, blobs });
    expect(snap.files).toBe(11);
    expect(snap.skipped).toEqual([]);
    const bigEntry = snap.manifest.entries.find((e) => e.path === 'data/big.bin');
    // Content-defined chunks of 16-256 KiB adding up to the file (the last may be shorter).
    const chunks = bigEntry?.type === 'file' ? (bigEntry.chunks ?? []) : [];
    expect(chunks.length).toBeGreaterThan(9 * 4);
    expect(chunks.reduce((sum, chunk) => sum + chunk.size, 0)).toBe(9 * 1024 * 1024 + 123);
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.size).toBeGreaterThanOrEqual(16 * 1024);
      expect(chunk.size).toBeLessThanOrEqual(256 * 1024);
    }

    const target = `${fresh('worker-b')}/workspace`;
    const restored = await restoreWorkspace({
      dir: target,
      blobs,
      manifestHash: snap.manifestHash,
    });
    expect(restored.files).toBe(snap.files);
    expect(restored.bytes).toBe(snap.bytes);
    expect(readTree(target)).toEqual(readTree(source));
    expect(await verifyWorkspace(target, snap.manifest)).toEqual([]);
    // The same tree snapshots to the same manifest: its hash names the content, not the run.
    const again = await snapshotWorkspace({ dir: target, blobs });
    expect(again.manifestHash).toBe(snap.manifestHash);
    expect(again.uploadedBlobs).toBe(0);
  });

  it('makes an existing directory exactly equal: extras removed, wrong types replaced', async () => {
    const source = fresh('source');
    writeTree(source, { 'a/b.txt': 'b', 'c.txt': 'c', 'd/e.txt': 'e', 'keep.txt': 'same' });
    const blobs = new DirectoryBlobStore(fresh('blobs'));
    const snap = await snapshotWorkspace({ dir: source, blobs });
    const target = fresh('target');
    const outside = fresh('outside');
    writeTree(target, {
      'keep.txt': 'same',
      'extra.txt': 'x',
      'extra-dir/f.txt': 'f',
      'a/b.txt': 'stale content',
      'c.txt/nested.txt': 'a directory where a file belongs',
      'links/x': { symlink: '/tmp' },
    });
    symlinkSync(outside, `${target}/d`); // a symlink where a directory belongs
    execFileSync('mkfifo', [`${target}/a-fifo`]);
    const restored = await restoreWorkspace({
      dir: target,
      blobs,
      manifestHash: snap.manifestHash,
    });
    expect(readTree(target)).toEqual(readTree(source));
    expect(readTree(outside)).toEqual({}); // nothing went through the planted symlink
    expect(restored.reusedFiles).toBe(1);
    expect(restored.removedPaths).toBeGreaterThanOrEqual(6);
    expect(await verifyWorkspace(target, snap.manifest)).toEqual([]);
  });

  it('leaves out fifos and sockets with a note, and verify names what differs', async () => {
    const source = fresh('source');
    writeTree(source, { 'ok.txt': 'ok', 'run/keep.txt': 'k' });
    execFileSync('mkfifo', [`${source}/run/pipe`]);
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(`${source}/run/sock`, resolve));
    try {
      const blobs = new DirectoryBlobStore(fresh('blobs'));
      const snap = await snapshotWorkspace({ dir: source, blobs });
      expect(snap.skipped).toEqual([
        { path: 'run/pipe', reason: 'a fifo is not snapshotted' },
        { path: 'run/sock', reason: 'a socket is not snapshotted' },
      ]);
      expect(snap.manifest.entries.map((e) => e.path)).toEqual(['ok.txt', 'run', 'run/keep.txt']);
      writeFileSync(`${source}/ok.txt`, 'changed');
      mkdirSync(`${source}/new-dir`);
      const differences = await verifyWorkspace(source, snap.manifest);
      expect(differences.map((d) => [d.path, d.kind])).toEqual([
        ['new-dir', 'extra'],
        ['ok.txt', 'size'],
        ['run/pipe', 'extra'],
        ['run/sock', 'extra'],
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
