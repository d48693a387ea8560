import {
  checkBlobBytes,
  checkBlobHash,
  packBlob,
  unpackBlob,
  type BlobPutOptions,
  type BlobStore,
} from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';
import { releaseBytes } from '@longrun/core/release-bytes';
import { blobSql as sql } from './side-table-writes.ts';

/**
 * Blobs in the session store's own file: the default blob store, so that `longrun dev` keeps a
 * session's workspace with its log and needs nothing else. A put is committed (fsync'd) by the
 * writer thread, in the group commit of whatever writes were waiting with it. A blob is stored
 * deflated when that saves an eighth (packBlob), which the row's `size` column tells apart.
 */
export class SqliteBlobStore implements BlobStore {
  readonly kind = 'sqlite';
  readonly #db: SqliteAccess;

  constructor(access: SqliteAccess) {
    this.#db = access;
  }

  async put(hash: string, bytes: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    const key = checkBlobHash(hash);
    const data = checkBlobBytes(bytes);
    const packed = await packBlob(data);
    const stored = ownBytes(packed);
    // Bytes this call owns (packed or copied here, or given up by the caller) are freed as soon
    // as they are written, here and in the writer thread's copy, not when a collection comes.
    const own = stored !== data || options.transfer === true;
    await this.#db.write('putBlob', {
      hash: key,
      size: data.byteLength,
      bytes: stored,
      nowMs: this.#db.nowMs(),
      ...(own ? { release: true } : {}),
    });
    if (own) releaseBytes(stored);
    // Packed bytes were written in their place: the caller's, given up, are freed as well.
    if (options.transfer === true) releaseBytes(data);
  }

  async get(hash: string): Promise<Uint8Array | null> {
    const key = checkBlobHash(hash);
    const row = this.#db.run('reading a blob', () => this.#db.stmt(sql.get).get(key));
    return row === undefined ? null : unpackBlob(row.bytes as Uint8Array, Number(row.size));
  }

  async missing(hashes: readonly string[]): Promise<string[]> {
    const keys = hashes.map(checkBlobHash);
    return this.#db.run('looking up blobs', () =>
      keys.filter((key) => this.#db.stmt(sql.has).get(key) === undefined),
    );
  }
}

/**
 * The bytes in an ArrayBuffer of their own: a view is sent to the writer thread with its whole
 * buffer (a pooled Buffer's 8 KiB, a slice's parent), so a partial view is copied first.
 */
function ownBytes(bytes: Uint8Array): Uint8Array {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return whole ? bytes : new Uint8Array(bytes);
}
