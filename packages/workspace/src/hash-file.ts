import { createHash } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { LongrunError, isLongrunError } from '@longrun/core';
import type { ConfinedWorkspaceFiles } from './confined-workspace-files.ts';
import { nextChunkLength, type ChunkingParameters } from './content-defined-chunking.ts';
import { sha256Hex } from './hashing.ts';
import type { ChunkRef } from './manifest.ts';
import { tailPieces } from './tail-pieces.ts';

export interface HashedFile {
  /** SHA-256 of the bytes read. */
  readonly sha256: string;
  /** Chunk blobs, when the file was more than one chunk. */
  readonly chunks?: readonly ChunkRef[];
  /** Bytes read (the file's size as it was read, which a concurrent writer may have changed). */
  readonly size: number;
  /** fstat of the open file, taken before reading. */
  readonly stat: BigIntStats;
}

export type BlobSink = (hash: string, bytes: Uint8Array) => Promise<void>;

/**
 * A piece of an appended file's last chunk (tail-pieces.ts) at most this long is not a blob of its
 * own: a blob row costs more than a line's bytes, and a delta manifest keeps the piece inline.
 */
export const maxInlinePieceBytes = 1024;

/** Bytes read at once; a chunk never spans more than one buffer of these. */
const minReadBytes = 1024 * 1024;

/**
 * Reads a regular file of the workspace exactly once, cutting it into content-defined chunks,
 * hashing the whole file and each chunk, and hands every chunk to `onBlob` but the small pieces of
 * an appended last chunk, whose bytes the chunk list keeps (`inline`). A file of one chunk
 * (every file up to `chunking.minBytes`) is one blob named by its hash. `previous` is the chunk
 * list of the file's previous version, whose pieces an appended last chunk keeps (tail-pieces.ts).
 * Opened through the accessor: a file swapped for a link, a FIFO or a device since the scan is not
 * opened. Returns null when the path is gone or no longer a regular file (as if never there).
 * A file longer than `maxBytes` (default: no limit) is FILE_TOO_LARGE, found from its fstat or,
 * if it grows meanwhile, once the read passes the limit: at most `maxBytes + 1` bytes are read.
 */
export async function chunkFile(
  files: ConfinedWorkspaceFiles,
  path: string,
  chunking: ChunkingParameters,
  options: { onBlob?: BlobSink; previous?: readonly ChunkRef[]; maxBytes?: number } = {},
): Promise<HashedFile | null> {
  const opened = await openRegularOrNull(files, path);
  if (opened === null) return null;
  const { handle, stat } = opened;
  const { onBlob, previous } = options;
  const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
  try {
    if (stat.size > maxBytes) throw longerThan(path, Number(stat.size), maxBytes);
    const whole = createHash('sha256');
    const chunks: ChunkRef[] = [];
    const onChunk = async (bytes: Uint8Array, offset: number, last: boolean) => {
      whole.update(bytes);
      const pieces = last
        ? tailPieces(bytes, offset, previous)
        : [{ sha256: sha256Hex(bytes), offset: 0, size: bytes.byteLength }];
      for (const piece of pieces) {
        const pieceBytes = bytes.subarray(piece.offset, piece.offset + piece.size);
        if (pieces.length > 1 && piece.size <= maxInlinePieceBytes) {
          // Kept with the manifest, which stores it inline or as a blob (manifest-delta.ts).
          chunks.push({ sha256: piece.sha256, size: piece.size, inline: pieceBytes.slice() });
          continue;
        }
        chunks.push({ sha256: piece.sha256, size: piece.size });
        if (onBlob !== undefined) await onBlob(piece.sha256, pieceBytes);
      }
    };
    const size = await readContentDefinedChunks(handle, Number(stat.size), chunking, onChunk, {
      path,
      maxBytes,
    });
    const [only] = chunks;
    if (chunks.length === 1 && only !== undefined) return { sha256: only.sha256, size, stat };
    return { sha256: whole.digest('hex'), chunks, size, stat };
  } finally {
    await handle.close();
  }
}

/**
 * The SHA-256 and size of a workspace file as it is now (no chunking); null when it is gone;
 * FILE_TOO_LARGE, read no further, past `maxBytes`.
 */
export async function hashWholeFile(
  files: ConfinedWorkspaceFiles,
  path: string,
  maxBytes?: number,
): Promise<{ sha256: string; size: number } | null> {
  const read = await readFileForEdit(files, path, maxBytes === undefined ? {} : { maxBytes });
  return read === null ? null : { sha256: read.sha256, size: read.size };
}

export interface ReadForEdit {
  /** SHA-256 of the whole file as read. */
  readonly sha256: string;
  /** SHA-256 of its first `prefixBytes`, when asked for and the file is at least that long. */
  readonly prefixSha256: string | null;
  readonly size: number;
  /** Its bytes from `keepFrom`, when asked for and it has at most `maxKept` of them from there. */
  readonly kept: Uint8Array | null;
  /** fstat of the open file, taken before reading. */
  readonly stat: BigIntStats;
}

/**
 * Reads a workspace file once to tell how it changed (workspace-edits.ts): its hash, the hash of
 * its first `prefixBytes` (the previous version's length: equal to that version's hash, the file
 * was appended to) and its bytes from `keepFrom` if they are few. Null when it is gone. Longer
 * than `maxBytes` (default: no limit) is FILE_TOO_LARGE, with at most `maxBytes + 1` bytes read.
 */
