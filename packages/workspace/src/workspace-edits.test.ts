import { appendFileSync, chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import type { WorkspaceEdit } from '@longrun/core';
import type { Manifest } from './manifest.ts';
import { restoreWorkspace } from './restore-workspace.ts';
import { snapshotWorkspace } from './snapshot-workspace.ts';
import { StatCache } from './stat-cache.ts';
import { countingBlobStore, MemoryBlobStore } from './test-support/memory-blob-store.ts';
import { readTree, tempDirs, writeTree } from './test-support/workspace-fixtures.ts';
import { findWorkspaceEdits, loadWorkspaceState } from './workspace-edits.ts';

/** A clock one second ahead: every file written so far counts as settled, not racily clean. */
const settledClock = () => Date.now() + 1_000;

const dirs = tempDirs();
afterEach(() => dirs.removeAll());

/** A workspace with a stored snapshot, and what a worker keeps of it to find edits after. */
async function snapshotted(spec: Parameters<typeof writeTree>[1]) {
  const dir = dirs.fresh('edits');
  writeTree(dir, spec);
  const blobs = new MemoryBlobStore();
  const cache = new StatCache();
  const stored = await snapshotWorkspace({ dir, blobs, cache, nowMs: settledClock });
  return { dir, blobs, cache, stored };
}

async function find(
  ws: Awaited<ReturnType<typeof snapshotted>>,
  current: Manifest,
  maxBytes = 8 * 1024,
) {
  return findWorkspaceEdits({
    dir: ws.dir,
    current,
    cache: ws.cache,
    skipped: new Set(),
    maxBytes,
    maxEdits: 8,
    nowMs: settledClock,
  });
}

/** Restores the stored snapshot with `edits` applied into a fresh directory; returns its tree. */
async function restoredTree(ws: Awaited<ReturnType<typeof snapshotted>>, edits: WorkspaceEdit[]) {
  const state = { step: 1, manifestHash: ws.stored.manifestHash, edits };
  const { manifest } = await loadWorkspaceState(ws.blobs, state);
  const into = dirs.fresh('restored');
  await restoreWorkspace({
    dir: into,
    blobs: ws.blobs,
    manifestHash: state.manifestHash,
    manifest,
  });
  return readTree(into);
}

describe('workspace edits', () => {
  it('carry an appended line, not the file, and restore to the same bytes', async () => {
    const ws = await snapshotted({ 'log.txt': 'x'.repeat(100_000), 'keep.txt': 'kept\n' });
    appendFileSync(`${ws.dir}/log.txt`, 'line 1\n');
    const found = await find(ws, ws.stored.manifest);
    expect(found?.edits).toEqual([{ path: 'log.txt', at: 100_000, text: 'line 1\n' }]);
    expect(await restoredTree(ws, found?.edits ?? [])).toEqual(readTree(ws.dir));
  });

  it('follow a chain of appends, new files, a binary write, a mode change and a removal', async () => {
    const ws = await snapshotted({ 'log.txt': 'start\n', 'gone.txt': 'bye\n', 'sub/a.txt': 'a' });
    const all: WorkspaceEdit[] = [];
    let current = ws.stored.manifest;
    const step = async (change: () => void) => {
      change();
      const found = await find(ws, current);
      if (found === null) throw new Error('expected edits');
      all.push(...found.edits);
      current = found.manifest;
      return found.edits;
    };
    await step(() => appendFileSync(`${ws.dir}/log.txt`, 'one\n'));
    await step(() => appendFileSync(`${ws.dir}/log.txt`, 'two\n'));
    const binary = Uint8Array.from([0xff, 0x00, 0xfe, 0x80]);
    expect(await step(() => writeFileSync(`${ws.dir}/sub/bin`, binary))).toEqual([
      { path: 'sub/bin', at: 0, base64: Buffer.from(binary).toString('base64') },
    ]);
    expect(await step(() => rmSync(`${ws.dir}/gone.txt`))).toEqual([
      { path: 'gone.txt', removed: true },
    ]);
    expect(await step(() => chmodSync(`${ws.dir}/sub/a.txt`, 0o755))).toEqual([
      { path: 'sub/a.txt', at: 1, text: '', mode: 0o755 },
    ]);
    // Rewritten smaller: the whole file, from 0.
    expect(await step(() => writeFileSync(`${ws.dir}/log.txt`, 'new\n'))).toEqual([
      { path: 'log.txt', at: 0, text: 'new\n' },
    ]);
    expect(all).toHaveLength(6);
    expect(await restoredTree(ws, all)).toEqual(readTree(ws.dir));
    // The manifest the edits give names every file by its real hash, as a stored one would.
    const stored = await snapshotWorkspace({
      dir: ws.dir,
      blobs: ws.blobs,
      cache: new StatCache(),
      nowMs: settledClock,
    });
    const { manifest } = await loadWorkspaceState(ws.blobs, {
      step: 1,
      manifestHash: ws.stored.manifestHash,
      edits: all,
    });
    const summary = (m: Manifest) =>
      m.entries.map((e) => (e.type === 'file' ? [e.path, e.size, e.mode, e.sha256] : [e.path]));
    expect(summary(manifest)).toEqual(summary(stored.manifest));
  });

  it('find nothing when nothing changed, without reading a file', async () => {
    const ws = await snapshotted({ 'a.txt': 'a', 'b/c.txt': 'c' });
    const found = await find(ws, ws.stored.manifest);
    expect(found).toEqual({ edits: [], manifest: ws.stored.manifest, readFiles: 0 });
  });

  it('give way to a stored snapshot for what edits do not say', async () => {
    const cases: [string, (dir: string) => void][] = [
      ['a new directory', (dir) => mkdirSync(`${dir}/new`)],
      ['a removed directory', (dir) => rmSync(`${dir}/d`, { recursive: true })],
      ['a new symlink', (dir) => symlinkSync('a.txt', `${dir}/link`)],
      [
        'a file rewritten larger than the limit',
        (dir) => writeFileSync(`${dir}/a.txt`, 'y'.repeat(9_000)),
      ],
      [
        'an append larger than the limit',
        (dir) => appendFileSync(`${dir}/big.txt`, 'z'.repeat(9_000)),
      ],
      [
        'more edits than allowed',
        (dir) => {
          for (let i = 0; i < 9; i++) writeFileSync(`${dir}/d/new-${i}.txt`, `${i}`);
        },
      ],
      [
        'a large file changed in place',
        (dir) => writeFileSync(`${dir}/big.txt`, `Y${'b'.repeat(19_999)}`),
      ],
    ];
    for (const [what, change] of cases) {
      const ws = await snapshotted({ 'a.txt': 'a', 'd/x.txt': 'x', 'big.txt': 'b'.repeat(20_000) });
      change(ws.dir);
      expect(await find(ws, ws.stored.manifest), what).toBeNull();
    }
  });

  it('see a file rewritten within the racy window, whatever its stat says', async () => {
    const ws = await snapshotted({ 'a.txt': 'aaaa' });
    // No settled clock: the file was just written, so its cached hash is not trusted.
    writeFileSync(`${ws.dir}/a.txt`, 'bbbb');
    const found = await findWorkspaceEdits({
      dir: ws.dir,
      current: ws.stored.manifest,
      cache: ws.cache,
      skipped: new Set(),
      maxBytes: 1024,
      maxEdits: 8,
    });
    expect(found?.edits).toEqual([{ path: 'a.txt', at: 0, text: 'bbbb' }]);
  });

  it('leave the next stored snapshot whole: the bytes edits carried are uploaded then', async () => {
    const ws = await snapshotted({ 'log.txt': 'l'.repeat(50_000) });
    let current = ws.stored.manifest;
    for (let i = 0; i < 5; i++) {
      appendFileSync(`${ws.dir}/log.txt`, `line ${i}\n`);
      const found = await find(ws, current);
      current = found?.manifest ?? current;
    }
    const { store, calls } = countingBlobStore(ws.blobs);
    const next = await snapshotWorkspace({
      dir: ws.dir,
      blobs: store,
      cache: ws.cache,
      previous: ws.stored,
      nowMs: settledClock,
    });
    expect(next.readFiles).toBe(1);
    expect(calls.puts.length).toBeGreaterThan(0);
    // Its manifest alone restores the files: nothing it names is missing from the store.
    const into = dirs.fresh('from-stored');
    await restoreWorkspace({ dir: into, blobs: ws.blobs, manifestHash: next.manifestHash });
    expect(readTree(into)).toEqual(readTree(ws.dir));
  });

  it('refuse edits that do not fit their manifest, naming the problem', async () => {
    const ws = await snapshotted({ 'a.txt': 'abc', 'd/x.txt': 'x' });
    const bad: [WorkspaceEdit | Record<string, unknown>, RegExp][] = [
      [{ path: '../escape', at: 0, text: 'x' }, /"\.\." component/],
      [{ path: 'a.txt', at: 2, text: 'x' }, /at 2, but it is 3 bytes/],
      [{ path: 'd', removed: true }, /changes a dir as a file/],
      [{ path: 'nope.txt', removed: true }, /absent/],
      [{ path: 'a.txt/under', at: 0, text: 'x' }, /not a directory/],
      [{ path: 'b.txt', at: 0, base64: '@@@' }, /bad base64/],
      [{ path: 'b.txt', at: 0 }, /neither text nor base64/],
      [{ path: 'b.txt', at: 0, text: 'x', mode: 0o4755 }, /bad mode/],
    ];
    for (const [edit, message] of bad) {
      const state = {
        step: 1,
        manifestHash: ws.stored.manifestHash,
        edits: [edit as WorkspaceEdit],
      };
      await expect(loadWorkspaceState(ws.blobs, state)).rejects.toMatchObject({
        code: 'WORKSPACE_CORRUPT',
        message,
      });
    }
  });
});
