import { constants, readdirSync, renameSync, rmdirSync, unlinkSync, openSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { LongrunError } from '@longrun/core';
import {
  O_PATH,
  at,
  atRaw,
  closeQuietly,
  inode,
  maxDepth,
  statOf,
  translateFsError,
} from './confined-fs.ts';

/** The writing, removing and bounded reading under ConfinedWorkspaceFiles (see there). */

const chunkBytes = 1024 * 1024;
const { O_NOFOLLOW } = constants;

/** A file being written under a temporary name; `commit` renames it into place. */
export interface FileWriter {
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Leaves the next `bytes` of the file a hole (zeros taking no disk; a file that ends in one is
   * extended to its length at commit): what a sparse file's holes cost it, no more.
   */
  skip(bytes: number): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

export function fileWriter(
  dirFd: number,
  temp: string,
  name: string,
  path: string,
  handle: FileHandle,
  mode: number,
): FileWriter {
  let settled = false;
  // Written at positions, not at the descriptor's offset, so that skip leaves a hole.
  let position = 0;
  let skippedToEnd = false;
  const settle = async (commit: boolean): Promise<void> => {
    if (settled) return;
    settled = true;
    try {
      if (commit) {
        if (skippedToEnd) await handle.truncate(position);
        await handle.chmod(mode);
        await handle.close();
        renameSync(at(dirFd, temp), at(dirFd, name));
      } else {
        await handle.close().catch(() => undefined);
        unlinkQuietly(dirFd, temp);
      }
    } catch (error) {
      await handle.close().catch(() => undefined);
      unlinkQuietly(dirFd, temp);
      throw translateFsError(error, path);
    } finally {
      closeQuietly(dirFd);
    }
  };
  return {
    write: async (bytes) => {
      try {
        for (let offset = 0; offset < bytes.length;) {
          const length = bytes.length - offset;
          const { bytesWritten } = await handle.write(bytes, offset, length, position);
          offset += bytesWritten;
          position += bytesWritten;
        }
        skippedToEnd &&= bytes.length === 0;
      } catch (error) {
        throw translateFsError(error, path);
      }
    },
    skip: (bytes) => {
      position += bytes;
      skippedToEnd ||= bytes > 0;
      return Promise.resolve();
    },
    commit: () => settle(true),
    abort: () => settle(false),
  };
}

/** Removes `name` in `dirFd`: a directory's children first, through its own descriptor. */
export function removeAt(dirFd: number, name: Buffer, path: string, depth: number): void {
  let fd: number;
  try {
    fd = openSync(atRaw(dirFd, name), O_PATH | O_NOFOLLOW);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw translateFsError(error, path);
  }
  try {
    if (statOf(fd).isDirectory()) {
      if (depth >= maxDepth) {
        throw new LongrunError('INVALID_ARGUMENT', `${JSON.stringify(path)} is too deep to remove`);
      }
      for (const child of readdirSync(inode(fd), { encoding: 'buffer' })) {
        removeAt(fd, child, path, depth + 1);
      }
      rmdirSync(atRaw(dirFd, name));
    } else {
      // unlink never follows: a link (or anything swapped in) is removed, not its target.
      unlinkSync(atRaw(dirFd, name));
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw translateFsError(error, path);
  } finally {
    closeQuietly(fd);
  }
}

export function unlinkQuietly(dirFd: number, name: string): void {
  try {
    unlinkSync(at(dirFd, name));
  } catch {
    // Never created, or already gone.
  }
}

/**
 * Reads a file of at most `maxBytes` whole. `sizeHint` is its size when checked: one buffer of that
 * size and a byte more holds it, the extra byte telling a file that grew since from one that did
 * not (a read of 1 MiB buffers for a file of a few kB made every read cost megabytes of external
 * memory, which V8 pays for in full collections); one that grew is read on in 1 MiB pieces.
 */
export async function readBounded(
  handle: FileHandle,
  maxBytes: number,
  path: string,
  sizeHint = 0,
): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let buffer = Buffer.allocUnsafe(Math.min(Math.max(sizeHint, 0), maxBytes) + 1);
  let filled = 0;
  let total = 0;
  for (;;) {
    if (filled === buffer.length) {
      pieces.push(buffer);
      buffer = Buffer.allocUnsafe(Math.min(chunkBytes, maxBytes + 1 - total));
      filled = 0;
    }
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, null);
    if (bytesRead === 0) break;
    filled += bytesRead;
    total += bytesRead;
    if (total > maxBytes) throw tooLarge(path, total, maxBytes);
  }
  pieces.push(buffer.subarray(0, filled));
  return pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces, total);
}

export function tooLarge(path: string, size: number, maxBytes: number): LongrunError {
  return new LongrunError(
    'FILE_TOO_LARGE',
    `${JSON.stringify(path)} has ${size} bytes, over the limit of ${maxBytes}; read a part of it instead (e.g. head, tail or grep in a command)`,
  );
}
