import type { ApiKeyRecord, NewApiKey } from '@longrun/core';
import { WriterFailure } from './writer-failure.ts';
import type { WriterDb } from './writer-db.ts';
import { releaseBytes } from '@longrun/core/release-bytes';

/** The statements of the API key and blob tables (read here too, by their stores). */
export const apiKeySql = {
  insert: `INSERT INTO api_keys (id, tenant_id, name, secret_hash, role, created_at_ms) VALUES (?, ?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING`,
  find: `SELECT * FROM api_keys WHERE id = ?`,
  listAll: `SELECT * FROM api_keys ORDER BY created_at_ms, id`,
  listTenant: `SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at_ms, id`,
  revoke: `UPDATE api_keys SET revoked_at_ms = coalesce(revoked_at_ms, ?) WHERE id = ?`,
} as const;

export const blobSql = {
  insert: `INSERT INTO blobs (hash, size, bytes, created_at_ms) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
  get: `SELECT size, bytes FROM blobs WHERE hash = ?`,
  has: `SELECT 1 FROM blobs WHERE hash = ?`,
} as const;

/** The writes of the API key and blob tables, as the writer thread runs them (sqlite-writes.ts). */
export const sideTableWrites = {
  createApiKey(db: WriterDb, w: { key: NewApiKey; nowMs: number }): ApiKeyRecord {
    const { key, nowMs } = w;
    const { changes } = db
      .stmt(apiKeySql.insert)
      .run(key.id, key.tenantId, key.name, key.secretHash, key.role, nowMs);
    if (changes === 0) {
      throw new WriterFailure(
        'INVALID_ARGUMENT',
        `API key ${key.id} already exists; generate a new id`,
      );
    }
    return { ...key, createdAtMs: nowMs, revokedAtMs: null };
  },

  revokeApiKey(db: WriterDb, w: { id: string; nowMs: number }): void {
    const { changes } = db.stmt(apiKeySql.revoke).run(w.nowMs, w.id);
    if (changes === 0) throw new WriterFailure('NOT_FOUND', `API key ${w.id} does not exist`);
  },

  /**
   * `bytes` as packed (packBlob in @longrun/core): shorter than `size` when deflated. `release`:
   * the bytes are the write's own (SqliteBlobStore.put), freed once in the table.
   */
  putBlob(
    db: WriterDb,
    w: { hash: string; size: number; bytes: Uint8Array; nowMs: number; release?: boolean },
  ): void {
    db.stmt(blobSql.insert).run(w.hash, w.size, w.bytes, w.nowMs);
    if (w.release === true) releaseBytes(w.bytes);
  },
};
