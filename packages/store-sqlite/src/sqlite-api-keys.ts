import {
  LongrunError,
  checkName,
  isApiKeyRole,
  checkNewApiKey,
  tenantId as toTenantId,
  type ApiKeyRecord,
  type ApiKeyRole,
  type ApiKeyStore,
  type NewApiKey,
} from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';
import { apiKeySql as sql } from './side-table-writes.ts';

function apiKeyRole(value: unknown): ApiKeyRole {
  if (isApiKeyRole(value)) return value;
  throw new LongrunError(
    'INTERNAL',
    `an API key row has role ${JSON.stringify(value)}, not a role`,
  );
}

function toApiKey(row: Record<string, unknown>): ApiKeyRecord {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    name: row.name as string,
    secretHash: row.secret_hash as string,
    role: apiKeyRole(row.role),
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
    return this.#db.write('createApiKey', { key: checkNewApiKey(key), nowMs: this.#db.nowMs() });
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
    return this.#db.write('revokeApiKey', { id: checked, nowMs: this.#db.nowMs() });
  }
}
