import { randomBytes } from 'node:crypto';
import {
  appendFileSync,
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { event, workerId, type BlobStore, type Lease } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import {
  DirectoryBlobStore,
  restoreWorkspace,
  snapshotWorkspace,
  StatCache,
  verifyWorkspace,
  type SnapshotResult,
} from '@longrun/workspace';
import { seededRandom } from '../seeded-random.ts';
import { round, summary } from './stats.ts';

/** The generated workspace: 1,000 files, ~100 MB, three size classes (some chunked). */
interface GeneratedWorkspace {
  files: string[];
  bytes: number;
}

const sizeClasses = [
  { count: 900, minBytes: 2 * 1024, maxBytes: 40 * 1024 }, // sources, configs
  { count: 90, minBytes: 100 * 1024, maxBytes: 700 * 1024 }, // assets, lockfiles
  { count: 10, minBytes: 3 * 1024 * 1024, maxBytes: 6 * 1024 * 1024 }, // builds, data (some > 4 MiB)
];

function generateWorkspace(dir: string, random: () => number): GeneratedWorkspace {
  const files: string[] = [];
  let bytes = 0;
  let index = 0;
  for (const { count, minBytes, maxBytes } of sizeClasses) {
    for (let i = 0; i < count; i++, index++) {
      const size = Math.floor(minBytes + random() * (maxBytes - minBytes));
      const path = `pkg-${index % 8}/dir-${index % 41}/file-${index}.dat`;
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), randomBytes(size));
      files.push(path);
      bytes += size;
    }
  }
  return { files, bytes };
}

/** Rewrites 64 bytes in the middle of one file: a small edit, as an agent's tool would make. */
function editOneFile(dir: string, path: string): void {
  const handle = openSync(join(dir, path), 'r+');
  try {
    writeSync(handle, randomBytes(64), 0, 64, 1024);
  } finally {
    closeSync(handle);
  }
}

interface StoreUnderTest {
  name: string;
  blobs: BlobStore;
  close(): Promise<void>;
}

async function measureOnStore(
  root: string,
  store: StoreUnderTest,
  iterations: number,
  seed: number,
): Promise<Record<string, unknown>> {
  const source = join(root, `${store.name}-source`);
  mkdirSync(source);
  const random = seededRandom(seed);
  const workspace = generateWorkspace(source, random);
  const { blobs } = store;
  const cache = new StatCache();
  const first = await snapshotWorkspace({ dir: source, blobs, cache });
  const resnapshot = await measureResnapshots(
    source,
    blobs,
    cache,
    first,
    workspace,
    iterations,
    random,
  );
  const restore = await measureRestores(root, store.name, blobs, first, resnapshot.last);
  return {
    workspace: { files: first.files, bytes: first.bytes, megabytes: round(first.bytes / 1e6, 1) },
    firstSnapshot: {
      ms: round(first.durationMs, 1),
      uploadedBlobs: first.uploadedBlobs,
      uploadedMB: round(first.uploadedBytes / 1e6, 1),
    },
    ...resnapshot.figures,
    ...restore,
  };
}

async function measureResnapshots(
  source: string,
  blobs: BlobStore,
  cache: StatCache,
  first: SnapshotResult,
  workspace: GeneratedWorkspace,
  iterations: number,
  random: () => number,
) {
  const changedMs: number[] = [];
  const readFiles: number[] = [];
  const uploadedBlobs: number[] = [];
  let previous = first;
  // Edits go to the 990 files under 1 MB, as most agent edits do; big files are covered by chunking.
  const editable = workspace.files.slice(0, 990);
  for (let i = 0; i < iterations; i++) {
    editOneFile(source, editable[Math.floor(random() * editable.length)] as string);
    const snap = await snapshotWorkspace({ dir: source, blobs, cache, previous });
    changedMs.push(snap.durationMs);
    readFiles.push(snap.readFiles);
    uploadedBlobs.push(snap.uploadedBlobs);
    previous = snap;
  }
  const unchangedMs: number[] = [];
  for (let i = 0; i < iterations; i++) {
    unchangedMs.push((await snapshotWorkspace({ dir: source, blobs, cache, previous })).durationMs);
  }
  return {
    last: previous,
    figures: {
      resnapshotOneFileChangedMs: summary(changedMs),
      resnapshotFilesRead: summary(readFiles),
      resnapshotUploadedBlobs: summary(uploadedBlobs),
      resnapshotNothingChangedMs: summary(unchangedMs),
    },
  };
}

