import { isLongrunError } from '@longrun/core';
import { mapBounded } from './bounded-concurrency.ts';
import { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { hashWholeFile } from './hash-file.ts';
import {
  comparePaths,
  modeMask,
  type FileEntry,
  type Manifest,
  type ManifestEntry,
} from './manifest.ts';
import { scanWorkspace, specialKind, type ScannedEntry } from './scan-workspace.ts';
import { workspaceRoot } from './workspace-root.ts';

export type DifferenceKind = 'missing' | 'extra' | 'type' | 'size' | 'content' | 'mode' | 'target';

export interface WorkspaceDifference {
  readonly path: string;
  readonly kind: DifferenceKind;
  /** What was expected and what was found, for a person to read. */
  readonly detail: string;
}

/**
 * Every way the directory differs from the manifest, in path order; empty when it is exactly the
 * snapshot. Reads and hashes every file of the snapshot's size (no cache: this is the check that a
 * restore worked, so it trusts nothing but the bytes); a file of another size is not read, so a
 * sparse file made gigabytes long costs nothing to tell apart.
 */
export async function verifyWorkspace(
  dir: string,
  manifest: Manifest,
  options: { concurrency?: number } = {},
): Promise<WorkspaceDifference[]> {
  const files = new ConfinedWorkspaceFiles(await workspaceRoot(dir));
  const { entries } = await scanWorkspace(files);
  const found = new Map(entries.map((entry) => [entry.path, entry]));
  const wanted = new Set(manifest.entries.map((entry) => entry.path));
  const checks = await mapBounded(manifest.entries, options.concurrency ?? 4, (entry) =>
    compareEntry(files, entry, found.get(entry.path)),
  );
  const differences = checks.flat();
  for (const entry of entries) {
    if (wanted.has(entry.path)) continue;
    const what = entry.type === 'special' ? specialKind(entry.stat) : `a ${entry.type}`;
    differences.push({
      path: entry.path,
      kind: 'extra',
      detail: `${what} that the snapshot does not have`,
    });
  }
  return differences.sort((a, b) => comparePaths(a.path, b.path));
}

async function compareEntry(
  files: ConfinedWorkspaceFiles,
  want: ManifestEntry,
  have: ScannedEntry | undefined,
): Promise<WorkspaceDifference[]> {
  const { path } = want;
  if (have === undefined) return [{ path, kind: 'missing', detail: `the ${want.type} is absent` }];
  if (have.type !== want.type) {
    return [{ path, kind: 'type', detail: `expected a ${want.type}, found a ${have.type}` }];
  }
  const out: WorkspaceDifference[] = [];
  const mode = Number(have.stat.mode) & modeMask;
  switch (want.type) {
    case 'symlink': {
      const target = files.readLink(path);
      if (target !== want.target) {
        out.push({
          path,
          kind: 'target',
          detail: `expected -> ${want.target}, found -> ${target}`,
        });
      }
      break;
    }
    case 'dir':
      if (mode !== want.mode) out.push(modeDifference(path, want.mode, mode));
      break;
    case 'file':
      if (mode !== want.mode) out.push(modeDifference(path, want.mode, mode));
      out.push(...(await compareFileBytes(files, want, have)));
      break;
  }
  return out;
}

async function compareFileBytes(
  files: ConfinedWorkspaceFiles,
  want: FileEntry,
  have: ScannedEntry,
): Promise<WorkspaceDifference[]> {
  const { path } = want;
  const sizeDifference = (found: string): WorkspaceDifference[] => [
    { path, kind: 'size', detail: `expected ${want.size} bytes, found ${found}` },
  ];
  if (have.stat.size !== BigInt(want.size)) return sizeDifference(String(have.stat.size));
  let hashed: { sha256: string; size: number } | null;
  try {
    hashed = await hashWholeFile(files, path, want.size);
  } catch (error) {
    if (isLongrunError(error, 'FILE_TOO_LARGE')) return sizeDifference('more, as it grew');
    throw error;
  }
  if (hashed === null)
    return [{ path, kind: 'missing', detail: 'the file vanished during the check' }];
  if (hashed.size !== want.size) return sizeDifference(String(hashed.size));
  if (hashed.sha256 === want.sha256) return [];
  return [
    { path, kind: 'content', detail: `expected sha256 ${want.sha256}, found ${hashed.sha256}` },
  ];
}

function modeDifference(path: string, expected: number, found: number): WorkspaceDifference {
  const octal = (mode: number) => `0${mode.toString(8)}`;
  return { path, kind: 'mode', detail: `expected mode ${octal(expected)}, found ${octal(found)}` };
}
