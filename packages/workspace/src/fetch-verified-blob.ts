import { LongrunError, type BlobStore } from '@longrun/core';
import { sha256Hex } from './hashing.ts';

export interface BlobContext {
  /** The workspace path the blob belongs to. */
  readonly path: string;
  readonly manifestHash: string;
}

/**
 * A blob's bytes, verified against its name. A blob that is missing or does not hash to its name
 * is WORKSPACE_CORRUPT naming the file, the blob and what to do; it is never handed on.
 */
export async function fetchVerifiedBlob(
  blobs: BlobStore,
  hash: string,
  context: BlobContext,
): Promise<Uint8Array> {
  const bytes = await blobs.get(hash);
  if (bytes === null) throw corruptBlob(blobs, hash, context, 'is missing from');
  const actual = sha256Hex(bytes);
  if (actual !== hash) {
    throw corruptBlob(blobs, hash, context, `is corrupt (its bytes hash to ${actual}) in`);
  }
  return bytes;
}

export function corruptBlob(
  blobs: BlobStore,
  hash: string,
  context: BlobContext,
  what: string,
): LongrunError {
  return new LongrunError(
    'WORKSPACE_CORRUPT',
    `workspace file ${JSON.stringify(context.path)} cannot be restored from manifest ` +
      `${context.manifestHash}: its blob ${hash} ${what} the ${blobs.kind} blob store. Nothing ` +
      'was written at that path and the workspace is incomplete: restore an earlier snapshot of ' +
      'the session (an earlier workspace.snapshotted event) or repair the blob store from a ' +
      'backup, then restore again.',
    { details: { path: context.path, blobHash: hash, manifestHash: context.manifestHash } },
  );
}
