import { isBlobHash, LongrunError } from '@longrun/core';
import { sha256Hex } from './hashing.ts';
import {
  comparePaths,
  deltaManifestVersion,
  fixedChunkManifestVersion,
  manifestVersion,
  modeMask,
  type ChunkRef,
  type Manifest,
  type ManifestEntry,
} from './manifest.ts';
import { ancestorsOf, unsafePathReason } from './manifest-paths.ts';

/**
 * A manifest read back from a blob store, checked before anything trusts it: its bytes must hash
 * to the name it was fetched under, and every entry must be well formed and safe to restore.
 * A manifest that fails is WORKSPACE_CORRUPT: it was damaged or not written by longrun.
 */
export function parseManifest(bytes: Uint8Array, manifestHash: string): Manifest {
  return validateManifest(parseManifestDocument(bytes, manifestHash), manifestHash);
}

/** The stored document under `manifestHash`, once its bytes hash to it and are UTF-8 JSON. */
export function parseManifestDocument(bytes: Uint8Array, manifestHash: string): unknown {
  const actual = sha256Hex(bytes);
  if (actual !== manifestHash) {
    throw unusable(manifestHash, `its bytes hash to ${actual}: the stored manifest is corrupt`);
  }
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw unusable(manifestHash, 'it is not UTF-8 JSON', cause);
  }
}

export function unusable(manifestHash: string, why: string, cause?: unknown): LongrunError {
  return new LongrunError(
    'WORKSPACE_CORRUPT',
    `workspace manifest ${manifestHash} cannot be used: ${why}. Restore an earlier snapshot of ` +
      'the session (an earlier workspace.snapshotted event), or repair the blob store from a backup.',
    { cause, details: { manifestHash } },
  );
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isMode(value: unknown): value is number {
  return isCount(value) && (value & ~modeMask) === 0;
}

/**
 * How a version's file entries list their chunks: `raw` is the entry's `chunks` (undefined when it
 * has none); the answer is the chunk list (undefined for a file stored whole), or null if malformed.
 */
export type ChunkListReader = (raw: unknown, size: number) => ChunkRef[] | undefined | null;

/**
 * Checks the document's shape and safety; returns a fresh manifest holding only known keys, in
 * this version's form (a version 1 manifest's fixed-size chunks get their sizes).
 */
export function validateManifest(document: unknown, manifestHash: string): Manifest {
  if (!isRecord(document)) throw unusable(manifestHash, 'it is not a JSON object');
  const readChunks = chunkListReader(document, manifestHash);
  const { entries } = document;
  if (!Array.isArray(entries)) throw unusable(manifestHash, 'its entries are not a list');
  const checked = entries.map((raw: unknown, index) => {
    const entry = checkEntry(raw, readChunks);
    if (typeof entry === 'string') throw unusable(manifestHash, `entry ${index} ${entry}`);
    return entry;
  });
  checkTree(checked, manifestHash);
  return { version: manifestVersion, entries: checked };
}

/**
 * Checks that well-formed entries make a tree that is safe to restore: sorted by path, unique, and
 * nothing under a file or symlink.
 */
export function checkTree(entries: readonly ManifestEntry[], manifestHash: string): void {
  const nonDirectories = new Set<string>();
  for (const [index, entry] of entries.entries()) {
    const previous = entries[index - 1];
    if (previous !== undefined && comparePaths(previous.path, entry.path) >= 0) {
      throw unusable(
        manifestHash,
        `entry ${index} (${JSON.stringify(entry.path)}) is out of order or repeated`,
      );
    }
    const blocked = ancestorsOf(entry.path).find((ancestor) => nonDirectories.has(ancestor));
    if (blocked !== undefined) {
      const why = `lies under ${JSON.stringify(blocked)}, which is a file or symlink: writing it would go through a symlink`;
      throw unusable(manifestHash, `entry ${index} (${JSON.stringify(entry.path)}) ${why}`);
    }
    if (entry.type !== 'dir') nonDirectories.add(entry.path);
  }
}

function chunkListReader(document: Record<string, unknown>, manifestHash: string) {
  const { version } = document;
  if (version === manifestVersion) return readSizedChunks;
  if (version === fixedChunkManifestVersion) {
    const { chunkBytes } = document;
    if (!isCount(chunkBytes) || chunkBytes === 0) {
      throw unusable(manifestHash, 'its chunkBytes is not a positive integer');
    }
    return fixedChunksReader(chunkBytes);
  }
  const newer = typeof version === 'number' && version > deltaManifestVersion;
  throw unusable(
    manifestHash,
    newer
      ? `its version ${version} is newer than this longrun reads (${deltaManifestVersion}): upgrade ` +
          'longrun on this worker to read it'
      : version === deltaManifestVersion
        ? 'it is a delta against another manifest: read it with loadManifest'
        : `its version ${String(version)} is not one longrun writes (${fixedChunkManifestVersion} or ${manifestVersion})`,
  );
}

/** Version 2: `[sha256, size]` pairs, at least two, of non-empty chunks adding up to the file. */
export function readSizedChunks(raw: unknown, size: number): ChunkRef[] | undefined | null {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length < 2) return null;
  const chunks: ChunkRef[] = [];
  let total = 0;
  for (const pair of raw) {
    if (!Array.isArray(pair) || pair.length !== 2) return null;
    const [sha256, chunkSize] = pair as unknown[];
    if (!isBlobHash(sha256) || !isCount(chunkSize) || chunkSize === 0) return null;
    chunks.push({ sha256, size: chunkSize });
    total += chunkSize;
  }
  return total === size ? chunks : null;
}

