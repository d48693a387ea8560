import { checkBlobBytes, checkBlobHash, type BlobStore } from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';

const sql = {
  insert: `INSERT INTO blobs (hash, size, bytes, created_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
  get: `SELECT bytes FROM blobs WHERE hash = ?`,
  has: `SELECT 1 FROM blobs WHERE hash = ?`,
} as const;

/**
 * Blobs in the session store's own file: the default blob store, so that `longrun dev` keeps a
 * session's workspace with its log and needs nothing else. Each put is its own fsync'd commit.
 */
export class SqliteBlobStore implements BlobStore {
  readonly kind = 'sqlite';
  readonly #db: SqliteAccess;

  constructor(access: SqliteAccess) {
    this.#db = access;
  }

  async put(hash: string, bytes: Uint8Array): Promise<void> {
    const key = checkBlobHash(hash);
    const data = checkBlobBytes(bytes);
    this.#db.tx('storing a blob', () => {
      this.#db.stmt(sql.insert).run(key, data.byteLength, data, this.#db.nowMs());
    });
  }

  async get(hash: string): Promise<Uint8Array | null> {
    const key = checkBlobHash(hash);
    return this.#db.run('reading a blob', () => {
      const row = this.#db.stmt(sql.get).get(key);
      return row === undefined ? null : (row.bytes as Uint8Array);
    });
  }

  async missing(hashes: readonly string[]): Promise<string[]> {
    const keys = hashes.map(checkBlobHash);
    return this.#db.run('looking up blobs', () =>
      keys.filter((key) => this.#db.stmt(sql.has).get(key) === undefined),
    );
  }
}
