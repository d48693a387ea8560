import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { isLongrunError } from '@longrun/core';
import type { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { sha256Hex } from './hashing.ts';

export interface HashedFile {
  /** SHA-256 of the bytes read. */
  readonly sha256: string;
  /** Chunk blob hashes, when the file was larger than one chunk. */
  readonly chunks?: readonly string[];
  /** Bytes read (the file's size as it was read, which a concurrent writer may have changed). */
  readonly size: number;
  /** fstat of the open file, taken before reading. */
  readonly stat: BigIntStats;
}

export type BlobSink = (hash: string, bytes: Uint8Array) => Promise<void>;

/**
 * Reads a regular file of the workspace exactly once, hashing the whole file and each chunk, and
 * hands every chunk to `onBlob`. Opened through the accessor: a file swapped for a link, a FIFO
 * or a device since the scan is not opened. Returns null when the path is gone or no longer a
 * regular file (as if it had never been there).
 */
export async function hashFile(
  files: ConfinedWorkspaceFiles,
  path: string,
  chunkBytes: number,
  onBlob?: BlobSink,
): Promise<HashedFile | null> {
  const opened = await openRegularOrNull(files, path);
  if (opened === null) return null;
  const { handle, stat } = opened;
  try {
    const whole = createHash('sha256');
    const chunks: string[] = [];
    const size = await readChunks(handle, Number(stat.size), chunkBytes, async (bytes) => {
      const hash = sha256Hex(bytes);
      chunks.push(hash);
      whole.update(bytes);
      if (onBlob !== undefined) await onBlob(hash, bytes);
    });
    if (chunks.length === 1) return { sha256: chunks[0] as string, size, stat };
    return { sha256: whole.digest('hex'), chunks, size, stat };
  } finally {
    await handle.close();
  }
}

async function openRegularOrNull(
  files: ConfinedWorkspaceFiles,
  path: string,
): Promise<{ handle: FileHandle; stat: BigIntStats } | null> {
  try {
    return await files.openRegular(path);
  } catch (error) {
    const gone =
      isLongrunError(error, 'NOT_FOUND') ||
      isLongrunError(error, 'FILE_TYPE_REFUSED') ||
      isLongrunError(error, 'INVALID_ARGUMENT');
    if (gone) return null;
    throw error;
  }
}

/**
 * Calls `onChunk` with consecutive chunks of at most `chunkBytes` (every one full but the last, and
 * exactly one, possibly empty, for a file of at most one chunk). Returns the bytes read. The chunk
 * is a view of one buffer reused for the whole file, valid until `onChunk` resolves: a file of
 * gigabytes costs one chunk of memory, not a fresh allocation per chunk.
 */
async function readChunks(
  handle: FileHandle,
  sizeHint: number,
  chunkBytes: number,
  onChunk: (bytes: Uint8Array) => Promise<void>,
): Promise<number> {
  if (sizeHint < chunkBytes) {
    // A small file in one read of its size (plus a byte to notice one that grew meanwhile).
    const buffer = Buffer.allocUnsafe(sizeHint + 1);
    const filled = await readFull(handle, buffer, 0);
    if (filled <= sizeHint) {
      await onChunk(buffer.subarray(0, filled));
      return filled;
    }
  }
  let position = 0;
  const buffer = Buffer.allocUnsafe(chunkBytes);
  for (;;) {
    const filled = await readFull(handle, buffer, position);
    // Exactly one chunk (possibly empty) for a file of at most one chunk.
    if (filled === 0 && position > 0) return position;
    await onChunk(buffer.subarray(0, filled));
    position += filled;
    if (filled < chunkBytes) return position;
  }
}

async function readFull(handle: FileHandle, buffer: Buffer, position: number): Promise<number> {
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(
      buffer,
      filled,
      buffer.length - filled,
      position + filled,
    );
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
