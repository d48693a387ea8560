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
 * manifest before the rename.
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
      await writer.write(bytes);
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

/** Creates a symlink (never following it) under a temporary name, then renames it into place. */
export async function writeRestoredSymlink(tree: RestoreTree, entry: SymlinkEntry): Promise<void> {
  await tree.ensureDir(parentOf(entry.path));
  await tree.files.symlink(entry.path, entry.target);
}
