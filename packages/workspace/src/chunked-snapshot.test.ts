import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { isLongrunError } from '@longrun/core';
import { countChanges, diffManifests } from './diff-manifests.ts';
import { unifiedDiff } from './text-diff.ts';
import { sha256Hex } from './hashing.ts';
import { loadManifest } from './load-manifest.ts';
import type { FileEntry, Manifest } from './manifest.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { snapshotWorkspace, type SnapshotResult } from './snapshot-workspace.ts';
import { StatCache } from './stat-cache.ts';
import { verifyWorkspace } from './verify-workspace.ts';
import { MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { tempDirs } from './test-support/workspace-fixtures.ts';

function fileEntry(manifest: Manifest, path: string): FileEntry {
  const entry = manifest.entries.find((e) => e.path === path);
  if (entry?.type !== 'file') throw new Error(`${path} is not a file in the manifest`);
  return entry;
}

/** A ~200-byte log line, the same in every run (chunk boundaries depend on the bytes). */
function logLine(step: number): string {
  const digest = createHash('sha256').update(`line ${step}`).digest('base64');
  return `step ${step}: ${digest.repeat(4)}\n`;
}

describe('content-defined chunks in snapshots', () => {
  const { fresh, removeAll } = tempDirs();
  afterEach(removeAll);

  it('an append-only file costs about the appended bytes per snapshot, not the file', async () => {
    const source = fresh('source');
    const blobs = new MemoryBlobStore();
    const cache = new StatCache();
    const stored = { data: [0, 0], manifests: 0, appended: [0, 0] };
    let previous: SnapshotResult | undefined;
    for (let step = 0; step < 400; step++) {
      const line = logLine(step);
      appendFileSync(join(source, 'agent.log'), line);
      const snap = await snapshotWorkspace({ dir: source, blobs, cache, previous });
      const manifestBytes = (await blobs.get(snap.manifestHash))?.byteLength ?? 0;
      const half = step < 200 ? 0 : 1;
      stored.data[half] = (stored.data[half] ?? 0) + snap.uploadedBytes - manifestBytes;
      stored.appended[half] = (stored.appended[half] ?? 0) + line.length;
      stored.manifests += manifestBytes;
      previous = snap;
    }
    const [firstData = 0, secondData = 0] = stored.data;
    const [firstAppended = 0, secondAppended = 0] = stored.appended;
    // Whole versions would store ~80 KB per step by the end (~30 MB over the run) and grow
    // quadratically: the second half would cost ~3x the first. Here both cost a few times what
    // they appended: each appended byte is stored as a piece, in the chunk a cut later closes,
    // and in a few merges of pieces (tail-pieces.ts).
    expect(firstData).toBeLessThan(5 * firstAppended);
    expect(secondData).toBeLessThan(5 * secondAppended);
    // Each manifest lists the file's chunks and at most a dozen pieces of its last chunk.
    expect(stored.manifests / 400).toBeLessThan(1_200);
    const target = fresh('target');
    await restoreWorkspace({ dir: target, blobs, manifestHash: previous?.manifestHash ?? '' });
    expect(
      readFileSync(join(target, 'agent.log')).equals(readFileSync(join(source, 'agent.log'))),
    ).toBe(true);
    expect(
      await verifyWorkspace(target, previous?.manifest ?? { version: 2, entries: [] }),
    ).toEqual([]);
    // Snapshotting the unchanged file again, even by reading it, gives the same manifest.
    const again = await snapshotWorkspace({ dir: source, blobs, previous });
    expect(again.manifestHash).toBe(previous?.manifestHash);
    expect(again.uploadedBlobs).toBe(0);
  });

  it('diffs an appended text file stored as chunks and pieces', async () => {
    const source = fresh('source');
    const lines = Array.from({ length: 200 }, (_, step) => logLine(step)).join('');
    writeFileSync(join(source, 'agent.log'), lines);
    const blobs = new MemoryBlobStore();
    const first = await snapshotWorkspace({ dir: source, blobs });
    appendFileSync(join(source, 'agent.log'), 'the last line\n');
    const second = await snapshotWorkspace({ dir: source, blobs, previous: first });
    // Over 16 KiB, so chunked, and appended to, so its last chunk kept its piece.
    const chunks = fileEntry(second.manifest, 'agent.log').chunks ?? [];
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    expect(chunks.at(-1)?.size).toBe('the last line\n'.length);
    const [change] = diffManifests(first.manifest, second.manifest).changed;
    const diff = await unifiedDiff(change as NonNullable<typeof change>, { blobs });
    expect(diff.patch).toContain('+the last line');
    expect(diff.patch?.match(/^[+-][^+-]/gm)).toHaveLength(1);
  });

  it('an insertion in the middle of a 4 MB file re-stores only the chunks around it', async () => {
    const source = fresh('source');
    const path = join(source, 'data.bin');
    const original = randomBytes(4_000_000);
    writeFileSync(path, original);
    const blobs = new MemoryBlobStore();
    const first = await snapshotWorkspace({ dir: source, blobs });
    expect(fileEntry(first.manifest, 'data.bin').chunks?.length).toBeGreaterThan(30);
    const edited = Buffer.concat([
      original.subarray(0, 2_000_000),
      Buffer.from('a line inserted by the agent\n'),
      original.subarray(2_000_000),
    ]);
    writeFileSync(path, edited);
    const second = await snapshotWorkspace({ dir: source, blobs, previous: first });
    // At most three new chunks of at most 256 KiB, and the manifest.
    expect(second.uploadedBlobs).toBeLessThanOrEqual(4);
    const manifestBytes = (await blobs.get(second.manifestHash))?.byteLength ?? 0;
    expect(second.uploadedBytes - manifestBytes).toBeLessThanOrEqual(3 * 256 * 1024);
    const target = fresh('target');
    await restoreWorkspace({ dir: target, blobs, manifestHash: second.manifestHash });
    expect(readFileSync(join(target, 'data.bin')).equals(edited)).toBe(true);
    expect(await verifyWorkspace(target, second.manifest)).toEqual([]);
  });

  it('a corrupt chunk is WORKSPACE_CORRUPT naming it; a file changed on disk fails verify', async () => {
    const source = fresh('source');
    writeFileSync(join(source, 'data.bin'), randomBytes(1_000_000));
    const blobs = new MemoryBlobStore();
    const snap = await snapshotWorkspace({ dir: source, blobs });
    const chunks = fileEntry(snap.manifest, 'data.bin').chunks ?? [];
    const victim = chunks[2]?.sha256 as string;
    const bytes = (await blobs.get(victim)) as Uint8Array;
    bytes[10] = (bytes[10] ?? 0) ^ 0xff;
    blobs.tamper(victim, bytes);
    const target = fresh('target');
    const error: unknown = await restoreWorkspace({
      dir: target,
      blobs,
      manifestHash: snap.manifestHash,
    }).catch((e: unknown) => e);
    expect(isLongrunError(error, 'WORKSPACE_CORRUPT')).toBe(true);
    expect((error as Error).message).toContain(`blob ${victim} is corrupt`);

    const good = fresh('good');
    writeFileSync(join(good, 'data.bin'), readFileSync(join(source, 'data.bin')));
    expect(await verifyWorkspace(good, snap.manifest)).toEqual([]);
    const changed = readFileSync(join(good, 'data.bin'));
    changed[500_000] = (changed[500_000] ?? 0) ^ 1;
    writeFileSync(join(good, 'data.bin'), changed);
    expect(await verifyWorkspace(good, snap.manifest)).toMatchObject([
      { path: 'data.bin', kind: 'content' },
    ]);
  });

  it('restores a version 1 manifest (fixed 4 MiB chunks), and re-snapshots it as the same content', async () => {
    const blobs = new MemoryBlobStore();
    const chunkBytes = 4 * 1024 * 1024;
    const big = randomBytes(chunkBytes + 1000);
    const parts = [big.subarray(0, chunkBytes), big.subarray(chunkBytes)];
    for (const part of [...parts, Buffer.from('small\n')]) await blobs.put(sha256Hex(part), part);
    const v1 = Buffer.from(
      JSON.stringify({
        version: 1,
        chunkBytes,
        entries: [
          {
            path: 'big.bin',
            type: 'file',
            size: big.length,
            mode: 0o644,
            sha256: createHash('sha256').update(big).digest('hex'),
            chunks: parts.map(sha256Hex),
          },
          { path: 'small.txt', type: 'file', size: 6, mode: 0o600, sha256: sha256Hex('small\n') },
        ],
      }),
    );
    const v1Hash = sha256Hex(v1);
    await blobs.put(v1Hash, v1);
    const target = fresh('target');
    const restored = await restoreWorkspace({ dir: target, blobs, manifestHash: v1Hash });
    expect(restored.fetchedBlobs).toBe(3);
    expect(readFileSync(join(target, 'big.bin')).equals(big)).toBe(true);
    expect(readFileSync(join(target, 'small.txt'), 'utf8')).toBe('small\n');
    const old = await loadManifest(blobs, v1Hash);
    expect(await verifyWorkspace(target, old)).toEqual([]);
    const again = await snapshotWorkspace({
      dir: target,
      blobs,
      previous: { manifestHash: v1Hash, manifest: old },
    });
    expect(again.manifest.version).toBe(2);
    expect(again.manifestHash).not.toBe(v1Hash);
    expect(countChanges(diffManifests(old, again.manifest))).toBe(0);
    expect(again.changed).toBe(0);
  });
});
