import { checkBlobHash, LongrunError, type BlobStore } from '@longrun/core';
import type { Manifest } from './manifest.ts';
import { parseManifest } from './parse-manifest.ts';

/** Fetches a manifest and checks it (its hash, its shape, its paths) before anything uses it. */
export async function loadManifest(blobs: BlobStore, manifestHash: string): Promise<Manifest> {
  checkBlobHash(manifestHash);
  const bytes = await blobs.get(manifestHash);
  if (bytes === null) {
    throw new LongrunError(
      'WORKSPACE_CORRUPT',
      `workspace manifest ${manifestHash} is not in the ${blobs.kind} blob store. Check that this ` +
        'worker uses the same blob store as the worker that took the snapshot; otherwise restore ' +
        'an earlier snapshot of the session or repair the blob store from a backup.',
      { details: { manifestHash } },
    );
  }
  return parseManifest(bytes, manifestHash);
}
