import { isBlobHash } from '@longrun/core';
import { sha256Hex } from './hashing.ts';
import {
  comparePaths,
  deltaManifestVersion,
  manifestVersion,
  serializeManifest,
  chunksOfFile,
  type ChunkRef,
  type Manifest,
  type ManifestEntry,
} from './manifest.ts';
import {
  checkEntry,
  checkTree,
  isCount,
  readSizedChunks,
  unusable,
  type ChunkListReader,
} from './parse-manifest.ts';

/**
 * A snapshot's manifest stored as its differences from the session's previous one (its base):
 * `{"version":3,"base":<hash>,"entries":[...],"removed":[...]}` lists the entries added or changed
 * (in version 2's form) and the paths removed. A changed file's `chunks` may start with a count
 * `k` standing for the first `k` chunks of the base's entry at that path, so a file appended to
 * lists only its new chunks. An agent appending to one file used to store its whole chunk list,
 * ten hashes and more, at every step; a delta stores the one or two that changed.
 *
 * A delta names its base by hash, so reading it verifies the whole chain, and a base is stored
 * before any delta against it (a crash between leaves the base readable). Chains are at most
 * `maxDeltaDepth` long, so that a restore reads a bounded number of manifests: the snapshot after
 * the longest chain stores its manifest whole again (version 2), as does one whose delta would not
 * be smaller. An unchanged tree keeps its previous hash (`unchanged`).
 */
export const maxDeltaDepth = 16;

/**
 * How many deltas lie between a manifest read or written in this process and a whole one. A
 * manifest this module has not seen (made by a caller) is not used as a base.
 */
const depths = new WeakMap<Manifest, number>();

export function chainDepthOf(manifest: Manifest): number | undefined {
  return depths.get(manifest);
}

export function noteChainDepth(manifest: Manifest, depth: number): Manifest {
  depths.set(manifest, depth);
  return manifest;
}

export interface StoredManifest {
  /** Names the snapshot. */
  hash: string;
  /** Deltas down to a whole manifest. */
  depth: number;
  /** What to store under `hash`; null when the tree is the base's, whose hash names it too. */
  bytes: Uint8Array | null;
  /** Inline chunks a whole manifest lists by hash: to be stored as blobs before it. */
  blobs: { hash: string; bytes: Uint8Array }[];
}

/** How to store `manifest` given the session's previous snapshot, if it may serve as a base. */
export function storedManifest(
  manifest: Manifest,
  base: { manifestHash: string; manifest: Manifest } | undefined,
): StoredManifest {
  const whole = serializeManifest(manifest);
  const wholeForm = () => ({
    hash: sha256Hex(whole),
    depth: 0,
    bytes: whole,
    blobs: inlineChunks(manifest),
  });
  const baseDepth = base === undefined ? undefined : chainDepthOf(base.manifest);
  if (base === undefined || baseDepth === undefined) return wholeForm();
  const delta = deltaOf(base.manifest, manifest);
  if (delta.entries.length === 0 && delta.removed.length === 0)
    return { hash: base.manifestHash, depth: baseDepth, bytes: null, blobs: [] };
  if (baseDepth >= maxDeltaDepth) return wholeForm();
  const bytes = serializeDelta(base.manifestHash, delta);
  if (bytes.byteLength >= whole.byteLength) return wholeForm();
  return { hash: sha256Hex(bytes), depth: baseDepth + 1, bytes, blobs: [] };
}

function inlineChunks(manifest: Manifest): StoredManifest['blobs'] {
  return manifest.entries.flatMap((entry) =>
    entry.type === 'file'
      ? (entry.chunks ?? []).flatMap(({ sha256, inline }) =>
          inline === undefined ? [] : [{ hash: sha256, bytes: inline }],
        )
      : [],
  );
}

interface Delta {
  /** Added or changed entries, each as stored (a file's chunks maybe starting with a count). */
  entries: unknown[];
  removed: string[];
}

function deltaOf(base: Manifest, next: Manifest): Delta {
  const before = new Map(base.entries.map((entry) => [entry.path, entry]));
  const entries: unknown[] = [];
  for (const entry of next.entries) {
    const old = before.get(entry.path);
    before.delete(entry.path);
    if (old !== undefined && sameEntry(old, entry)) continue;
    entries.push(storedEntry(entry, old));
  }
  return { entries, removed: [...before.keys()] };
}

/** Equal but for where their chunks' bytes are kept. */
function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  switch (a.type) {
    case 'dir':
      return b.type === 'dir' && a.mode === b.mode;
    case 'symlink':
      return b.type === 'symlink' && a.target === b.target;
    case 'file':
      return (
        b.type === 'file' &&
        a.size === b.size &&
        a.mode === b.mode &&
        a.sha256 === b.sha256 &&
        (a.chunks?.length ?? 0) === (b.chunks?.length ?? 0) &&
        sharedChunks(a.chunks ?? [], b.chunks ?? []) === (a.chunks?.length ?? 0)
      );
  }
}

