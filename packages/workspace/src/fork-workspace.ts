import { checkBlobHash, LongrunError, type BlobStore } from '@longrun/core';

export interface ForkWorkspaceOptions {
  /** The parent session's last snapshot (its latest workspace.snapshotted event). */
  manifestHash: string;
  /** When given, the manifest is checked to exist (one read-only lookup). */
  blobs?: BlobStore;
}

/**
 * Forking a session's workspace copies a manifest hash, not files: snapshots are immutable and
 * content-addressed, so the child session records the parent's manifest hash as its own starting
 * snapshot (its first workspace.snapshotted event, or whatever the runtime uses to seed a restore),
 * and both sessions then diverge by writing new manifests that share every unchanged blob. This
 * writes nothing; it returns the hash to record.
 */
export async function forkWorkspace(options: ForkWorkspaceOptions): Promise<string> {
  const manifestHash = checkBlobHash(options.manifestHash);
  const { blobs } = options;
  if (blobs !== undefined && (await blobs.missing([manifestHash])).length > 0) {
    throw new LongrunError(
      'WORKSPACE_CORRUPT',
      `cannot fork workspace ${manifestHash}: its manifest is not in the ${blobs.kind} blob store; fork from an earlier snapshot or repair the blob store`,
      { details: { manifestHash } },
    );
  }
  return manifestHash;
}
