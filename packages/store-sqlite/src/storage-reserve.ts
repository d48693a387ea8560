import { closeSync, openSync, rmSync, statSync, statfsSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { StorageReserve } from '@longrun/core';

/** The reserve is this share of the disk, between the bounds below. */
const shareOfDisk = 1 / 32;
const minBytes = 64 * 1024;
const maxBytes = 1024 * 1024;

/**
 * A file of zeros beside the database (`<db>-reserve`), written while the disk has room. When a
 * write fails because the disk is full, deleting it frees room for the small writes that park the
 * sessions with the reason (a status change each): without it, a full disk leaves them `running`
 * with nothing to say why. `restore` writes it again once the disk has room for it and as much
 * again, and that is when a worker resumes what the full disk parked.
 */
export class FileStorageReserve implements StorageReserve {
  readonly path: string;
  readonly #bytes: number;

  constructor(databasePath: string) {
    this.path = `${databasePath}-reserve`;
    this.#bytes = reserveBytes(dirname(databasePath));
  }

  release(): void {
    rmSync(this.path, { force: true });
  }

  restore(): boolean {
    if (this.#held()) return true;
    if (freeBytes(dirname(this.path)) < 2 * this.#bytes) return false;
    let fd: number | undefined;
    try {
      fd = openSync(this.path, 'w');
      const zeros = Buffer.alloc(Math.min(this.#bytes, 64 * 1024));
      // Not fsync'd: file systems that allocate blocks late still count the space as taken at
      // write() (or it could not fail with ENOSPC), and a reserve a crash lost is written again
      // at the next open. An fsync here would be one more at every opening of a store.
      for (let written = 0; written < this.#bytes;)
        written += writeSync(fd, zeros, 0, Math.min(zeros.length, this.#bytes - written));
      return true;
    } catch {
      // The room went meanwhile (another writer took it), or the directory is read-only: no
      // reserve, and none half-written.
      if (fd !== undefined) closeSync(fd);
      fd = undefined;
      try {
        rmSync(this.path, { force: true });
      } catch {
        // Nothing was written, or it cannot be removed either: there is no reserve to count on.
      }
      return false;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }

  #held(): boolean {
    try {
      return statSync(this.path).size >= this.#bytes;
    } catch {
      return false;
    }
  }
}

function reserveBytes(dir: string): number {
  try {
    const disk = statfsSync(dir);
    return Math.min(
      maxBytes,
      Math.max(minBytes, Math.floor(disk.blocks * disk.bsize * shareOfDisk)),
    );
  } catch {
    return maxBytes;
  }
}

function freeBytes(dir: string): number {
  try {
    const disk = statfsSync(dir);
    return disk.bavail * disk.bsize;
  } catch {
    return 0;
  }
}
