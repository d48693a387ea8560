import {
  checkBlobBytes,
  checkBlobHash,
  packBlob,
  unpackBlob,
  type BlobPutOptions,
  type BlobStore,
} from '@longrun/core';
import { releaseBytes } from '@longrun/core/release-bytes';
import type { PostgresAccess } from './postgres-access.ts';

/**
 * Blobs in the store's own schema: the default blob store, so that every worker that reaches the
 * database can restore a session's workspace. A put that raced another put of the same content
 * is a no-op (ON CONFLICT DO NOTHING): content-addressed rows never change. A blob is stored
 * deflated when that saves an eighth (packBlob), which the row's `size` column tells apart.
 */
export class PostgresBlobStore implements BlobStore {
  readonly kind = 'postgres';
  readonly #db: PostgresAccess;

  constructor(access: PostgresAccess) {
    this.#db = access;
  }

  async put(hash: string, bytes: Uint8Array, options: BlobPutOptions = {}): Promise<void> {
    const key = checkBlobHash(hash);
    const data = checkBlobBytes(bytes);
    const packed = await packBlob(data);
    const buffer = Buffer.from(packed.buffer, packed.byteOffset, packed.byteLength);
    await this.#db.write('storing a blob', 'putBlob', [
      this.#db.nowParam(),
      key,
      data.byteLength,
      buffer,
    ]);
    // Written: bytes packed here, and the caller's if given up, are freed now, not when a
    // collection comes (a snapshot stores gigabytes of chunks).
    if (packed !== data) releaseBytes(packed);
    if (options.transfer === true) releaseBytes(data);
  }

  async get(hash: string): Promise<Uint8Array | null> {
    const rows = await this.#db.read('reading a blob', 'getBlob', [checkBlobHash(hash)]);
    const row = rows[0];
    return row === undefined
      ? null
      : unpackBlob(new Uint8Array(row.bytes as Buffer), Number(row.size));
  }

  async missing(hashes: readonly string[]): Promise<string[]> {
    const keys = hashes.map(checkBlobHash);
    if (keys.length === 0) return [];
    const rows = await this.#db.read('looking up blobs', 'presentBlobs', [keys]);
    const present = new Set(rows.map((r) => r.hash as string));
    return keys.filter((key) => !present.has(key));
  }
}
