import { existsSync, readdirSync, readFileSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLongrunError, type BlobStore } from '@longrun/core';
import { DirectoryBlobStore } from './directory-blob-store.ts';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { verifyWorkspace } from './verify-workspace.ts';
import { blobHashesOf, type FileEntry, type Manifest } from './manifest.ts';
import { removeDir, tempDir, writeTree } from './test-support/workspace-fixtures.ts';

async function restoreError(options: Parameters<typeof restoreWorkspace>[0]): Promise<Error> {
  const outcome = await restoreWorkspace(options).then(
    () => null,
    (error: unknown) => error,
  );
  if (!(outcome instanceof Error)) throw new Error('restore should have failed');
  return outcome;
}

function fileEntry(manifest: Manifest, path: string): FileEntry {
  const entry = manifest.entries.find((e) => e.path === path);
  if (entry?.type !== 'file') throw new Error(`${path} is not a file in the manifest`);
  return entry;
}

/** Every file under dir whose name marks it as a restore's temporary file. */
function tempFilesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) =>
    p.includes('.longrun-restore-'),
  );
}

describe('restore refuses corrupt and missing blobs', () => {
  let dirs: string[] = [];
  let blobs: DirectoryBlobStore;
  let source: string;
  beforeEach(() => {
    dirs = [tempDir('source'), tempDir('blobs'), tempDir('target')];
    [source] = dirs as [string];
    blobs = new DirectoryBlobStore(dirs[1] as string);
    writeTree(source, {
      'a.txt': 'alpha\n',
      'b/victim.txt': 'the file whose blob goes bad\n',
      'c.txt': 'gamma\n',
      'big.bin': Buffer.alloc(9 * 1024 * 1024 + 5, 7),
    });
  });
  afterEach(() => {
    for (const dir of dirs) removeDir(dir);
  });

  it('a flipped byte in the directory store: get returns it, restore names the file and refuses', async () => {
    const snap = await snapshotWorkspace({ dir: source, blobs });
    const victim = fileEntry(snap.manifest, 'b/victim.txt');
    const blobPath = blobs.pathOf(victim.sha256);
    const bytes = readFileSync(blobPath);
    bytes[3] = (bytes[3] ?? 0) ^ 0x01;
    chmodSync(blobPath, 0o644);
    writeFileSync(blobPath, bytes);
    // The store hands back what it holds; checking is the reader's job.
    expect(Buffer.from((await blobs.get(victim.sha256)) ?? [])).toEqual(bytes);

    const target = dirs[2] as string;
    const error = await restoreError({ dir: target, blobs, manifestHash: snap.manifestHash });
    expect(isLongrunError(error, 'WORKSPACE_CORRUPT')).toBe(true);
    expect(error.message).toContain('"b/victim.txt"');
    expect(error.message).toContain(victim.sha256);
    expect(error.message).toContain('is corrupt');
    expect(error.message).toContain('restore an earlier snapshot');
    expect(existsSync(`${target}/b/victim.txt`)).toBe(false);
    expect(tempFilesUnder(target)).toEqual([]);
    const differences = await verifyWorkspace(target, snap.manifest);
    expect(differences).toContainEqual(
      expect.objectContaining({ path: 'b/victim.txt', kind: 'missing' }),
    );
  });

  it('a missing blob: WORKSPACE_CORRUPT naming the file; an existing older file stays whole', async () => {
    const target = dirs[2] as string;
    writeTree(target, { 'b/victim.txt': 'the older version, complete\n' });
    const snap = await snapshotWorkspace({ dir: source, blobs });
    const victim = fileEntry(snap.manifest, 'b/victim.txt');
    rmSync(blobs.pathOf(victim.sha256));
    const error = await restoreError({
      dir: target,
      blobs,
      manifestHash: snap.manifestHash,
      concurrency: 1,
    });
    expect(isLongrunError(error, 'WORKSPACE_CORRUPT')).toBe(true);
    expect(error.message).toContain('"b/victim.txt"');
    expect(error.message).toContain(`${victim.sha256} is missing from the directory blob store`);
    expect(readFileSync(`${target}/b/victim.txt`, 'utf8')).toBe('the older version, complete\n');
    expect(tempFilesUnder(target)).toEqual([]);
  });

  it('a corrupt middle chunk of a big file: no partial file under its name', async () => {
    const snap = await snapshotWorkspace({ dir: source, blobs });
    const big = fileEntry(snap.manifest, 'big.bin');
    const middle = blobHashesOf(big)[1] as string;
    const path = blobs.pathOf(middle);
    chmodSync(path, 0o644);
    writeFileSync(path, Buffer.alloc(4 * 1024 * 1024, 8));
    const target = dirs[2] as string;
    const error = await restoreError({ dir: target, blobs, manifestHash: snap.manifestHash });
    expect(isLongrunError(error, 'WORKSPACE_CORRUPT')).toBe(true);
    expect(error.message).toContain('"big.bin"');
    expect(error.message).toContain(middle);
    expect(existsSync(`${target}/big.bin`)).toBe(false);
    expect(tempFilesUnder(target)).toEqual([]);
  });

  it('a corrupt or missing manifest is refused before the directory is touched', async () => {
    const snap = await snapshotWorkspace({ dir: source, blobs });
    const target = dirs[2] as string;
    writeTree(target, { 'precious.txt': 'untouched' });
    const manifestPath = blobs.pathOf(snap.manifestHash);
    chmodSync(manifestPath, 0o644);
    writeFileSync(manifestPath, readFileSync(manifestPath, 'utf8').replace('"a.txt"', '"A.txt"'));
    const corrupt = await restoreError({ dir: target, blobs, manifestHash: snap.manifestHash });
    expect(isLongrunError(corrupt, 'WORKSPACE_CORRUPT')).toBe(true);
    expect(corrupt.message).toContain(`workspace manifest ${snap.manifestHash} cannot be used`);
    rmSync(manifestPath);
    const missing = await restoreError({ dir: target, blobs, manifestHash: snap.manifestHash });
    expect(missing.message).toContain('is not in the directory blob store');
    expect(readdirSync(target)).toEqual(['precious.txt']);
  });

  it('a blob store that fails mid-file leaves no temp file behind', async () => {
    const snap = await snapshotWorkspace({ dir: source, blobs });
    const big = fileEntry(snap.manifest, 'big.bin');
    const last = blobHashesOf(big).at(-1);
    const failing: BlobStore = {
      kind: 'failing',
      put: (h, b) => blobs.put(h, b),
      missing: (h) => blobs.missing(h),
      get: async (hash) => {
        if (hash === last) throw new Error('connection reset while reading the last chunk');
        return blobs.get(hash);
      },
    };
    const target = dirs[2] as string;
    const error = await restoreError({
      dir: target,
      blobs: failing,
      manifestHash: snap.manifestHash,
    });
    expect(error.message).toContain('connection reset');
    expect(existsSync(`${target}/big.bin`)).toBe(false);
    expect(tempFilesUnder(target)).toEqual([]);
    // A later restore against a healthy store finishes the job.
    await restoreWorkspace({ dir: target, blobs, manifestHash: snap.manifestHash });
    expect(await verifyWorkspace(target, snap.manifest)).toEqual([]);
  });
});
