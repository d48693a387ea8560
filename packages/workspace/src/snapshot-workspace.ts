import { performance } from 'node:perf_hooks';
import { isLongrunError, type BlobStore } from '@longrun/core';
import { forEachBounded } from './bounded-concurrency.ts';
import { BlobUploader, type BlobPresence } from './blob-uploader.ts';
import { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { countChanges, diffManifests } from './diff-manifests.ts';
import {
  checkChunkingParameters,
  defaultChunking,
  type ChunkingParameters,
} from './content-defined-chunking.ts';
import { chunkFile, type HashedFile } from './hash-file.ts';
import { chainDepthOf, noteChainDepth, storedManifest } from './manifest-delta.ts';
import { budgetSnapshot } from './snapshot-budget.ts';
import {
  chunksOfFile,
  createManifest,
  manifestTotals,
  modeMask,
  storedBlobHashesOf,
  type ChunkRef,
  type FileEntry,
  type Manifest,
  type ManifestEntry,
} from './manifest.ts';
import {
  scanWorkspace,
  specialKind,
  type ScannedEntry,
  type SkippedPath,
} from './scan-workspace.ts';
import type { CachedHash, StatCache } from './stat-cache.ts';
import { workspaceRoot } from './workspace-root.ts';

export interface SnapshotWorkspaceOptions {
  dir: string;
  blobs: BlobStore;
  /** The session's last snapshot, to count what changed since. */
  previous?: { manifestHash: string; manifest: Manifest };
  /** Keep one per workspace per worker: with it, unchanged files are not read again. */
  cache?: StatCache;
  /** Content-defined chunk sizes; the default suits every workspace (tests pass small ones). */
  chunking?: ChunkingParameters;
  /** Files hashed at once. */
  concurrency?: number;
  /**
   * The workspace's size cap, default none: the most bytes of files a snapshot takes, and so the
   * most it reads and a restore writes. An agent workspace passes its cap. A file longer than it
   * cannot have been written in the workspace, only made sparse (`truncate -s 64G`); nor can files
   * totalling more, except sparse files and hard links, whose length costs the sandbox nothing and
   * would cost the worker a full read. Files past the cap are left out (listed in `skipped`), those
   * wholly on disk taken first (snapshot-budget.ts); a file that grows past what is left of the
   * cap while being read is left out too.
   */
  maxFileBytes?: number;
  /** Wall clock for the racily-clean rule (injected by tests). */
  nowMs?: () => number;
}

export interface SnapshotResult {
  manifestHash: string;
  manifest: Manifest;
  /** Regular files and their total bytes. */
  files: number;
  bytes: number;
  /** Paths added, changed or removed since `previous` (every path when there is none). */
  changed: number;
  /** Blobs (the manifest included) the store lacked and was sent, and their bytes. */
  uploadedBlobs: number;
  uploadedBytes: number;
  /** Files read and hashed because the stat cache could not vouch for them. */
  readFiles: number;
  readBytes: number;
  /** Special files and unnameable paths left out, each with its reason. */
  skipped: SkippedPath[];
  durationMs: number;
}

interface Plan {
  readonly entries: ManifestEntry[];
  readonly cached: { scanned: ScannedEntry; hash: CachedHash }[];
  readonly toHash: ScannedEntry[];
  readonly skipped: SkippedPath[];
  /**
   * Bytes of the cap not taken by the files as scanned: what the files read may grow by in all
   * before one that grows is left out (infinite without a cap).
   */
  spareBytes: number;
}

/**
 * Snapshots the workspace at `dir` into `blobs`: reads only files the stat cache cannot vouch for,
 * uploads only blobs the store lacks, and stores the manifest, whose hash names the snapshot.
 */
export async function snapshotWorkspace(
  options: SnapshotWorkspaceOptions,
): Promise<SnapshotResult> {
  const startedMs = performance.now();
  const { blobs, cache } = options;
  const chunking = checkChunkingParameters(options.chunking ?? defaultChunking);
  const root = await workspaceRoot(options.dir);
  await cache?.bind(root);
  const scanStartMs = (options.nowMs ?? Date.now)();
  const files = new ConfinedWorkspaceFiles(root);
  const tree = await scanWorkspace(files);
  const plan = classify(files, tree.entries, tree.skipped, cache, options.maxFileBytes);
  const presence = presenceFor(blobs, cache);
  const previousFiles = filesOf(options.previous?.manifest);
  await confirmCachedBlobs(plan, blobs, presence, (path) => previousFiles.get(path));
  const uploader = new BlobUploader(blobs, presence);
  const reads = await hashFiles(files, plan, uploader, {
    chunking,
    previousChunks: (path) => {
      const file = previousFiles.get(path);
      return file === undefined ? undefined : chunksOfFile(file);
    },
    cache,
    scanStartMs,
    concurrency: options.concurrency ?? 4,
    maxBytes: options.maxFileBytes,
  });
  const manifest = createManifest(plan.entries);
  const base = await usableBase(options.previous, blobs, presence);
  const { hash, depth, bytes, blobs: inlineChunks } = storedManifest(manifest, base);
  for (const chunk of inlineChunks) await uploader.add(chunk.hash, chunk.bytes);
  await uploader.flush();
  if (bytes !== null) await uploader.add(hash, bytes);
  noteChainDepth(manifest, depth);
  await uploader.flush();
  cache?.retain(new Set(tree.entries.map((entry) => entry.path)));
  await cache?.save();
  const changed = changesSince(options.previous, manifest, hash);
  return {
    manifestHash: hash,
    manifest,
    ...manifestTotals(manifest),
    changed,
    uploadedBlobs: uploader.uploadedBlobs,
    uploadedBytes: uploader.uploadedBytes,
    ...reads,
    skipped: plan.skipped,
    durationMs: performance.now() - startedMs,
  };
}

/**
 * The previous snapshot, when its manifest may be the base of this one's (manifest-delta.ts): this
 * process read or wrote it, so its chain is known, and the blob store holds it (checked once).
 */
async function usableBase(
  previous: SnapshotWorkspaceOptions['previous'],
  blobs: BlobStore,
  presence: BlobPresence,
): Promise<SnapshotWorkspaceOptions['previous']> {
  if (previous === undefined || chainDepthOf(previous.manifest) === undefined) return undefined;
  const hash = previous.manifestHash;
  if (presence.has(hash)) return previous;
  if ((await blobs.missing([hash])).length > 0) return undefined;
  presence.add([hash]);
  return previous;
}

/** Paths added, changed or removed since `previous`; every path when there is none. */
function changesSince(
  previous: SnapshotWorkspaceOptions['previous'],
  manifest: Manifest,
  manifestHash: string,
): number {
  if (previous === undefined) return manifest.entries.length;
  if (previous.manifestHash === manifestHash) return 0;
  return countChanges(diffManifests(previous.manifest, manifest));
}

function modeOf(scanned: ScannedEntry): number {
  return Number(scanned.stat.mode) & modeMask;
}

/** Directories and symlinks go straight into the manifest; files are cached or to be hashed. */
function classify(
  files: ConfinedWorkspaceFiles,
  scanned: readonly ScannedEntry[],
  skipped: readonly SkippedPath[],
  cache: StatCache | undefined,
  maxFileBytes: number | undefined,
): Plan {
  const budget = maxFileBytes === undefined ? null : budgetSnapshot(scanned, maxFileBytes);
  const plan: Plan = {
    entries: [],
    cached: [],
    toHash: [],
    skipped: [...skipped],
    spareBytes:
      budget === null ? Number.POSITIVE_INFINITY : Number(maxFileBytes) - budget.takenBytes,
  };
  for (const entry of scanned) {
    const { path } = entry;
    switch (entry.type) {
      case 'dir':
        plan.entries.push({ path, type: 'dir', mode: modeOf(entry) });
        break;
      case 'symlink': {
        // Null when it is gone or replaced since the scan: left out, like a deleted file.
        const target = files.readLink(path);
        if (target !== null) plan.entries.push({ path, type: 'symlink', target });
        break;
      }
      case 'special':
        plan.skipped.push({ path, reason: `${specialKind(entry.stat)} is not snapshotted` });
        break;
      case 'file': {
        const refused = budget?.refused.get(path);
        if (refused !== undefined) {
          plan.skipped.push({ path, reason: refused });
          break;
        }
        const hash = cache?.lookup(path, entry.stat);
        if (hash === undefined) plan.toHash.push(entry);
        else plan.cached.push({ scanned: entry, hash });
        break;
      }
    }
  }
  return plan;
}

function filesOf(manifest: Manifest | undefined): Map<string, FileEntry> {
  const files = new Map<string, FileEntry>();
  for (const entry of manifest?.entries ?? [])
    if (entry.type === 'file') files.set(entry.path, entry);
  return files;
}

function presenceFor(blobs: BlobStore, cache: StatCache | undefined): BlobPresence {
  if (cache !== undefined) {
    return { has: (h) => cache.isPresent(blobs, h), add: (hs) => cache.markPresent(blobs, hs) };
  }
  const seen = new Set<string>();
  return { has: (h) => seen.has(h), add: (hs) => [...hs].forEach((h) => seen.add(h)) };
}

/**
 * A cached hash says what a file holds, not that this blob store has it (a persisted cache may
 * outlive a store). Hashes this process has not yet seen in `blobs` are checked once, in one call;
 * a file whose blob is missing is read and uploaded again. Cached files go into the manifest.
 */
async function confirmCachedBlobs(
  plan: Plan,
  blobs: BlobStore,
  presence: BlobPresence,
  previousFile: (path: string) => FileEntry | undefined,
) {
  // The cache keeps chunk hashes only: a chunk the previous manifest keeps inline is taken from it.
  const cached = plan.cached.map(({ scanned, hash }) => {
    const previous = previousFile(scanned.path);
    const same = previous?.sha256 === hash.sha256 && previous.chunks !== undefined;
    return { scanned, hash: same ? { sha256: previous.sha256, chunks: previous.chunks } : hash };
  });
  const unknown = new Set<string>();
  for (const { hash } of cached)
    for (const h of storedBlobHashesOf(hash)) if (!presence.has(h)) unknown.add(h);
  const missing = new Set(unknown.size === 0 ? [] : await blobs.missing([...unknown]));
  presence.add([...unknown].filter((h) => !missing.has(h)));
  for (const { scanned, hash } of cached) {
    if (storedBlobHashesOf(hash).some((h) => missing.has(h))) {
      plan.toHash.push(scanned);
      continue;
    }
    const { path, stat } = scanned;
    const entry = { path, type: 'file', size: Number(stat.size), mode: modeOf(scanned) } as const;
    plan.entries.push({ ...hash, ...entry });
  }
}

interface HashContext {
  chunking: ChunkingParameters;
  /** The chunk list of the path's previous version, if it was a file. */
  previousChunks: (path: string) => readonly ChunkRef[] | undefined;
  cache: StatCache | undefined;
  scanStartMs: number;
  concurrency: number;
  /** The workspace's cap, named in the reason a file that grew is left out. */
  maxBytes: number | undefined;
}

/** Reads, hashes and queues for upload each file the cache could not vouch for. */
async function hashFiles(
  files: ConfinedWorkspaceFiles,
  plan: Plan,
  uploader: BlobUploader,
  ctx: HashContext,
) {
  let readFiles = 0;
  let readBytes = 0;
  await forEachBounded(plan.toHash, ctx.concurrency, async ({ path, stat }) => {
    // A file may grow past its scanned size by the spare bytes; the first file read takes them
    // all, and gives back what it did not use, so that the bytes read never exceed the cap.
    const scannedBytes = Number(stat.size);
    const lent = plan.spareBytes;
    plan.spareBytes = 0;
    let hashed: HashedFile | null;
    try {
      hashed = await chunkFile(files, path, ctx.chunking, {
        onBlob: (h, b) => uploader.add(h, b),
        previous: ctx.previousChunks(path),
        maxBytes: scannedBytes + lent,
      });
    } catch (error) {
      if (!isLongrunError(error, 'FILE_TOO_LARGE')) throw error;
      const reason = `it grew past ${scannedBytes + lent} bytes while being snapshotted, more than the snapshot limit of ${ctx.maxBytes} (the workspace's size cap) leaves room for; not snapshotted`;
      plan.skipped.push({ path, reason });
      return;
    }
    plan.spareBytes += lent - Math.max(0, (hashed?.size ?? 0) - scannedBytes);
    if (hashed === null) return; // deleted or replaced since the scan: as if it was never there
    readFiles += 1;
    readBytes += hashed.size;
    const hash =
      hashed.chunks === undefined
        ? { sha256: hashed.sha256 }
        : { sha256: hashed.sha256, chunks: hashed.chunks };
    ctx.cache?.record(path, hashed.stat, ctx.scanStartMs, hash);
    const mode = Number(hashed.stat.mode) & modeMask;
    plan.entries.push({ path, type: 'file', size: hashed.size, mode, ...hash });
  });
  await uploader.flush();
  return { readFiles, readBytes };
}
