import { sha256Hex } from './hashing.ts';

/**
 * A workspace snapshot is one manifest: a canonical JSON document listing every regular file,
 * symlink and directory under the workspace root. The manifest is itself a blob, and its hash
 * names the snapshot. Canonical means the same tree always serializes to the same bytes: entries
 * sorted by path (UTF-16 code unit order, as JS compares strings), keys in a fixed order, no
 * whitespace. So an unchanged workspace re-snapshots to the same hash, and a fork is a copy of it.
 */
export const manifestVersion = 1;

/**
 * Files larger than this are stored as fixed 4 MiB chunks, each its own blob, so an in-place edit
 * of a big file (a log appended to, a database page rewritten) uploads only the chunks it touched.
 * An insertion near the start of a big file still shifts every later chunk: content-defined
 * chunking would fix that and is not done. Files up to this size are one blob named by their hash.
 */
export const defaultChunkBytes = 4 * 1024 * 1024;

/** Permission bits kept in a manifest; setuid, setgid and sticky bits are never restored. */
export const modeMask = 0o777;

export interface FileEntry {
  readonly path: string;
  readonly type: 'file';
  readonly size: number;
  readonly mode: number;
  /** SHA-256 of the whole file. */
  readonly sha256: string;
  /** The file's chunk blobs in order; present exactly when `size > chunkBytes`. */
  readonly chunks?: readonly string[];
}

export interface SymlinkEntry {
  readonly path: string;
  readonly type: 'symlink';
  /** Stored as read; restore writes it as a link and never follows it. */
  readonly target: string;
}

/** Every directory is listed (not only empty ones) so that its mode survives a restore. */
export interface DirEntry {
  readonly path: string;
  readonly type: 'dir';
  readonly mode: number;
}

export type ManifestEntry = FileEntry | SymlinkEntry | DirEntry;

export interface Manifest {
  readonly version: typeof manifestVersion;
  readonly chunkBytes: number;
  /** Sorted by path, unique. Paths are relative to the root, with `/` separators. */
  readonly entries: readonly ManifestEntry[];
}

export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The blobs holding a file's bytes, in order. */
export function blobHashesOf(entry: FileEntry): readonly string[] {
  return entry.chunks ?? [entry.sha256];
}

/** The entry with its keys in canonical order (and nothing else). */
function canonicalEntry(entry: ManifestEntry): ManifestEntry {
  switch (entry.type) {
    case 'file': {
      const { path, size, mode, sha256, chunks } = entry;
      return chunks === undefined
        ? { path, type: 'file', size, mode, sha256 }
        : { path, type: 'file', size, mode, sha256, chunks: [...chunks] };
    }
    case 'symlink':
      return { path: entry.path, type: 'symlink', target: entry.target };
    case 'dir':
      return { path: entry.path, type: 'dir', mode: entry.mode };
  }
}

/** A manifest in canonical form from entries in any order. */
export function createManifest(
  entries: readonly ManifestEntry[],
  chunkBytes = defaultChunkBytes,
): Manifest {
  const sorted = entries.map(canonicalEntry).sort((a, b) => comparePaths(a.path, b.path));
  return { version: manifestVersion, chunkBytes, entries: sorted };
}

/** The manifest's canonical bytes; `manifest` must be canonical (see createManifest). */
export function serializeManifest(manifest: Manifest): Uint8Array {
  const { version, chunkBytes, entries } = manifest;
  return new TextEncoder().encode(JSON.stringify({ version, chunkBytes, entries }));
}

/** The bytes and the hash that names the snapshot. */
export function encodeManifest(manifest: Manifest): { bytes: Uint8Array; hash: string } {
  const bytes = serializeManifest(manifest);
  return { bytes, hash: sha256Hex(bytes) };
}

export interface ManifestTotals {
  /** Regular files. */
  files: number;
  /** Bytes in regular files. */
  bytes: number;
}

export function manifestTotals(manifest: Manifest): ManifestTotals {
  let files = 0;
  let bytes = 0;
  for (const entry of manifest.entries) {
    if (entry.type !== 'file') continue;
    files += 1;
    bytes += entry.size;
  }
  return { files, bytes };
}