async function measureRestores(
  root: string,
  name: string,
  blobs: BlobStore,
  first: SnapshotResult,
  last: SnapshotResult,
) {
  const target = join(root, `${name}-restored`);
  const fresh = await restoreWorkspace({ dir: target, blobs, manifestHash: first.manifestHash });
  const verifyStartMs = performance.now();
  const differences = await verifyWorkspace(target, fresh.manifest);
  const verifyMs = performance.now() - verifyStartMs;
  if (differences.length > 0)
    throw new Error(`restore did not verify: ${JSON.stringify(differences[0])}`);
  // Warm target: the directory holds the first snapshot and is brought to the last one, which
  // differs in the files edited above. Without a cache every same-size file is read to compare.
  const warm = await restoreWorkspace({ dir: target, blobs, manifestHash: last.manifestHash });
  // With this worker's stat cache for the directory, unchanged files are recognized by stat.
  const targetCache = new StatCache();
  await snapshotWorkspace({ dir: target, blobs, cache: targetCache });
  const cached = await restoreWorkspace({
    dir: target,
    blobs,
    manifestHash: first.manifestHash,
    cache: targetCache,
  });
  return {
    restoreFresh: {
      ms: round(fresh.durationMs, 1),
      fetchedBlobs: fresh.fetchedBlobs,
      MBps: round(fresh.fetchedBytes / 1e6 / (fresh.durationMs / 1000), 1),
    },
    verifyMs: round(verifyMs, 1),
    restoreWarmTarget: {
      ms: round(warm.durationMs, 1),
      reusedFiles: warm.reusedFiles,
      fetchedBlobs: warm.fetchedBlobs,
    },
    restoreWarmTargetWithStatCache: {
      ms: round(cached.durationMs, 1),
      reusedFiles: cached.reusedFiles,
      fetchedBlobs: cached.fetchedBlobs,
    },
  };
}

async function directoryStore(root: string): Promise<StoreUnderTest> {
  return {
    name: 'directory',
    blobs: new DirectoryBlobStore(join(root, 'blobs')),
    close: async () => {},
  };
}

async function sqliteBlobStore(root: string): Promise<StoreUnderTest> {
  const store = await SqliteStore.open({ path: join(root, 'longrun.db') });
  return { name: 'sqlite', blobs: store.blobs, close: () => store.close() };
}

/** One session's log in its own SQLite store, written as a worker writes it. */
class BenchLog {
  readonly store: SqliteStore;
  #lease: Lease;
  #head: number;

  private constructor(store: SqliteStore, lease: Lease) {
    this.store = store;
    this.#lease = lease;
    this.#head = lease.headSeq;
  }

  static async open(path: string): Promise<BenchLog> {
    const store = await SqliteStore.open({ path });
    const session = await store.createSession({ agent: 'appender', input: 'append' });
    const lease = await store.claim(session.id, workerId('bench'), 600_000);
    if (lease === null) throw new Error('the bench session could not be claimed');
    return new BenchLog(store, lease);
  }

  async recordSnapshot(step: number, snap: SnapshotResult): Promise<void> {
    const { manifestHash, files, bytes, changed } = snap;
    const snapshotted = event('workspace.snapshotted', {
      step,
      manifestHash,
      files,
      bytes,
      changed,
    });
    const appended = await this.store.append({
      fence: this.#lease,
      expectedSeq: this.#head,
      events: [snapshotted],
    });
    this.#head = appended.headSeq;
  }
}

