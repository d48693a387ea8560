import { comparePaths, type Manifest, type ManifestEntry } from './manifest.ts';

export interface PathChange {
  readonly path: string;
  /** The entry in the first manifest (absent when added). */
  readonly before?: ManifestEntry;
  /** The entry in the second manifest (absent when removed). */
  readonly after?: ManifestEntry;
  /** Bytes of a regular file; 0 for a directory, a symlink or an absent side. */
  readonly sizeBefore: number;
  readonly sizeAfter: number;
}

export interface ManifestDiff {
  readonly added: PathChange[];
  readonly removed: PathChange[];
  /** Same path, different type, content, mode or symlink target. */
  readonly changed: PathChange[];
}

function sizeOf(entry: ManifestEntry | undefined): number {
  return entry?.type === 'file' ? entry.size : 0;
}

export function sameEntry(a: ManifestEntry, b: ManifestEntry): boolean {
  switch (a.type) {
    case 'file':
      return b.type === 'file' && a.sha256 === b.sha256 && a.size === b.size && a.mode === b.mode;
    case 'symlink':
      return b.type === 'symlink' && a.target === b.target;
    case 'dir':
      return b.type === 'dir' && a.mode === b.mode;
  }
}

function change(before: ManifestEntry | undefined, after: ManifestEntry | undefined): PathChange {
  const path = (before ?? after)?.path ?? '';
  return { path, before, after, sizeBefore: sizeOf(before), sizeAfter: sizeOf(after) };
}

/**
 * What changed from manifest `a` to manifest `b`, path by path, in path order. Both manifests are
 * sorted, so this is one merge walk and reads no blob. For the text of a change, see unifiedDiff.
 */
export function diffManifests(a: Manifest, b: Manifest): ManifestDiff {
  const diff: ManifestDiff = { added: [], removed: [], changed: [] };
  let i = 0;
  let j = 0;
  while (i < a.entries.length || j < b.entries.length) {
    const left = a.entries[i];
    const right = b.entries[j];
    const order =
      left === undefined ? 1 : right === undefined ? -1 : comparePaths(left.path, right.path);
    if (order < 0) {
      diff.removed.push(change(left, undefined));
      i += 1;
    } else if (order > 0) {
      diff.added.push(change(undefined, right));
      j += 1;
    } else {
      if (left !== undefined && right !== undefined && !sameEntry(left, right)) {
        diff.changed.push(change(left, right));
      }
      i += 1;
      j += 1;
    }
  }
  return diff;
}

/** Paths added, removed or changed: the `changed` figure of a workspace.snapshotted event. */
export function countChanges(diff: ManifestDiff): number {
  return diff.added.length + diff.removed.length + diff.changed.length;
}
