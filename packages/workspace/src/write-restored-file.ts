import { createHash } from 'node:crypto';
import type { BlobStore } from '@longrun/core';
import { corruptBlob, fetchVerifiedBlob } from './fetch-verified-blob.ts';
import { chunksOfFile, type FileEntry, type SymlinkEntry } from './manifest.ts';
import { parentOf } from './manifest-paths.ts';
import type { RestoreTree } from './restore-tree.ts';

export interface FetchCounts {
  blobs: number;
  bytes: number;
}

/**
 * Writes one file from its verified blobs under a temporary name beside it, then renames it into
 * place (the accessor's createFile): an interrupted restore leaves at most a temporary file, never
 * a half-written file under the real name. Every chunk and the whole file are checked against the
 * manifest before the rename. A chunk of zeros is left a hole: a sparse file snapshotted (within
 * the workspace's cap) comes back sparse, not as gigabytes of zeros that would no longer fit the
 * cap's disk quota, nor its memory (the capped workspace is a tmpfs).
 */
export async function writeRestoredFile(
  tree: RestoreTree,
  entry: FileEntry,
  blobs: BlobStore,
  manifestHash: string,
): Promise<FetchCounts> {
  await tree.ensureDir(parentOf(entry.path));
  const writer = await tree.files.createFile(entry.path, entry.mode);
  const context = { path: entry.path, manifestHash };
  const counts: FetchCounts = { blobs: 0, bytes: 0 };
  try {
    const whole = createHash('sha256');
    for (const chunk of chunksOfFile(entry)) {
      const bytes = chunk.inline ?? (await fetchVerifiedBlob(blobs, chunk.sha256, context));
      whole.update(bytes);
      if (isAllZeros(bytes)) await writer.skip(bytes.byteLength);
      else await writer.write(bytes);
      if (chunk.inline === undefined) counts.blobs += 1;
      counts.bytes += bytes.byteLength;
    }
    const actual = whole.digest('hex');
    if (actual !== entry.sha256 || counts.bytes !== entry.size) {
      throw corruptBlob(
        blobs,
        entry.sha256,
        context,
        `does not add up (${counts.bytes} bytes hashing to ${actual}) in`,
      );
    }
  } catch (error) {
    await writer.abort();
    throw error;
  }
  await writer.commit();
  return counts;
}

const zeros = new Uint8Array(64 * 1024);

/** True for bytes that are all zero (and for none): compared a slice at a time, in native code. */
function isAllZeros(bytes: Uint8Array): boolean {
  for (let offset = 0; offset < bytes.byteLength; offset += zeros.byteLength) {
    const slice = bytes.subarray(offset, offset + zeros.byteLength);
    if (Buffer.compare(slice, zeros.subarray(0, slice.byteLength)) !== 0) return false;
  }
  return true;
}

/** Creates a symlink (never following it) under a temporary name, then renames it into place. */
export async function writeRestoredSymlink(tree: RestoreTree, entry: SymlinkEntry): Promise<void> {
  await tree.ensureDir(parentOf(entry.path));
  await tree.files.symlink(entry.path, entry.target);
}
