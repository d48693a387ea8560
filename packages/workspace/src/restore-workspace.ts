import { mkdir } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { isLongrunError, type BlobStore } from '@longrun/core';
import { forEachBounded } from './bounded-concurrency.ts';
import { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { hashWholeFile } from './hash-file.ts';
import { loadManifest } from './load-manifest.ts';
import {
  manifestTotals,
  modeMask,
  type DirEntry,
  type FileEntry,
  type Manifest,
  type ManifestEntry,
  type SymlinkEntry,
} from './manifest.ts';
import { ancestorsOf } from './manifest-paths.ts';
import { RestoreTree } from './restore-tree.ts';
import { scanWorkspace, type ScannedEntry } from './scan-workspace.ts';
import type { StatCache } from './stat-cache.ts';
import { workspaceRoot } from './workspace-root.ts';
import { writeRestoredFile, writeRestoredSymlink } from './write-restored-file.ts';

export interface RestoreWorkspaceOptions {
  /** Created when absent; an existing directory is made exactly equal to the snapshot. */
  dir: string;
  blobs: BlobStore;
  manifestHash: string;
  /** Files fetched at once. */
  concurrency?: number;
  /** This worker's cache for `dir`, to recognize files already in place without reading them. */
  cache?: StatCache;
  /**
   * The manifest to restore, already read and checked (loadWorkspaceState: a stored manifest with
   * edits applied); `manifestHash` then only names it in errors. Default: read `manifestHash`.
   */
  manifest?: Manifest;
}

export interface RestoreResult {
  manifestHash: string;
  manifest: Manifest;
  files: number;
  bytes: number;
  /** Blobs fetched (and verified) and their bytes. */
  fetchedBlobs: number;
  fetchedBytes: number;
  /** Files already in the directory with the right content, kept as they were. */
  reusedFiles: number;
  /** Paths removed because the snapshot does not have them (a removed directory counts once). */
  removedPaths: number;
  durationMs: number;
}

interface Counters {
  fetchedBlobs: number;
  fetchedBytes: number;
  reusedFiles: number;
  removedPaths: number;
}

/**
 * Makes `dir` hold exactly the snapshot `manifestHash`: the manifest is fetched and checked first
 * (its hash, then every path: a hostile manifest is refused before anything is touched), paths the
 * snapshot lacks are removed, files already right are kept, the rest is fetched with bounded
 * concurrency, verified and renamed into place; symlinks are created last and never followed;
 * directory modes are set at the end. A missing or corrupt blob stops the restore with
 * WORKSPACE_CORRUPT; the directory is then incomplete and must be restored again before use.
 * Restored files are not fsync'd: after a machine crash, restore again (verifyWorkspace tells).
 */
export async function restoreWorkspace(options: RestoreWorkspaceOptions): Promise<RestoreResult> {
  const startedMs = performance.now();
  const { blobs, manifestHash } = options;
  const manifest = options.manifest ?? (await loadManifest(blobs, manifestHash));
  await mkdir(options.dir, { recursive: true });
  const root = await workspaceRoot(options.dir);
  const tree = new RestoreTree(new ConfinedWorkspaceFiles(root));
  await options.cache?.bind(root);
  const counters: Counters = { fetchedBlobs: 0, fetchedBytes: 0, reusedFiles: 0, removedPaths: 0 };
  const wanted = new Map(manifest.entries.map((entry) => [entry.path, entry]));
  const kept = await removeWhatDoesNotBelong(tree, wanted, counters);
  const byType = splitByType(manifest.entries);
  for (const dir of byType.dirs) await tree.ensureDir(dir.path);
  await forEachBounded(byType.files, options.concurrency ?? 8, async (entry) => {
    if (await alreadyInPlace(tree, entry, kept.get(entry.path), options.cache)) {
      counters.reusedFiles += 1;
      return;
    }
    const fetched = await writeRestoredFile(tree, entry, blobs, manifestHash);
    counters.fetchedBlobs += fetched.blobs;
    counters.fetchedBytes += fetched.bytes;
  });
  for (const link of byType.symlinks)
    if (!kept.has(link.path)) await writeRestoredSymlink(tree, link);
  const deepestFirst = byType.dirs.toReversed();
  for (const dir of deepestFirst) tree.files.chmod(dir.path, dir.mode);
  return {
    manifestHash,
    manifest,
    ...manifestTotals(manifest),
    ...counters,
    durationMs: performance.now() - startedMs,
  };
}

function splitByType(entries: readonly ManifestEntry[]) {
  const dirs: DirEntry[] = [];
  const files: FileEntry[] = [];
  const symlinks: SymlinkEntry[] = [];
  for (const entry of entries) {
    if (entry.type === 'dir') dirs.push(entry);
    else if (entry.type === 'file') files.push(entry);
    else symlinks.push(entry);
  }
  return { dirs, files, symlinks };
}

/**
 * Removes every existing path whose type (or symlink target) differs from the snapshot's or that
 * the snapshot lacks, leftover restore temp files and special files included. Returns what stays.
 */
async function removeWhatDoesNotBelong(
  tree: RestoreTree,
  wanted: ReadonlyMap<string, ManifestEntry>,
  counters: Counters,
): Promise<Map<string, ScannedEntry>> {
  const kept = new Map<string, ScannedEntry>();
  const removedDirs = new Set<string>();
  const { entries } = await scanWorkspace(tree.files);
  for (const existing of entries) {
    if (ancestorsOf(existing.path).some((a) => removedDirs.has(a))) continue;
    if (await belongs(tree, existing, wanted.get(existing.path))) {
      kept.set(existing.path, existing);
      continue;
    }
    await tree.files.remove(existing.path);
    counters.removedPaths += 1;
    if (existing.type === 'dir') removedDirs.add(existing.path);
  }
  return kept;
}

async function belongs(
  tree: RestoreTree,
  existing: ScannedEntry,
  want: ManifestEntry | undefined,
): Promise<boolean> {
  if (want === undefined || want.type !== existing.type) return false;
  if (want.type !== 'symlink') return true;
  return tree.files.readLink(existing.path) === want.target;
}

/**
 * True when the file already holds the right bytes (its mode is then fixed if needed). Read no
 * further than the snapshot's size: one grown since the scan (a sparse file made long) is not it.
 */
async function alreadyInPlace(
  tree: RestoreTree,
  entry: FileEntry,
  existing: ScannedEntry | undefined,
  cache: StatCache | undefined,
): Promise<boolean> {
  if (existing === undefined || Number(existing.stat.size) !== entry.size) return false;
  const cached = cache?.lookup(entry.path, existing.stat);
  const sha256 = cached?.sha256 ?? (await hashUpTo(tree, entry))?.sha256;
  if (sha256 !== entry.sha256) return false;
  if ((Number(existing.stat.mode) & modeMask) !== entry.mode)
    tree.files.chmod(entry.path, entry.mode);
  return true;
}

async function hashUpTo(tree: RestoreTree, entry: FileEntry): Promise<{ sha256: string } | null> {
  try {
    return await hashWholeFile(tree.files, entry.path, entry.size);
  } catch (error) {
    if (isLongrunError(error, 'FILE_TOO_LARGE')) return null;
    throw error;
  }
}
