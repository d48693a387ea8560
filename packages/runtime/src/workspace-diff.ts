import {
  LongrunError,
  type BlobStore,
  type SessionId,
  type SessionStore,
  type WorkspaceStateRef,
  workspaceStatesOf,
} from '@longrun/core';
import type { PathChange } from '@longrun/workspace';

/** Loaded on first use: a worker process never pays for the workspace library (and its diff). */
const workspaceLib = () => import('@longrun/workspace');

export type SnapshotRef = WorkspaceStateRef;

export interface WorkspaceChange {
  path: string;
  change: 'added' | 'removed' | 'changed';
  sizeBefore: number;
  sizeAfter: number;
  /** A unified diff, when asked for and the file is small text; else null with the reason. */
  patch: string | null;
  noPatchReason: string | null;
}

export interface WorkspaceDiff {
  /** Null: an empty workspace, before the first snapshot. */
  from: SnapshotRef | null;
  to: SnapshotRef;
  changes: WorkspaceChange[];
}

export interface WorkspaceDiffOptions {
  /** The older side: the last snapshot at or before this seq (default: the one before `to`). */
  fromSeq?: number;
  /** The newer side: the last snapshot at or before this seq (default: the latest). */
  toSeq?: number;
  /** Add a unified diff of each small text file. */
  patches?: boolean;
  /** Where the manifests are. Default: the session store's own blob table. */
  blobs?: BlobStore;
}

const lastAtOrBefore = <T extends { ref: SnapshotRef }>(list: T[], seq: number) =>
  list.findLast((s) => s.ref.seq <= seq);

/**
 * What changed in a session's workspace between two of its snapshots (DESIGN §6: any two can be
 * diffed), read from the blob store with every blob verified.
 */
export async function sessionWorkspaceDiff(
  store: SessionStore,
  id: SessionId,
  options: WorkspaceDiffOptions = {},
): Promise<WorkspaceDiff> {
  const blobs = options.blobs ?? store.blobs;
  const snapshots = workspaceStatesOf(await store.readEvents(id, 0, 1_000_000));
  const to = lastAtOrBefore(snapshots, options.toSeq ?? Number.MAX_SAFE_INTEGER);
  if (to === undefined) {
    throw new LongrunError(
      'NOT_FOUND',
      `session ${id} has no workspace snapshot${options.toSeq === undefined ? '' : ` at or before seq ${options.toSeq}`}: its tools changed no file yet`,
    );
  }
  const from =
    (options.fromSeq === undefined
      ? snapshots[snapshots.indexOf(to) - 1]
      : lastAtOrBefore(snapshots, options.fromSeq)) ?? null;
  const { createManifest, diffManifests, loadWorkspaceState } = await workspaceLib();
  const before =
    from === null ? createManifest([]) : (await loadWorkspaceState(blobs, from.state)).manifest;
  const diff = diffManifests(before, (await loadWorkspaceState(blobs, to.state)).manifest);
  const tagged = [
    ...diff.added.map((c) => ['added', c] as const),
    ...diff.removed.map((c) => ['removed', c] as const),
    ...diff.changed.map((c) => ['changed', c] as const),
  ].sort((a, b) => (a[1].path < b[1].path ? -1 : 1));
  const changes: WorkspaceChange[] = [];
  for (const [change, c] of tagged) changes.push(await describe(change, c, blobs, to.ref, options));
  return { from: from?.ref ?? null, to: to.ref, changes };
}

async function describe(
  change: WorkspaceChange['change'],
  c: PathChange,
  blobs: BlobStore,
  to: SnapshotRef,
  options: WorkspaceDiffOptions,
): Promise<WorkspaceChange> {
  const base = { path: c.path, change, sizeBefore: c.sizeBefore, sizeAfter: c.sizeAfter };
  if (options.patches !== true) return { ...base, patch: null, noPatchReason: 'not asked for' };
  const { unifiedDiff } = await workspaceLib();
  const result = await unifiedDiff(c, { blobs, manifestHash: to.manifestHash });
  return result.patch === null
    ? { ...base, patch: null, noPatchReason: result.reason }
    : { ...base, patch: result.patch, noPatchReason: null };
}