export async function readFileForEdit(
  files: ConfinedWorkspaceFiles,
  path: string,
  want: { prefixBytes?: number; keepFrom?: number; maxKept?: number; maxBytes?: number },
): Promise<ReadForEdit | null> {
  const opened = await openRegularOrNull(files, path);
  if (opened === null) return null;
  const { handle, stat } = opened;
  const maxBytes = want.maxBytes ?? Number.POSITIVE_INFINITY;
  try {
    if (stat.size > maxBytes) throw longerThan(path, Number(stat.size), maxBytes);
    const whole = createHash('sha256');
    const buffer = Buffer.allocUnsafe(Math.min(minReadBytes, Number(stat.size) + 1));
    const kept: Buffer[] = [];
    let keptBytes = 0;
    // Nothing is kept unless asked for.
    const maxKept = want.keepFrom === undefined ? -1 : (want.maxKept ?? Number.POSITIVE_INFINITY);
    let prefixSha256: string | null = want.prefixBytes === 0 ? whole.copy().digest('hex') : null;
    let size = 0;
    for (;;) {
      const filled = await readFull(handle, buffer, 0, size, readEnd(buffer, 0, size, maxBytes));
      if (size + filled > maxBytes) throw longerThan(path, size + filled, maxBytes);
      const bytes = buffer.subarray(0, filled);
      const cut = (want.prefixBytes ?? -1) - size;
      if (prefixSha256 === null && cut > 0 && cut <= filled) {
        whole.update(bytes.subarray(0, cut));
        prefixSha256 = whole.copy().digest('hex');
        whole.update(bytes.subarray(cut));
      } else whole.update(bytes);
      const from = Math.max(0, (want.keepFrom ?? 0) - size);
      if (from < filled && keptBytes <= maxKept) {
        kept.push(Buffer.from(bytes.subarray(from)));
        keptBytes += filled - from;
      }
      size += filled;
      if (filled < buffer.length) {
        const tail = keptBytes <= maxKept ? Buffer.concat(kept) : null;
        return { sha256: whole.digest('hex'), prefixSha256, size, kept: tail, stat };
      }
    }
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
 * Calls `onChunk` with the file's consecutive content-defined chunks (exactly one, possibly empty,
 * for a file of at most `minBytes`) and returns the bytes read, to the end of the file even if it
 * grew since `sizeHint`. A chunk is a view of one buffer reused for the whole file, valid until
 * `onChunk` resolves: a file of gigabytes costs one buffer of memory, not an allocation per chunk.
 */
async function readContentDefinedChunks(
  handle: FileHandle,
  sizeHint: number,
  chunking: ChunkingParameters,
  onChunk: (bytes: Uint8Array, offset: number, last: boolean) => Promise<void>,
  limit: { path: string; maxBytes: number },
): Promise<number> {
  const capacity = Math.max(minReadBytes, 2 * chunking.maxBytes);
  // A small file in one read of its size (plus a byte to notice one that grew meanwhile).
  let buffer: Buffer = Buffer.allocUnsafe(Math.min(capacity, sizeHint + 1));
  let filled = 0;
  let position = 0;
  let emitted = 0;
  for (;;) {
    if (filled === buffer.length) buffer = grown(buffer, capacity);
    const end = readEnd(buffer, filled, position, limit.maxBytes);
    const read = await readFull(handle, buffer, filled, position, end);
    filled += read;
    position += read;
    if (position > limit.maxBytes) throw longerThan(limit.path, position, limit.maxBytes);
    // Short of the buffer only at the end of the file: a read cut by the limit has thrown.
    const atEnd = filled < buffer.length;
    let start = 0;
    // Short of `maxBytes`, a chunk may still be cut later: wait for more unless at the end.
    while (filled - start > 0 && (atEnd || filled - start >= chunking.maxBytes)) {
      const length = nextChunkLength(buffer, start, filled, chunking);
      const last = atEnd && start + length === filled;
      await onChunk(buffer.subarray(start, start + length), position - filled + start, last);
      start += length;
      emitted += 1;
    }
    if (atEnd) {
      if (emitted === 0) await onChunk(buffer.subarray(0, 0), 0, true);
      return position;
    }
    buffer.copyWithin(0, start, filled);
    filled -= start;
  }
}

/** `buffer`'s bytes in a buffer of `capacity` (itself when it is that large already). */
function grown(buffer: Buffer, capacity: number): Buffer {
  if (buffer.length >= capacity) return buffer;
  const bigger = Buffer.allocUnsafe(capacity);
  buffer.copy(bigger);
  return bigger;
}

/**
 * Where in `buffer` a read from `offset` (the file's `position`) must stop so as to read at most
 * one byte past `maxBytes`: that byte tells a file longer than the limit without reading it all.
 */
function readEnd(buffer: Buffer, offset: number, position: number, maxBytes: number): number {
  return Math.min(buffer.length, offset + (maxBytes + 1 - position));
}

function longerThan(path: string, size: number, maxBytes: number): LongrunError {
  return new LongrunError(
    'FILE_TOO_LARGE',
    `${JSON.stringify(path)} has ${size} bytes or more, over the ${maxBytes} this read allows; it was not read further`,
    { details: { path, maxBytes } },
  );
}

/**
 * Fills `buffer` from `offset` up to `end` (default its length) with the file's bytes from
 * `position`; returns the bytes read, fewer than asked only at the end of the file.
 */
async function readFull(
  handle: FileHandle,
  buffer: Buffer,
  offset: number,
  position: number,
  end = buffer.length,
): Promise<number> {
  let filled = 0;
  while (offset + filled < end) {
    const { bytesRead } = await handle.read(
      buffer,
      offset + filled,
      end - offset - filled,
      position + filled,
    );
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled;
}