/**
 * Version 2's form of `entry`, but its chunks after those it shares with `old` replaced by a
 * count, and a chunk kept inline as its bytes in base64.
 */
function storedEntry(entry: ManifestEntry, old: ManifestEntry | undefined): unknown {
  if (entry.type !== 'file' || entry.chunks === undefined) return entry;
  const chunks: unknown[] = entry.chunks.map((chunk) =>
    chunk.inline === undefined
      ? [chunk.sha256, chunk.size]
      : Buffer.from(chunk.inline.buffer, chunk.inline.byteOffset, chunk.size).toString('base64'),
  );
  const shared = old?.type === 'file' ? sharedChunks(chunksOfFile(old), entry.chunks) : 0;
  return { ...entry, chunks: shared === 0 ? chunks : [shared, ...chunks.slice(shared)] };
}

function sharedChunks(a: readonly ChunkRef[], b: readonly ChunkRef[]): number {
  let n = 0;
  while (n < a.length && n < b.length && a[n]?.sha256 === b[n]?.sha256 && a[n]?.size === b[n]?.size)
    n += 1;
  return n;
}

function serializeDelta(baseHash: string, delta: Delta): Uint8Array {
  const document = {
    version: deltaManifestVersion,
    base: baseHash,
    entries: delta.entries,
    ...(delta.removed.length === 0 ? {} : { removed: delta.removed }),
  };
  return new TextEncoder().encode(JSON.stringify(document));
}

/** A version 3 document's base hash; throws WORKSPACE_CORRUPT when it has none. */
export function baseOf(document: Record<string, unknown>, manifestHash: string): string {
  const { base } = document;
  if (!isBlobHash(base)) throw unusable(manifestHash, 'it is a delta with no base manifest hash');
  return base;
}

/** `base` with the delta stored under `manifestHash` applied, checked as a whole manifest is. */
export function applyDelta(
  base: Manifest,
  document: Record<string, unknown>,
  manifestHash: string,
): Manifest {
  const { entries, removed = [] } = document;
  if (!Array.isArray(entries)) throw unusable(manifestHash, 'its entries are not a list');
  if (!Array.isArray(removed)) throw unusable(manifestHash, 'its removed paths are not a list');
  const tree = new Map(base.entries.map((entry) => [entry.path, entry]));
  for (const path of removed as unknown[]) {
    if (typeof path !== 'string' || !tree.delete(path)) {
      throw unusable(manifestHash, `it removes ${JSON.stringify(path)}, which its base lacks`);
    }
  }
  for (const [index, raw] of entries.entries()) {
    const entry = checkEntry(raw, chunksAfter(tree, raw));
    if (typeof entry === 'string') throw unusable(manifestHash, `entry ${index} ${entry}`);
    tree.set(entry.path, entry);
  }
  const merged = [...tree.values()].sort((a, b) => comparePaths(a.path, b.path));
  checkTree(merged, manifestHash);
  return { version: manifestVersion, entries: merged };
}

/**
 * Reads a delta entry's chunks: a leading count `k` is the base entry's first `k` chunks, a
 * string is a chunk's bytes in base64, the rest `[sha256, size]` pairs as in version 2.
 */
function chunksAfter(tree: Map<string, ManifestEntry>, raw: unknown): ChunkListReader {
  return (chunks, size) => {
    if (!Array.isArray(chunks)) return readSizedChunks(chunks, size);
    let kept: readonly ChunkRef[] = [];
    let listed: unknown[] = chunks;
    if (typeof chunks[0] === 'number') {
      const [shared, ...rest] = chunks as [unknown, ...unknown[]];
      const path = (raw as { path?: unknown }).path;
      const old = typeof path === 'string' ? tree.get(path) : undefined;
      if (old?.type !== 'file' || !isCount(shared) || shared === 0) return null;
      if (shared > chunksOfFile(old).length) return null;
      kept = chunksOfFile(old).slice(0, shared);
      listed = rest;
    }
    const inline = new Map<number, ChunkRef>();
    const pairs = listed.map((chunk, index) => {
      if (typeof chunk !== 'string') return chunk;
      const bytes = new Uint8Array(Buffer.from(chunk, 'base64'));
      const ref = { sha256: sha256Hex(bytes), size: bytes.byteLength, inline: bytes };
      inline.set(index, ref);
      return [ref.sha256, ref.size];
    });
    const all = readSizedChunks([...kept.map((c) => [c.sha256, c.size]), ...pairs], size);
    if (!all) return all;
    return all.map((chunk, index) =>
      index < kept.length ? (kept[index] as ChunkRef) : (inline.get(index - kept.length) ?? chunk),
    );
  };
}
