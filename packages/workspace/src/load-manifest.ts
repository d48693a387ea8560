import { checkBlobHash, LongrunError, type BlobStore } from '@longrun/core';
import type { Manifest } from './manifest.ts';
import { deltaManifestVersion } from './manifest.ts';
import { applyDelta, baseOf, maxDeltaDepth, noteChainDepth } from './manifest-delta.ts';
import { isRecord, parseManifestDocument, unusable, validateManifest } from './parse-manifest.ts';

/**
 * Fetches a manifest and checks it (its hash, its shape, its paths) before anything uses it. A
 * delta (manifest-delta.ts) is read with its bases, each checked the same way, down to a whole one.
 */
export async function loadManifest(blobs: BlobStore, manifestHash: string): Promise<Manifest> {
  checkBlobHash(manifestHash);
  const deltas: { hash: string; document: Record<string, unknown> }[] = [];
  let hash = manifestHash;
  for (;;) {
    const document = parseManifestDocument(await fetchManifest(blobs, hash, manifestHash), hash);
    if (!isRecord(document) || document.version !== deltaManifestVersion) {
      let manifest = validateManifest(document, hash);
      for (const delta of deltas.toReversed())
        manifest = applyDelta(manifest, delta.document, delta.hash);
      return noteChainDepth(manifest, deltas.length);
    }
    deltas.push({ hash, document });
    if (deltas.length > maxDeltaDepth) {
      throw unusable(manifestHash, `it is a delta more than ${maxDeltaDepth} deep`);
    }
    hash = baseOf(document, hash);
  }
}

async function fetchManifest(
  blobs: BlobStore,
  hash: string,
  snapshotHash: string,
): Promise<Uint8Array> {
  const bytes = await blobs.get(hash);
  if (bytes !== null) return bytes;
  const which =
    hash === snapshotHash
      ? `workspace manifest ${hash}`
      : `workspace manifest ${hash} (the base of ${snapshotHash})`;
  throw new LongrunError(
    'WORKSPACE_CORRUPT',
    `${which} is not in the ${blobs.kind} blob store. Check that this ` +
      'worker uses the same blob store as the worker that took the snapshot; otherwise restore ' +
      'an earlier snapshot of the session or repair the blob store from a backup.',
    { details: { manifestHash: snapshotHash } },
  );
}