/** Version 1: bare hashes of `chunkBytes`-sized chunks (the last one shorter). */
function fixedChunksReader(chunkBytes: number): ChunkListReader {
  return (raw, size) => {
    if (size <= chunkBytes) return raw === undefined ? undefined : null;
    const expected = Math.ceil(size / chunkBytes);
    if (!Array.isArray(raw) || raw.length !== expected || !raw.every(isBlobHash)) return null;
    return raw.map((sha256, index) => ({
      sha256,
      size: index < expected - 1 ? chunkBytes : size - chunkBytes * (expected - 1),
    }));
  };
}

/** The entry, or why it is refused. */
export function checkEntry(raw: unknown, readChunks: ChunkListReader): ManifestEntry | string {
  if (!isRecord(raw)) return 'is not an object';
  const { path, type } = raw;
  if (typeof path !== 'string') return 'has no path';
  const unsafe = unsafePathReason(path);
  if (unsafe !== null) return `(${JSON.stringify(path)}) is refused: its path ${unsafe}`;
  const where = `(${JSON.stringify(path)})`;
  switch (type) {
    case 'dir':
      return isMode(raw.mode) ? { path, type, mode: raw.mode } : `${where} has a bad mode`;
    case 'symlink': {
      const { target } = raw;
      const ok = typeof target === 'string' && target.length > 0 && !target.includes('\0');
      return ok ? { path, type, target } : `${where} has a bad symlink target`;
    }
    case 'file':
      return checkFileEntry(raw, path, readChunks) ?? `${where} is not a well-formed file entry`;
    default:
      return `${where} has unknown type ${JSON.stringify(type)}`;
  }
}

function checkFileEntry(
  raw: Record<string, unknown>,
  path: string,
  readChunks: ChunkListReader,
): ManifestEntry | null {
  const { size, mode, sha256 } = raw;
  if (!isCount(size) || !isMode(mode) || !isBlobHash(sha256)) return null;
  const chunks = readChunks(raw.chunks, size);
  if (chunks === null) return null;
  return chunks === undefined
    ? { path, type: 'file', size, mode, sha256 }
    : { path, type: 'file', size, mode, sha256, chunks };
}
