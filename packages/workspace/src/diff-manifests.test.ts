import { randomBytes } from 'node:crypto';
import { chmodSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffManifests } from './diff-manifests.ts';
import { unifiedDiff } from './text-diff.ts';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { removeDir, tempDir, writeTree } from './test-support/workspace-fixtures.ts';

describe('diffManifests and unifiedDiff', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('diff');
  });
  afterEach(() => removeDir(dir));

  it('lists added, removed and changed paths with sizes, and diffs small text files', async () => {
    writeTree(dir, {
      'notes.md': 'line one\nline two\nline three\n',
      'gone.txt': 'bye\n',
      'image.bin': Buffer.from([0, 1, 2, 3]),
      'script.sh': '#!/bin/sh\n',
      'huge.txt': 'x'.repeat(300 * 1024),
      link: { symlink: 'notes.md' },
    });
    const blobs = new MemoryBlobStore();
    const before = await snapshotWorkspace({ dir, blobs });
    writeFileSync(`${dir}/notes.md`, 'line one\nline 2\nline three\nline four\n');
    rmSync(`${dir}/gone.txt`);
    writeFileSync(`${dir}/new.txt`, 'hello\n');
    writeFileSync(`${dir}/image.bin`, Buffer.from([0, 1, 2, 4, 5]));
    chmodSync(`${dir}/script.sh`, 0o755);
    writeFileSync(`${dir}/huge.txt`, 'y'.repeat(300 * 1024));
    rmSync(`${dir}/link`);
    symlinkSync('new.txt', `${dir}/link`);
    const after = await snapshotWorkspace({ dir, blobs, previous: before });
    const diff = diffManifests(before.manifest, after.manifest);
    expect(diff.added.map((c) => [c.path, c.sizeAfter])).toEqual([['new.txt', 6]]);
    expect(diff.removed.map((c) => [c.path, c.sizeBefore])).toEqual([['gone.txt', 4]]);
    expect(diff.changed.map((c) => [c.path, c.sizeBefore, c.sizeAfter])).toEqual([
      ['huge.txt', 300 * 1024, 300 * 1024],
      ['image.bin', 4, 5],
      ['link', 0, 0],
      ['notes.md', 29, 37],
      ['script.sh', 10, 10],
    ]);
    expect(after.changed).toBe(7);

    const byPath = (path: string) =>
      [...diff.added, ...diff.removed, ...diff.changed].find((c) => c.path === path);
    const notes = await unifiedDiff(byPath('notes.md') as never, { blobs });
    expect(notes.patch).toContain('--- a/notes.md');
    expect(notes.patch).toContain('+++ b/notes.md');
    expect(notes.patch).toContain('-line two\n+line 2\n');
    expect(notes.patch).toContain('+line four');
    expect((await unifiedDiff(byPath('new.txt') as never, { blobs })).patch).toContain(
      '--- /dev/null',
    );
    expect((await unifiedDiff(byPath('gone.txt') as never, { blobs })).patch).toContain('-bye');
    expect(await unifiedDiff(byPath('image.bin') as never, { blobs })).toEqual({
      patch: null,
      reason: 'binary',
    });
    expect(await unifiedDiff(byPath('huge.txt') as never, { blobs })).toEqual({
      patch: null,
      reason: 'too-large',
    });
    expect(await unifiedDiff(byPath('link') as never, { blobs })).toEqual({
      patch: null,
      reason: 'not-a-file',
    });
  });

  it('an identical tree diffs empty; a text diff refuses a tampered blob', async () => {
    writeTree(dir, { 'a.txt': 'a\n', 'b.bin': randomBytes(100) });
    const blobs = new MemoryBlobStore();
    const first = await snapshotWorkspace({ dir, blobs });
    const again = await snapshotWorkspace({ dir, blobs });
    expect(diffManifests(first.manifest, again.manifest)).toEqual({
      added: [],
      removed: [],
      changed: [],
    });
    writeFileSync(`${dir}/a.txt`, 'A\n');
    const second = await snapshotWorkspace({ dir, blobs });
    const [change] = diffManifests(first.manifest, second.manifest).changed;
    const old = change?.before;
    if (old?.type !== 'file') throw new Error('expected a file change');
    blobs.tamper(old.sha256, new TextEncoder().encode('tampered\n'));
    const error: unknown = await unifiedDiff(change as never, { blobs }).catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('WORKSPACE_CORRUPT');
  });
});
