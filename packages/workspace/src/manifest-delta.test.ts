import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isLongrunError } from '@longrun/core';
import { sha256Hex } from './hashing.ts';
import { diffManifests } from './diff-manifests.ts';
import { loadManifest } from './load-manifest.ts';
import { unifiedDiff } from './text-diff.ts';
import { createManifest, encodeManifest, type FileEntry, type Manifest } from './manifest.ts';
import { maxDeltaDepth } from './manifest-delta.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { snapshotWorkspace, type SnapshotResult } from './snapshot-workspace.ts';
import { StatCache } from './stat-cache.ts';
import { MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { readTree, tempDirs } from './test-support/workspace-fixtures.ts';

const settledClock = () => Date.now() + 1_000;
const line = (i: number) => `line ${i} `.padEnd(64, '-') + '\n';

/** The manifest with its chunks by hash, wherever their bytes are kept. */
function byHash(manifest: Manifest): unknown {
  return manifest.entries.map((entry) =>
    entry.type === 'file' && entry.chunks !== undefined
      ? { ...entry, chunks: entry.chunks.map(({ sha256, size }) => ({ sha256, size })) }
      : entry,
  );
}

async function storedDocument(
  blobs: MemoryBlobStore,
  hash: string,
): Promise<Record<string, unknown>> {
  const bytes = await blobs.get(hash);
  return JSON.parse(Buffer.from(bytes!).toString('utf8')) as Record<string, unknown>;
}

async function putDocument(blobs: MemoryBlobStore, document: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(JSON.stringify(document));
  const hash = sha256Hex(bytes);
  await blobs.put(hash, bytes);
  return hash;
}

async function refusal(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  if (!isLongrunError(error, 'WORKSPACE_CORRUPT')) throw new Error(`not refused: ${String(error)}`);
  return error.message;
}

describe('manifests stored as deltas', () => {
  const dirs = tempDirs();
  let dir: string;
  let blobs: MemoryBlobStore;
  beforeEach(() => {
    dir = dirs.fresh('delta');
    blobs = new MemoryBlobStore();
  });
  afterEach(() => dirs.removeAll());

  /** Appends one line per snapshot, `steps` times, as the peer agent does; every snapshot. */
  async function appendRun(
    steps: number,
    cache = new StatCache(),
    until?: (result: SnapshotResult) => Promise<boolean>,
  ): Promise<SnapshotResult[]> {
    mkdirSync(`${dir}/notes`, { recursive: true });
    writeFileSync(`${dir}/notes/readme.md`, 'kept as it is\n');
    const results: SnapshotResult[] = [];
    for (let i = 1; i <= steps; i++) {
      appendFileSync(`${dir}/lines.txt`, line(i));
      const previous = results.at(-1);
      const result = await snapshotWorkspace({
        dir,
        blobs,
        cache,
        nowMs: settledClock,
        ...(previous === undefined ? {} : { previous }),
      });
      results.push(result);
      if (until !== undefined && (await until(result))) break;
    }
    return results;
  }

  /** Whether the snapshot's stored manifest keeps its last chunk inline. */
  async function endsInline(result: SnapshotResult): Promise<boolean> {
    const stored = await storedDocument(blobs, result.manifestHash);
    const chunks = (stored.entries as { chunks?: unknown[] }[]).at(-1)?.chunks;
    return typeof chunks?.at(-1) === 'string';
  }

  it('an appended file: each manifest lists its new chunks, and every snapshot restores', async () => {
    const results = await appendRun(200);
    const documents = await Promise.all(results.map((r) => storedDocument(blobs, r.manifestHash)));
    const versions = documents.map((d) => d.version);
    expect(versions[0]).toBe(2);
    expect(versions.filter((v) => v === 3).length).toBeGreaterThan(150);
    // A chain is never longer than maxDeltaDepth: a whole manifest comes at least that often.
    let depth = 0;
    for (const version of versions) {
      depth = version === 3 ? depth + 1 : 0;
      expect(depth).toBeLessThanOrEqual(maxDeltaDepth);
    }
    const lastDelta = documents.findLast((d) => d.version === 3)!;
    const [entry] = lastDelta.entries as { path: string; chunks: unknown[] }[];
    expect(lastDelta.entries).toHaveLength(1);
    expect(entry?.path).toBe('lines.txt');
    expect(typeof entry?.chunks[0]).toBe('number');
    // The appended line is kept in the delta, not as a blob of its own.
    expect(entry?.chunks.at(-1)).toBe(Buffer.from(line(200)).toString('base64'));
    expect(blobs.size).toBeLessThan(results.length * 1.5);
    const deltaBytes = documents.map((d) => JSON.stringify(d).length);
    const wholeBytes = results.map((r) => encodeManifest(r.manifest).bytes.byteLength);
    const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
    expect(sum(deltaBytes)).toBeLessThan(sum(wholeBytes) * 0.7);
    // Each loads to the manifest the snapshot returned and restores byte for byte.
    const into = dirs.fresh('delta-restore');
    let expected = '';
    for (const [index, result] of results.entries()) {
      expected += line(index + 1);
      expect(byHash(await loadManifest(blobs, result.manifestHash))).toEqual(
        byHash(result.manifest),
      );
      await restoreWorkspace({ dir: into, blobs, manifestHash: result.manifestHash });
      const tree = readTree(into);
      expect(Buffer.from(tree['lines.txt']!.data!, 'base64').toString()).toBe(expected);
      expect(tree['notes/readme.md']).toBeDefined();
    }
  });

  it('an appended file left as it is: not read again, nor its inline pieces stored', async () => {
    const cache = new StatCache();
    let steps = 0;
    const results = await appendRun(200, cache, async (r) => ++steps >= 70 && endsInline(r));
    const last = results.at(-1)!;
    expect(await endsInline(last)).toBe(true); // its last line is kept inline, not as a blob
    const before = blobs.size;
    // The stat cache keeps chunk hashes only; the inline pieces come from the previous manifest.
    const again = await snapshotWorkspace({
      dir,
      blobs,
      cache,
      previous: last,
      nowMs: settledClock,
    });
    expect(again.readFiles).toBe(0);
    expect(again.manifestHash).toBe(last.manifestHash);
    expect(blobs.size).toBe(before);
  });

  it('diffs two snapshots through their inline pieces', async () => {
    const results = await appendRun(90);
    const [a, b] = [results.at(-3)!, results.at(-1)!];
    const {
      changed: [change],
    } = diffManifests(
      await loadManifest(blobs, a.manifestHash),
      await loadManifest(blobs, b.manifestHash),
    );
    const diff = await unifiedDiff(change!, { blobs });
    expect(diff.patch).toContain(`+${line(89)}+${line(90)}`);
  });

  it('continues after a restore, and keeps an unchanged tree under its previous hash', async () => {
    const results = await appendRun(80);
    const last = results.at(-1)!;
    expect((await storedDocument(blobs, last.manifestHash)).version).toBe(3);
    // Another worker: it restores the last snapshot and snapshots on from it.
    const other = dirs.fresh('delta-other');
    const restored = await restoreWorkspace({ dir: other, blobs, manifestHash: last.manifestHash });
    const previous = { manifestHash: last.manifestHash, manifest: restored.manifest };
    const same = await snapshotWorkspace({ dir: other, blobs, previous, nowMs: settledClock });
    expect(same.manifestHash).toBe(last.manifestHash);
    expect(same.changed).toBe(0);
    rmSync(`${other}/notes`, { recursive: true });
    const next = await snapshotWorkspace({ dir: other, blobs, previous, nowMs: settledClock });
    const document = await storedDocument(blobs, next.manifestHash);
    expect(document).toMatchObject({ version: 3, base: last.manifestHash, entries: [] });
    expect(document.removed).toEqual(['notes', 'notes/readme.md']);
    expect((await loadManifest(blobs, next.manifestHash)).entries.map((e) => e.path)).toEqual([
      'lines.txt',
    ]);
  });

  it('stores a whole manifest when the previous one is not known to be in the store', async () => {
    const results = await appendRun(70);
    const previous = results.at(-1)!;
    appendFileSync(`${dir}/lines.txt`, line(71));
    // A manifest this process did not read or write (a caller's copy): its chain is unknown.
    const copy: Manifest = structuredClone(previous.manifest);
    const next = await snapshotWorkspace({
      dir,
      blobs,
      previous: { manifestHash: previous.manifestHash, manifest: copy },
      nowMs: settledClock,
    });
    expect((await storedDocument(blobs, next.manifestHash)).version).toBe(2);
    // The previous manifest is gone from the store: the next one cannot lean on it.
    blobs.drop(next.manifestHash);
    const fresh = await snapshotWorkspace({ dir, blobs, previous: next, nowMs: settledClock });
    expect(fresh.manifestHash).toBe(next.manifestHash);
    expect((await storedDocument(blobs, fresh.manifestHash)).version).toBe(2);
  });

  it('refuses a delta whose base is missing, naming both manifests', async () => {
    const results = await appendRun(70);
    const last = results.at(-1)!;
    const document = await storedDocument(blobs, last.manifestHash);
    expect(document.version).toBe(3);
    blobs.drop(document.base as string);
    const message = await refusal(loadManifest(blobs, last.manifestHash));
    expect(message).toContain(`${document.base as string} (the base of ${last.manifestHash})`);
  });

  describe('hostile or damaged deltas are refused', () => {
    const file: FileEntry = {
      path: 'a.txt',
      type: 'file',
      size: 8,
      mode: 0o644,
      sha256: sha256Hex(new TextEncoder().encode('aaaabbbb')),
      chunks: [
        { sha256: sha256Hex(new TextEncoder().encode('aaaa')), size: 4 },
        { sha256: sha256Hex(new TextEncoder().encode('bbbb')), size: 4 },
      ],
    };
    let base: string;
    beforeEach(async () => {
      const whole = encodeManifest(createManifest([file]));
      await blobs.put(whole.hash, whole.bytes);
      base = whole.hash;
    });
    const delta = (document: Record<string, unknown>) =>
      putDocument(blobs, { version: 3, base, entries: [], ...document });
    const grown = (chunks: unknown[]) => ({ ...file, size: 12, chunks });
    const pair = (text: string) => [sha256Hex(new TextEncoder().encode(text)), text.length];

    it('reads a well-formed one', async () => {
      const hash = await delta({ entries: [grown([2, pair('cccc')])] });
      const manifest = await loadManifest(blobs, hash);
      expect((manifest.entries[0] as FileEntry).chunks?.map((c) => c.size)).toEqual([4, 4, 4]);
    });

    it.each([
      ['a count beyond the base chunks', { entries: [grown([3, pair('cccc')])] }, /entry 0/],
      [
        'a count of zero',
        { entries: [grown([0, pair('aaaa'), pair('bbbb'), pair('cccc')])] },
        /entry 0/,
      ],
      ['chunks not adding up', { entries: [grown([2, pair('cc')])] }, /entry 0/],
      ['a removal of a path the base lacks', { removed: ['b.txt'] }, /removes "b.txt"/],
      ['an escaping path', { entries: [{ path: '../x', type: 'dir', mode: 0o755 }] }, /refused/],
      [
        'a path under a file',
        { entries: [{ path: 'a.txt/x', type: 'dir', mode: 0o755 }] },
        /lies under "a.txt"/,
      ],
      ['no base', { base: 'nope' }, /no base manifest hash/],
    ])('%s', async (_, document, why) => {
      expect(await refusal(loadManifest(blobs, await delta(document)))).toMatch(why);
    });

    it('a chain longer than any longrun writes', async () => {
      let hash = base;
      for (let i = 0; i <= maxDeltaDepth; i++)
        hash = await putDocument(blobs, {
          version: 3,
          base: hash,
          entries: [{ path: `d${i}`, type: 'dir', mode: 0o755 }],
        });
      expect(await refusal(loadManifest(blobs, hash))).toMatch(/more than 16 deep/);
    });

    it('a tampered delta', async () => {
      const hash = await delta({ entries: [grown([2, pair('cccc')])] });
      blobs.tamper(hash, new TextEncoder().encode('{"version":3}'));
      expect(await refusal(loadManifest(blobs, hash))).toMatch(/its bytes hash to/);
    });
  });
});
