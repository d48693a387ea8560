import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { access, link, mkdir, open, readFile, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import {
  checkBlobBytes,
  checkBlobHash,
  LongrunError,
  type BlobPutOptions,
  type BlobStore,
} from '@longrun/core';
import { releaseBytes } from '@longrun/core/release-bytes';
import { mapBounded } from './bounded-concurrency.ts';
import { isMissing } from './scan-workspace.ts';

export interface DirectoryBlobStoreOptions {
  /** Lookups in flight at once in `missing`. Default 32. */
  concurrency?: number;
}

/**
 * Blobs as files under a directory, sharded by the first two hex digits (`ab/cdef…`) so no
 * directory grows past a few thousand entries per million blobs. A put writes a temporary file
 * under `.tmp/`, fsyncs it, hard-links it to its final name (a link never replaces an existing
 * name, so a stored blob is left as it is) and fsyncs the shard directory: a blob is either absent
 * or complete, also after a power cut. `get` returns the bytes as stored, without checking them;
 * readers verify (restore does). Works on any POSIX filesystem with hard links, NFS included.
 */
export class DirectoryBlobStore implements BlobStore {
  readonly kind = 'directory';
  readonly root: string;
  readonly #concurrency: number;
  readonly #madeDirs = new Set<string>();

  constructor(root: string, options: DirectoryBlobStoreOptions = {}) {
    this.root = resolve(root);
    this.#concurrency = options.concurrency ?? 32;
  }

  /** Where the blob `hash` lives (exposed for tests and tooling). */
  pathOf(hash: string): string {
    const key = checkBlobHash(hash);
    return `${this.root}/${key.slice(0, 2)}/${key.slice(2)}`;
  }

  async put(hash: string, bytes: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    await this.#put(hash, bytes);
    // Written (or stored already): bytes the caller gave up are freed now, not at a collection.
    if (options.transfer === true) releaseBytes(bytes);
  }

  async #put(hash: string, bytes: Uint8Array): Promise<void> {
    const final = this.pathOf(hash);
    checkBlobBytes(bytes);
    try {
      if (await exists(final)) return;
      const shard = `${this.root}/${hash.slice(0, 2)}`;
      await this.#makeDir(shard);
      await this.#makeDir(`${this.root}/.tmp`);
      const temp = `${this.root}/.tmp/${hash}.${process.pid}.${randomBytes(6).toString('hex')}`;
      await writeDurably(temp, bytes);
      try {
        await link(temp, final);
      } catch (error) {
        if ((error as { code?: unknown }).code !== 'EEXIST') throw error;
      } finally {
        await rm(temp, { force: true });
      }
      await fsyncPath(shard);
    } catch (error) {
      throw translate(error, `storing blob ${hash} under ${this.root}`);
    }
  }

  async get(hash: string): Promise<Uint8Array | null> {
    const path = this.pathOf(hash);
    try {
      const data = await readFile(path);
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    } catch (error) {
      if (isMissing(error)) return null;
      throw translate(error, `reading blob ${hash} under ${this.root}`);
    }
  }

  async missing(hashes: readonly string[]): Promise<string[]> {
    const paths = hashes.map((hash) => this.pathOf(hash));
    try {
      const present = await mapBounded(paths, this.#concurrency, exists);
      return hashes.filter((_, index) => present[index] !== true);
    } catch (error) {
      throw translate(error, `looking up blobs under ${this.root}`);
    }
  }

  async #makeDir(path: string): Promise<void> {
    if (this.#madeDirs.has(path)) return;
    await mkdir(path, { recursive: true });
    this.#madeDirs.add(path);
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path, constants.F_OK);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

async function writeDurably(path: string, bytes: Uint8Array): Promise<void> {
  const handle = await open(path, 'wx', 0o444);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Filesystem errors become LongrunErrors once, here: a full disk and a refused one are not retried. */
function translate(error: unknown, what: string): unknown {
  if (error instanceof LongrunError) return error;
  const raw = (error as { code?: unknown } | null)?.code;
  const code = typeof raw === 'string' ? raw : 'unknown';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new LongrunError(
      'STORAGE_FULL',
      `${what} failed: the disk is full; free space and retry`,
      { cause: error },
    );
  }
  const permanent = ['EACCES', 'EPERM', 'EROFS', 'ENOTDIR'].includes(code);
  return new LongrunError(
    'STORE_UNAVAILABLE',
    `${what} failed (${code})${permanent ? ': check that the directory exists and is writable by this user' : ''}`,
    { cause: error, retryable: !permanent },
  );
}
