import type { BigIntStats } from 'node:fs';
import type { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import type { EntryType } from './confined-fs.ts';
import { comparePaths } from './manifest.ts';

export type ScannedType = EntryType;

export interface ScannedEntry {
  /** Relative to the root, `/`-separated. */
  readonly path: string;
  readonly type: ScannedType;
  readonly stat: BigIntStats;
}

/** Something under the root that a snapshot leaves out, and why. */
export interface SkippedPath {
  readonly path: string;
  readonly reason: string;
}

export interface ScannedTree {
  /** Sorted by path; the root itself is not listed. */
  readonly entries: ScannedEntry[];
  readonly skipped: SkippedPath[];
}

/**
 * Every entry of the workspace, lstat'ed through the accessor (no link followed, directories
 * reached through descriptors, so one swapped for a link mid-scan leads nowhere). Names that are
 * not valid UTF-8 cannot be written into a JSON manifest and are skipped with a note; entries
 * that vanish mid-scan are left out.
 */
export async function scanWorkspace(files: ConfinedWorkspaceFiles): Promise<ScannedTree> {
  const walk = await files.walk('', { recursive: true });
  const entries = walk.entries.sort((a, b) => comparePaths(a.path, b.path));
  const skipped = walk.unnameable.map((path) => ({ path, reason: 'its name is not valid UTF-8' }));
  return { entries, skipped };
}

export function isMissing(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

export function specialKind(stat: BigIntStats): string {
  if (stat.isFIFO()) return 'a fifo';
  if (stat.isSocket()) return 'a socket';
  if (stat.isBlockDevice()) return 'a block device';
  if (stat.isCharacterDevice()) return 'a character device';
  return 'a special file';
}
