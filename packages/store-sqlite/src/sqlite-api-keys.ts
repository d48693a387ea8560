import {
  LongrunError,
  checkName,
  checkNewApiKey,
  tenantId as toTenantId,
  type ApiKeyRecord,
  type ApiKeyStore,
  type NewApiKey,
} from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';

const sql = {
  insert: `INSERT INTO api_keys (id, tenant_id, name, secret_hash, created_at_ms) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (id) DO NOTHING`,
  find: `SELECT * FROM api_keys WHERE id = ?`,
  listAll: `SELECT * FROM api_keys ORDER BY created_at_ms, id`,
  listTenant: `SELECT * FROM api_keys WHERE tenant_id = ? ORDER BY created_at_ms, id`,
  revoke: `UPDATE api_keys SET revoked_at_ms = coalesce(revoked_at_ms, ?) WHERE id = ?`,
} as const;

function toApiKey(row: Record<string, unknown>): ApiKeyRecord {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    name: row.name as string,
    secretHash: row.secret_hash as string,
    createdAtMs: row.created_at_ms as number,
    revokedAtMs: (row.revoked_at_ms as number | null) ?? null,
  };
}

/** API keys in the SQLite file, beside the sessions they give access to. */
export class SqliteApiKeys implements ApiKeyStore {
  readonly #db: SqliteAccess;

  constructor(access: SqliteAccess) {
    this.#db = access;
  }

  async create(key: NewApiKey): Promise<ApiKeyRecord> {
    const checked = checkNewApiKey(key);
    return this.#db.tx('creating an API key', () => {
      const now = this.#db.nowMs();
      const { changes } = this.#db
        .stmt(sql.insert)
        .run(checked.id, checked.tenantId, checked.name, checked.secretHash, now);
      if (changes === 0) {
        throw new LongrunError(
          'INVALID_ARGUMENT',
          `API key ${checked.id} already exists; generate a new id`,
        );
      }
      return { ...checked, createdAtMs: now, revokedAtMs: null };
    });
  }

  async find(id: string): Promise<ApiKeyRecord | null> {
    const checked = checkName('API key id', id);
    return this.#db.run('reading an API key', () => {
      const row = this.#db.stmt(sql.find).get(checked);
      return row === undefined ? null : toApiKey(row);
    });
  }

  async list(tenantId?: string): Promise<ApiKeyRecord[]> {
    const tenant = tenantId === undefined ? undefined : toTenantId(tenantId);
    return this.#db.run('listing API keys', () =>
      (tenant === undefined
        ? this.#db.stmt(sql.listAll).all()
        : this.#db.stmt(sql.listTenant).all(tenant)
      ).map(toApiKey),
    );
  }

  async revoke(id: string): Promise<void> {
    const checked = checkName('API key id', id);
    this.#db.tx('revoking an API key', () => {
      const { changes } = this.#db.stmt(sql.revoke).run(this.#db.nowMs(), checked);
      if (changes === 0) throw new LongrunError('NOT_FOUND', `API key ${checked} does not exist`);
    });
  }
}
