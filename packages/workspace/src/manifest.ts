import { sha256Hex } from './hashing.ts';

/**
 * A workspace snapshot is one manifest: a canonical JSON document listing every regular file,
 * symlink and directory under the workspace root. The manifest is itself a blob, and its hash
 * names the snapshot. Canonical means the same tree always serializes to the same bytes: entries
 * sorted by path (UTF-16 code unit order, as JS compares strings), keys in a fixed order, no
 * whitespace. So an unchanged workspace re-snapshots to the same hash, and a fork is a copy of it.
 */
export const manifestVersion = 2;

/**
 * Version 1 (read, never written): files over `chunkBytes` (4 MiB) were fixed-size chunks, listed
 * as bare hashes. Version 2: files are content-defined chunks (content-defined-chunking.ts), each
 * listed with its size, so a chunk's place in the file does not depend on a global chunk size.
 */
export const fixedChunkManifestVersion = 1;

/**
 * Version 3 (manifest-delta.ts): a manifest stored as its differences from another, its base.
 * Read into the same `Manifest` as a version 2 one; never the form a snapshot is compared in.
 */
export const deltaManifestVersion = 3;

/** Permission bits kept in a manifest; setuid, setgid and sticky bits are never restored. */
export const modeMask = 0o777;

export interface FileEntry {
  readonly path: string;
  readonly type: 'file';
  readonly size: number;
  readonly mode: number;
  /** SHA-256 of the whole file; also its one blob's name when it has no `chunks`. */
  readonly sha256: string;
  /**
   * The file's chunk blobs in order, whose sizes add up to `size`; present exactly when the file
   * is more than one chunk. Serialized as `[sha256, size]` pairs (a manifest has many).
   */
  readonly chunks?: readonly ChunkRef[];
}

/** One chunk of a file: a blob named by the SHA-256 of its bytes. */
export interface ChunkRef {
  readonly sha256: string;
  readonly size: number;
  /**
   * The chunk's bytes when they are kept in the manifest instead of as a blob: a small piece
   * appended to a file's last chunk, in a delta manifest (manifest-delta.ts). Readers use these
   * bytes; the blob store may not hold them.
   */
  readonly inline?: Uint8Array;
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
  /** Sorted by path, unique. Paths are relative to the root, with `/` separators. */
  readonly entries: readonly ManifestEntry[];
}

export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The hashes of a file's chunks in order (its one blob's when it has no `chunks`). */
export function blobHashesOf(entry: Pick<FileEntry, 'sha256' | 'chunks'>): readonly string[] {
  return entry.chunks?.map((chunk) => chunk.sha256) ?? [entry.sha256];
}

/** The hashes of the blobs a file needs in the blob store: its chunks not kept inline. */
export function storedBlobHashesOf(entry: Pick<FileEntry, 'sha256' | 'chunks'>): string[] {
  if (entry.chunks === undefined) return [entry.sha256];
  return entry.chunks.flatMap((chunk) => (chunk.inline === undefined ? [chunk.sha256] : []));
}

/** A file's chunks in order, each a blob to fetch or bytes kept inline; one blob when whole. */
export function chunksOfFile(
  entry: Pick<FileEntry, 'sha256' | 'size' | 'chunks'>,
): readonly ChunkRef[] {
  return entry.chunks ?? [{ sha256: entry.sha256, size: entry.size }];
}

function canonicalChunk(chunk: ChunkRef): ChunkRef {
  const { sha256, size, inline } = chunk;
  return inline === undefined ? { sha256, size } : { sha256, size, inline };
}

/** The entry with its keys in canonical order (and nothing else). */
function canonicalEntry(entry: ManifestEntry): ManifestEntry {
  switch (entry.type) {
    case 'file': {
      const { path, size, mode, sha256, chunks } = entry;
      return chunks === undefined
        ? { path, type: 'file', size, mode, sha256 }
        : { path, type: 'file', size, mode, sha256, chunks: chunks.map(canonicalChunk) };
    }
    case 'symlink':
      return { path: entry.path, type: 'symlink', target: entry.target };
    case 'dir':
      return { path: entry.path, type: 'dir', mode: entry.mode };
  }
}

/** A manifest in canonical form from entries in any order. */
export function createManifest(entries: readonly ManifestEntry[]): Manifest {
  const sorted = entries.map(canonicalEntry).sort((a, b) => comparePaths(a.path, b.path));
  return { version: manifestVersion, entries: sorted };
}

/** The manifest's canonical bytes; `manifest` must be canonical (see createManifest). */
export function serializeManifest(manifest: Manifest): Uint8Array {
  const { version, entries } = manifest;
  const compact = entries.map((entry) =>
    entry.type === 'file' && entry.chunks !== undefined
      ? { ...entry, chunks: entry.chunks.map((chunk) => [chunk.sha256, chunk.size]) }
      : entry,
  );
  return new TextEncoder().encode(JSON.stringify({ version, entries: compact }));
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
