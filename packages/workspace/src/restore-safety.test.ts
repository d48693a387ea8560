import { existsSync, readdirSync, symlinkSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLongrunError } from '@longrun/core';
import { restoreWorkspace } from './restore-workspace.ts';
import { sha256Hex } from './hashing.ts';
import { MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { readTree, removeDir, tempDir, writeTree } from './test-support/workspace-fixtures.ts';

const evil = new TextEncoder().encode('#!/bin/sh\necho owned\n');
const evilHash = sha256Hex(evil);

/** Stores a hand-written manifest (as an attacker with write access to the store would). */
async function plant(blobs: MemoryBlobStore, entries: unknown[]): Promise<string> {
  const bytes = new TextEncoder().encode(
    JSON.stringify({ version: 1, chunkBytes: 4194304, entries }),
  );
  const hash = sha256Hex(bytes);
  await blobs.put(hash, bytes);
  await blobs.put(evilHash, evil);
  return hash;
}

const file = (path: string) => ({
  path,
  type: 'file',
  size: evil.length,
  mode: 0o755,
  sha256: evilHash,
});

describe('restore refuses malicious manifests', () => {
  let root: string;
  let target: string;
  let outside: string;
  let blobs: MemoryBlobStore;
  beforeEach(() => {
    root = tempDir('safety');
    target = `${root}/sandbox/workspace`;
    outside = `${root}/outside`;
    writeTree(root, { 'sandbox/workspace/existing.txt': 'mine', 'outside/host-file': 'host' });
    blobs = new MemoryBlobStore();
  });
  afterEach(() => removeDir(root));

  const hostile: [string, unknown[]][] = [
    ['a ../ path', [file('../../outside/evil')]],
    ['a ../ in the middle', [file('a/../../../outside/evil')]],
    ['an absolute path', [file(`/tmp/longrun-evil-${process.pid}`)]],
    [
      'a symlink then a file through it',
      [{ path: 'link', type: 'symlink', target: '../../outside' }, file('link/evil')],
    ],
    [
      'a symlink then a directory through it',
      [
        { path: 'link', type: 'symlink', target: '/' },
        { path: 'link/x', type: 'dir', mode: 0o755 },
      ],
    ],
    ['a file then a file below it', [file('f'), file('f/evil')]],
    ['an empty component', [file('a//evil')]],
    ['a "." component', [file('./evil')]],
    ['a NUL byte', [file('evil\u0000.txt')]],
    ['paths out of order (a duplicate)', [file('b'), file('b')]],
    ['a setuid mode', [{ ...file('suid'), mode: 0o4755 }]],
    ['a size that does not match the chunking', [{ ...file('big'), size: 5 * 1024 * 1024 }]],
  ];

  for (const [what, entries] of hostile) {
    it(`refuses ${what} before touching anything`, async () => {
      const manifestHash = await plant(blobs, entries);
      const before = readTree(root);
      const error: unknown = await restoreWorkspace({ dir: target, blobs, manifestHash }).then(
        () => null,
        (e: unknown) => e,
      );
      expect(isLongrunError(error, 'WORKSPACE_CORRUPT')).toBe(true);
      expect((error as Error).message).toContain(manifestHash);
      expect(readTree(root)).toEqual(before);
      expect(existsSync(`/tmp/longrun-evil-${process.pid}`)).toBe(false);
    });
  }

  it('creates missing parent directories, also when many files share one', async () => {
    const manifestHash = await plant(
      blobs,
      Array.from({ length: 20 }, (_, i) => file(`new/deep/f${String(i).padStart(2, '0')}`)),
    );
    await restoreWorkspace({ dir: target, blobs, manifestHash, concurrency: 8 });
    expect(readdirSync(`${target}/new/deep`)).toHaveLength(20);
  });

  it('a symlink planted in the target directory is replaced, never written through', async () => {
    symlinkSync(outside, `${target}/sub`);
    const manifestHash = await plant(blobs, [
      { path: 'sub', type: 'dir', mode: 0o755 },
      file('sub/evil'),
    ]);
    await restoreWorkspace({ dir: target, blobs, manifestHash });
    expect(readdirSync(outside)).toEqual(['host-file']);
    expect(readTree(target)).toMatchObject({
      sub: { type: 'dir' },
      'sub/evil': { type: 'file', mode: 0o755 },
    });
  });

  it('symlinks to anywhere are restored as links and not followed', async () => {
    const manifestHash = await plant(blobs, [
      { path: 'etc', type: 'symlink', target: '/etc' },
      { path: 'up', type: 'symlink', target: '../../outside/host-file' },
    ]);
    await restoreWorkspace({ dir: target, blobs, manifestHash });
    expect(readTree(target)).toEqual({
      etc: { type: 'symlink', mode: 0, data: '/etc' },
      up: { type: 'symlink', mode: 0, data: '../../outside/host-file' },
    });
    expect(Object.keys(readTree(outside))).toEqual(['host-file']);
    expect(readTree(outside)['host-file']?.type).toBe('file');
  });
});
