import { createHash } from 'node:crypto';
import { constants, type BigIntStats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { sha256Hex } from './hashing.ts';
import { isMissing } from './scan-workspace.ts';

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
 * Reads a regular file exactly once, hashing the whole file and each chunk, and hands every chunk
 * to `onBlob`. Opens with O_NOFOLLOW (a file swapped for a symlink is not followed out of the
 * workspace) and O_NONBLOCK (a file swapped for a fifo does not hang the worker). Returns null when
 * the path is gone or no longer a regular file.
 */
export async function hashFile(
  absolutePath: string,
  chunkBytes: number,
  onBlob?: BlobSink,
): Promise<HashedFile | null> {
  const handle = await openRegular(absolutePath);
  if (handle === null) return null;
  try {
    const stat = await handle.stat({ bigint: true });
    if (!stat.isFile()) return null;
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

async function openRegular(absolutePath: string): Promise<FileHandle | null> {
  try {
    return await open(
      absolutePath,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK,
    );
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (isMissing(error) || code === 'ELOOP') return null;
    throw error;
  }
}

/**
 * Calls `onChunk` with consecutive chunks of at most `chunkBytes` (every one full but the last, and
 * exactly one, possibly empty, for a file of at most one chunk). Returns the bytes read.
 */
async function readChunks(
  handle: FileHandle,
  sizeHint: number,
  chunkBytes: number,
  onChunk: (bytes: Uint8Array) => Promise<void>,
): Promise<number> {
  if (sizeHint <= chunkBytes) {
    // One read to EOF, which also covers a file that grew since it was stat'ed.
    const data = await handle.readFile();
    let offset = 0;
    do {
      await onChunk(data.subarray(offset, offset + chunkBytes));
      offset += chunkBytes;
    } while (offset < data.length);
    return data.length;
  }
  let position = 0;
  for (;;) {
    const buffer = Buffer.allocUnsafe(chunkBytes);
    const filled = await readFull(handle, buffer, position);
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
