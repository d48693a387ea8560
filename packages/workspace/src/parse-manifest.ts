import { isBlobHash, LongrunError } from '@longrun/core';
import { sha256Hex } from './hashing.ts';
import {
  comparePaths,
  manifestVersion,
  modeMask,
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
  const actual = sha256Hex(bytes);
  if (actual !== manifestHash) {
    throw unusable(manifestHash, `its bytes hash to ${actual}: the stored manifest is corrupt`);
  }
  let document: unknown;
  try {
    document = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw unusable(manifestHash, 'it is not UTF-8 JSON', cause);
  }
  return validateManifest(document, manifestHash);
}

function unusable(manifestHash: string, why: string, cause?: unknown): LongrunError {
  return new LongrunError(
    'WORKSPACE_CORRUPT',
    `workspace manifest ${manifestHash} cannot be used: ${why}. Restore an earlier snapshot of ` +
      'the session (an earlier workspace.snapshotted event), or repair the blob store from a backup.',
    { cause, details: { manifestHash } },
  );
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isMode(value: unknown): value is number {
  return isCount(value) && (value & ~modeMask) === 0;
}

/** Checks the document's shape and safety; returns a fresh manifest holding only known keys. */
export function validateManifest(document: unknown, manifestHash: string): Manifest {
  if (!isRecord(document)) throw unusable(manifestHash, 'it is not a JSON object');
  if (document.version !== manifestVersion) {
    throw unusable(
      manifestHash,
      `its version ${String(document.version)} is not ${manifestVersion}`,
    );
  }
  const { chunkBytes, entries } = document;
  if (!isCount(chunkBytes) || chunkBytes === 0) {
    throw unusable(manifestHash, 'its chunkBytes is not a positive integer');
  }
  if (!Array.isArray(entries)) throw unusable(manifestHash, 'its entries are not a list');
  const checked: ManifestEntry[] = [];
  const nonDirectories = new Set<string>();
  for (const [index, raw] of entries.entries()) {
    const entry = checkEntry(raw, chunkBytes);
    if (typeof entry === 'string') throw unusable(manifestHash, `entry ${index} ${entry}`);
    const previous = checked.at(-1);
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
    checked.push(entry);
  }
  return { version: manifestVersion, chunkBytes, entries: checked };
}

/** The entry, or why it is refused. */
function checkEntry(raw: unknown, chunkBytes: number): ManifestEntry | string {
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
      return checkFileEntry(raw, path, chunkBytes) ?? `${where} is not a well-formed file entry`;
    default:
      return `${where} has unknown type ${JSON.stringify(type)}`;
  }
}

function checkFileEntry(
  raw: Record<string, unknown>,
  path: string,
  chunkBytes: number,
): ManifestEntry | null {
  const { size, mode, sha256, chunks } = raw;
  if (!isCount(size) || !isMode(mode) || !isBlobHash(sha256)) return null;
  if (size <= chunkBytes)
    return chunks === undefined ? { path, type: 'file', size, mode, sha256 } : null;
  const expected = Math.ceil(size / chunkBytes);
  if (!Array.isArray(chunks) || chunks.length !== expected || !chunks.every(isBlobHash))
    return null;
  return { path, type: 'file', size, mode, sha256, chunks };
}
