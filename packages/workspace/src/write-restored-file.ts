import { createHash, randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, rm, symlink } from 'node:fs/promises';
import type { BlobStore } from '@longrun/core';
import { corruptBlob, fetchVerifiedBlob } from './fetch-verified-blob.ts';
import { blobHashesOf, type FileEntry, type SymlinkEntry } from './manifest.ts';
import { parentOf } from './manifest-paths.ts';
import type { RestoreTree } from './restore-tree.ts';

/** Prefix of the temporary names restore writes under; a leftover one is an extra file. */
export const restoreTempPrefix = '.longrun-restore-';

export interface FetchCounts {
  blobs: number;
  bytes: number;
}

async function tempPathIn(tree: RestoreTree, path: string): Promise<string> {
  const parent = parentOf(path);
  await tree.ensureDir(parent);
  return `${tree.absolute(parent)}/${restoreTempPrefix}${randomBytes(8).toString('hex')}`;
}

/**
 * Writes one file from its verified blobs into a temporary name beside it, sets its mode, then
 * renames it into place: an interrupted restore leaves at most a `.longrun-restore-*` file, never
 * a half-written file under the real name. Every chunk and the whole file are checked against the
 * manifest before the rename.
 */
export async function writeRestoredFile(
  tree: RestoreTree,
  entry: FileEntry,
  blobs: BlobStore,
  manifestHash: string,
): Promise<FetchCounts> {
  const temp = await tempPathIn(tree, entry.path);
  const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
  const handle = await open(temp, flags, 0o600);
  const context = { path: entry.path, manifestHash };
  const counts: FetchCounts = { blobs: 0, bytes: 0 };
  let closed = false;
  try {
    const whole = createHash('sha256');
    for (const hash of blobHashesOf(entry)) {
      const bytes = await fetchVerifiedBlob(blobs, hash, context);
      whole.update(bytes);
      await handle.writeFile(bytes);
      counts.blobs += 1;
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
    await handle.chmod(entry.mode);
    closed = true;
    await handle.close();
    await rename(temp, tree.absolute(entry.path));
    return counts;
  } catch (error) {
    if (!closed) await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
}

/** Creates a symlink (never following it) under a temporary name, then renames it into place. */
export async function writeRestoredSymlink(tree: RestoreTree, entry: SymlinkEntry): Promise<void> {
  const temp = await tempPathIn(tree, entry.path);
  try {
    await symlink(entry.target, temp);
    await rename(temp, tree.absolute(entry.path));
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}