/**
 * An agent that appends a ~200-byte line to one workspace file per step, snapshotting after each
 * step as the harness does, for `steps` steps: the bytes its SQLite store holds (blobs and log)
 * against a store holding the same log without the blobs. The target is at most twice the bytes
 * appended plus the log's own bytes. `blobBytes` counts what the blob store was sent (manifests
 * included); the SQLite figures are the files' pages, so they include SQLite's own overhead.
 */
export async function measureAppendOnlyFile(steps: number): Promise<Record<string, unknown>> {
  const root = mkdtempSync(join(tmpdir(), 'longrun-wsappend-'));
  const withBlobs = await BenchLog.open(join(root, 'with-blobs.db'));
  const logOnly = await BenchLog.open(join(root, 'log-only.db'));
  try {
    const dir = join(root, 'workspace');
    mkdirSync(dir);
    const blobs = withBlobs.store.blobs;
    const cache = new StatCache();
    const startBytes = {
      withBlobs: withBlobs.store.sizeBytes(),
      logOnly: logOnly.store.sizeBytes(),
    };
    let appendedBytes = 0;
    let blobBytes = 0;
    let manifestBytes = 0;
    let previous: SnapshotResult | undefined;
    for (let step = 1; step <= steps; step++) {
      const line = `step ${String(step).padStart(4, '0')} ${randomBytes(144).toString('base64')}\n`;
      appendFileSync(join(dir, 'notes.log'), line);
      appendedBytes += line.length;
      const snap = await snapshotWorkspace({
        dir,
        blobs,
        cache,
        ...(previous ? { previous } : {}),
      });
      blobBytes += snap.uploadedBytes;
      manifestBytes += (await blobs.get(snap.manifestHash))?.byteLength ?? 0;
      await withBlobs.recordSnapshot(step, snap);
      await logOnly.recordSnapshot(step, snap);
      previous = snap;
    }
    const storeBytes = withBlobs.store.sizeBytes() - startBytes.withBlobs;
    const logBytes = logOnly.store.sizeBytes() - startBytes.logOnly;
    return {
      steps,
      appendedBytes,
      workspaceAppendBytesPerRun: storeBytes,
      logOnlyBytes: logBytes,
      targetBytes: 2 * appendedBytes + logBytes,
      blobBytes,
      manifestBytes,
      blobBytesPerAppendedByte: round(blobBytes / appendedBytes, 2),
      workspaceBytesPerAppendedByte: round((storeBytes - logBytes) / appendedBytes, 2),
    };
  } finally {
    await withBlobs.store.close();
    await logOnly.store.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/**
 * Workspace snapshots on a generated 1,000-file, ~100 MB workspace, per blob store: the first
 * snapshot (cold cache, empty store), re-snapshots after one small edit (target p50 ≤ 20 ms) and
 * with nothing changed, a restore onto a fresh directory, its verification, and restores onto a
 * warm directory without and with a stat cache. Everything lives under one temp dir, removed after.
 */
export async function measureWorkspaceSnapshots(
  options: { quick?: boolean; seed?: number } = {},
): Promise<Record<string, unknown>> {
  const iterations = options.quick === true ? 30 : 100;
  const seed = options.seed ?? 20_240_601;
  const append = await measureAppendOnlyFile(800);
  const out: Record<string, unknown> = {
    workspaceAppendBytesPerRun800: append.workspaceAppendBytesPerRun,
    appendOnlyFile: append,
    iterations,
    seed,
    targetResnapshotP50Ms: 20,
  };
  for (const make of [directoryStore, sqliteBlobStore]) {
    const root = mkdtempSync(join(tmpdir(), 'longrun-wsbench-'));
    const store = await make(root);
    try {
      out[store.name] = await measureOnStore(root, store, iterations, seed);
    } finally {
      await store.close();
      rmSync(root, { recursive: true, force: true });
    }
  }
  return out;
}
