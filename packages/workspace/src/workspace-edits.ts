import { createHash } from 'node:crypto';
import {
  LongrunError,
  isLongrunError,
  type BlobStore,
  type WorkspaceEdit,
  type WorkspaceState,
} from '@longrun/core';
import { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { fetchVerifiedBlob } from './fetch-verified-blob.ts';
import { readFileForEdit } from './hash-file.ts';
import { sha256Hex } from './hashing.ts';
import { loadManifest } from './load-manifest.ts';
import {
  chunksOfFile,
  comparePaths,
  manifestVersion,
  modeMask,
  type ChunkRef,
  type Manifest,
  type ManifestEntry,
} from './manifest.ts';
import { parentOf, unsafePathReason } from './manifest-paths.ts';
import { checkTree, isCount, isRecord } from './parse-manifest.ts';
import { scanWorkspace, type ScannedEntry } from './scan-workspace.ts';
import { budgetSnapshot } from './snapshot-budget.ts';
import type { StatCache } from './stat-cache.ts';
import { workspaceRoot } from './workspace-root.ts';

/** A new file's mode when an edit names none. */
export const defaultEditMode = 0o644;

/** A file's whole SHA-256 given its chunks (inline or in the blob store). */
export type WholeFileHasher = (path: string, chunks: readonly ChunkRef[]) => Promise<string>;

/**
 * `base` with `edits` applied in order (WorkspaceEdit), checked as a manifest read from a store is:
 * an edit that does not fit the tree (an append at another length than the file's, a path under a
 * file, a removal of what is not a file) or is malformed is WORKSPACE_CORRUPT. The bytes an edit
 * carries become inline chunks; each edited file's whole hash comes from `wholeHash`, once per file.
 */
export async function applyWorkspaceEdits(
  base: Manifest,
  edits: readonly unknown[],
  wholeHash: WholeFileHasher,
  where: string,
): Promise<Manifest> {
  const tree = new Map<string, ManifestEntry>(base.entries.map((e) => [e.path, e]));
  const touched = new Map<string, { mode: number; chunks: ChunkRef[] }>();
  for (const [index, raw] of edits.entries()) {
    const fail = (why: string) => editsUnusable(where, `edit ${index} ${why}`);
    const edit = checkEdit(raw);
    if (typeof edit === 'string') throw fail(edit);
    const before = tree.get(edit.path);
    const file = touched.get(edit.path) ?? fileOf(before);
    if (before !== undefined && before.type !== 'file')
      throw fail(`(${JSON.stringify(edit.path)}) changes a ${before.type} as a file`);
    if ('removed' in edit) {
      if (before === undefined) throw fail(`removes ${JSON.stringify(edit.path)}, which is absent`);
      tree.delete(edit.path);
      touched.delete(edit.path);
      continue;
    }
    const parent = parentOf(edit.path);
    if (parent !== '' && tree.get(parent)?.type !== 'dir')
      throw fail(
        `(${JSON.stringify(edit.path)}) lies in ${JSON.stringify(parent)}, not a directory`,
      );
    const size = file === undefined ? 0 : sizeOf(file.chunks);
    if (edit.at !== 0 && edit.at !== size)
      throw fail(`appends to ${JSON.stringify(edit.path)} at ${edit.at}, but it is ${size} bytes`);
    const bytes = edit.bytes;
    const kept = edit.at === 0 || file === undefined ? [] : file.chunks;
    const added = bytes.byteLength === 0 ? [] : [inlineChunk(bytes)];
    const mode = edit.mode ?? file?.mode ?? defaultEditMode;
    const next = { mode, chunks: [...kept, ...added] };
    touched.set(edit.path, next);
    // A placeholder until the hashes below: the tree's order and shape are checked first.
    tree.set(edit.path, { path: edit.path, type: 'file', size: 0, mode, sha256: '' });
  }
  const entries = [...tree.values()].sort((a, b) => comparePaths(a.path, b.path));
  checkTree(entries, where);
  const hashed = await Promise.all(
    entries.map(async (entry): Promise<ManifestEntry> => {
      const file = touched.get(entry.path);
      if (file === undefined) return entry;
      const sha256 = await wholeHash(entry.path, file.chunks);
      const size = sizeOf(file.chunks);
      return { path: entry.path, type: 'file', size, mode: file.mode, sha256, chunks: file.chunks };
    }),
  );
  return { version: manifestVersion, entries: hashed };
}

/** A file's chunks and mode as edits see them; its empty chunks (an empty file's) dropped. */
function fileOf(
  entry: ManifestEntry | undefined,
): { mode: number; chunks: ChunkRef[] } | undefined {
  if (entry?.type !== 'file') return undefined;
  return { mode: entry.mode, chunks: chunksOfFile(entry).filter((c) => c.size > 0) };
}

function sizeOf(chunks: readonly ChunkRef[]): number {
  return chunks.reduce((sum, chunk) => sum + chunk.size, 0);
}

function inlineChunk(bytes: Uint8Array): ChunkRef {
  return { sha256: sha256Hex(bytes), size: bytes.byteLength, inline: bytes };
}

type CheckedEdit =
  { path: string; at: number; bytes: Uint8Array; mode?: number } | { path: string; removed: true };

/** The edit with its bytes decoded, or why it is refused. */
function checkEdit(raw: unknown): CheckedEdit | string {
  if (!isRecord(raw)) return 'is not an object';
  const { path } = raw;
  if (typeof path !== 'string') return 'has no path';
  const unsafe = unsafePathReason(path);
  if (unsafe !== null) return `(${JSON.stringify(path)}) is refused: its path ${unsafe}`;
  if (raw.removed === true) return { path, removed: true };
  const { at, text, base64, mode } = raw;
  if (!isCount(at)) return `(${JSON.stringify(path)}) has no offset`;
  if (mode !== undefined && !(isCount(mode) && (mode & ~modeMask) === 0))
    return `(${JSON.stringify(path)}) has a bad mode`;
  let bytes: Uint8Array;
  if (typeof text === 'string' && base64 === undefined) bytes = Buffer.from(text, 'utf8');
  else if (typeof base64 === 'string' && text === undefined) {
    const decoded = Buffer.from(base64, 'base64');
    if (decoded.toString('base64') !== base64) return `(${JSON.stringify(path)}) has bad base64`;
    bytes = decoded;
  } else return `(${JSON.stringify(path)}) has neither text nor base64`;
  return mode === undefined ? { path, at, bytes } : { path, at, bytes, mode };
}

function editsUnusable(where: string, why: string): LongrunError {
  return new LongrunError(
    'WORKSPACE_CORRUPT',
    `${where} cannot be applied: ${why}. Restore an earlier snapshot of the session (an earlier ` +
      'workspace.snapshotted event); the log holding these edits was not written by longrun.',
    { details: { where } },
  );
}

/**
 * The manifest of a workspace state (`manifest`: its stored manifest, `stored`, with the edits
 * since applied), read through the blob store with every blob verified: an edited file's whole
 * hash is computed from its bytes.
 */
export async function loadWorkspaceState(
  blobs: BlobStore,
  state: WorkspaceState,
): Promise<{ stored: Manifest; manifest: Manifest }> {
  const stored = await loadManifest(blobs, state.manifestHash);
  const edits = state.edits ?? [];
  if (edits.length === 0) return { stored, manifest: stored };
  const where = `the workspace edits after manifest ${state.manifestHash} (step ${state.step})`;
  const wholeHash: WholeFileHasher = async (path, chunks) => {
    const whole = createHash('sha256');
    const context = { path, manifestHash: state.manifestHash };
    for (const chunk of chunks)
      whole.update(chunk.inline ?? (await fetchVerifiedBlob(blobs, chunk.sha256, context)));
    return whole.digest('hex');
  };
  return { stored, manifest: await applyWorkspaceEdits(stored, edits, wholeHash, where) };
}

export interface FindWorkspaceEditsOptions {
  dir: string;
  /** The workspace as last recorded: the stored manifest with the edits since applied. */
  current: Manifest;
  /** The worker's cache for `dir` (the one its snapshots use). */
  cache: StatCache;
  /** Paths the last snapshot left out: still left out, they are no change. */
  skipped: ReadonlySet<string>;
  /** The most bytes the edits may carry; more is no edit (null). */
  maxBytes: number;
  /** The most edits; more (a call that removes a thousand files) is no edit (null). */
  maxEdits: number;
  /** The workspace's cap: what snapshots leave out past it (snapshot-budget.ts) is no change. */
  maxFileBytes?: number;
  /** Wall clock for the racily-clean rule (injected by tests). */
  nowMs?: () => number;
}

export interface FoundEdits {
  edits: WorkspaceEdit[];
  /** `current` with the edits applied. */
  manifest: Manifest;
  /** Files read because the stat cache could not vouch for them. */
  readFiles: number;
}

/**
 * How the files changed since `current`, as edits (WorkspaceEdit): each file written whole (and
 * small) or appended to, or removed. Null when some change is not one of these — a directory or
 * symlink made or removed, a file changed in place, too many bytes, a file newly left out — so
 * the caller stores a snapshot instead. No blob is written. Files the cache vouches for are not
 * read; a file read whole and equal to `current`'s is recorded in the cache as unchanged. A file
 * is read no further than its scanned size and `maxBytes`: one that grew more is no edit.
 */
export async function findWorkspaceEdits(
  options: FindWorkspaceEditsOptions,
): Promise<FoundEdits | null> {
  const { cache, maxBytes } = options;
  const root = await workspaceRoot(options.dir);
  await cache.bind(root);
  const scanStartMs = (options.nowMs ?? Date.now)();
  const files = new ConfinedWorkspaceFiles(root);
  const tree = await scanWorkspace(files);
  if (tree.skipped.some((s) => !options.skipped.has(s.path))) return null;
  const { maxFileBytes } = options;
  const budget = maxFileBytes === undefined ? null : budgetSnapshot(tree.entries, maxFileBytes);
  const current = new Map(options.current.entries.map((e) => [e.path, e]));
  const edits: WorkspaceEdit[] = [];
  const knownHashes = new Map<string, string>();
  let bytes = 0;
  let readFiles = 0;
  const seen = new Set<string>();
  for (const scanned of tree.entries) {
    seen.add(scanned.path);
    const now = current.get(scanned.path);
    if (scanned.type === 'special') {
      if (!options.skipped.has(scanned.path)) return null;
      continue;
    }
    if (scanned.type !== 'file') {
      if (!sameNonFile(files, scanned, now)) return null;
      continue;
    }
    // Left out for its size: a change only once it fits. Newly left out: the record says so.
    const leftOut = budget?.refused.has(scanned.path) ?? false;
    if (leftOut !== options.skipped.has(scanned.path)) return null;
    if (leftOut) continue;
    if (now !== undefined && now.type !== 'file') return null;
    const mode = Number(scanned.stat.mode) & modeMask;
    const cached = cache.lookup(scanned.path, scanned.stat);
    if (now !== undefined && cached?.sha256 === now.sha256) {
      if (mode === now.mode) continue;
      edits.push({ path: now.path, at: now.size, text: '', mode });
      knownHashes.set(now.path, now.sha256);
      continue;
    }
    const size = Number(scanned.stat.size);
    const appendable = now !== undefined && size >= now.size && size - now.size <= maxBytes;
    if (!appendable && size > maxBytes) return null;
    const keepFrom = appendable ? now.size : 0;
    const read = await readOrTooLong(() =>
      readFileForEdit(files, scanned.path, {
        prefixBytes: now?.size ?? 0,
        keepFrom,
        maxKept: maxBytes,
        maxBytes: size + maxBytes,
      }),
    );
    if (read === 'too long') return null;
    if (read === null) {
      seen.delete(scanned.path); // gone since the scan: removed, below
      continue;
    }
    readFiles += 1;
    const readMode = Number(read.stat.mode) & modeMask;
    const modeChange = readMode === (now?.mode ?? defaultEditMode) ? {} : { mode: readMode };
    knownHashes.set(scanned.path, read.sha256);
    if (now !== undefined && read.sha256 === now.sha256 && read.size === now.size) {
      // Unchanged bytes (a file the cache could not vouch for): remembered as such. Its inline
      // chunks, which are no blobs, make the next stored snapshot read it again.
      cache.record(scanned.path, read.stat, scanStartMs, now);
      if (readMode !== now.mode)
        edits.push({ path: now.path, at: now.size, text: '', mode: readMode });
      continue;
    }
    const appended = now !== undefined && read.prefixSha256 === now.sha256 && read.size >= now.size;
    const at = appended ? now.size : 0;
    const carried = appended && read.kept !== null ? read.kept.subarray(0) : await wholeIfSmall();
    if (carried === null) return null;
    bytes += carried.byteLength;
    if (bytes > maxBytes) return null;
    edits.push({ path: scanned.path, at, ...bytesField(carried), ...modeChange });
    if (edits.length > options.maxEdits) return null;
    cache.record(scanned.path, read.stat, scanStartMs, { sha256: read.sha256 });

    async function wholeIfSmall(): Promise<Uint8Array | null> {
      if (read === null || read === 'too long' || read.size > maxBytes) return null;
      if (keepFrom === 0) return read.kept;
      const again = await readOrTooLong(() =>
        readFileForEdit(files, scanned.path, {
          prefixBytes: 0,
          keepFrom: 0,
          maxKept: maxBytes,
          maxBytes,
        }),
      );
      return again !== 'too long' && again?.sha256 === read.sha256 ? again.kept : null;
    }
  }
  for (const entry of options.current.entries) {
    if (seen.has(entry.path) || options.skipped.has(entry.path)) continue;
    if (entry.type !== 'file') return null;
    edits.push({ path: entry.path, removed: true });
  }
  if (edits.length > options.maxEdits) return null;
  cache.retain(seen);
  await cache.save();
  if (edits.length === 0) return { edits, manifest: options.current, readFiles };
  const manifest = await applyWorkspaceEdits(
    options.current,
    edits,
    async (path) => knownHashes.get(path) ?? unknownHash(path),
    'the workspace edits just found',
  );
  return { edits, manifest, readFiles };
}

/** A read, or 'too long' when the file grew past the read's limit (FILE_TOO_LARGE). */
async function readOrTooLong<T>(read: () => Promise<T>): Promise<T | 'too long'> {
  try {
    return await read();
  } catch (error) {
    if (isLongrunError(error, 'FILE_TOO_LARGE')) return 'too long';
    throw error;
  }
}

function unknownHash(path: string): never {
  throw new LongrunError('INTERNAL', `no hash was taken of the edited file ${path}`);
}

/** A directory or symlink as `current` has it (same mode, same target). */
function sameNonFile(
  files: ConfinedWorkspaceFiles,
  scanned: ScannedEntry,
  now: ManifestEntry | undefined,
): boolean {
  if (now === undefined || now.type !== scanned.type) return false;
  if (now.type === 'dir') return (Number(scanned.stat.mode) & modeMask) === now.mode;
  return now.type === 'symlink' && files.readLink(scanned.path) === now.target;
}

/** Text when the bytes are UTF-8, else base64. */
function bytesField(bytes: Uint8Array): { text: string } | { base64: string } {
  try {
    return { text: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) };
  } catch {
    return {
      base64: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'),
    };
  }
}
