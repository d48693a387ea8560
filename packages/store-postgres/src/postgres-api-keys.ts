import {
  LongrunError,
  checkName,
  checkNewApiKey,
  isApiKeyRole,
  tenantId as toTenantId,
  type ApiKeyRecord,
  type ApiKeyRole,
  type ApiKeyStore,
  type NewApiKey,
} from '@longrun/core';
import type { PostgresAccess } from './postgres-access.ts';
import { num, type Row } from './rows.ts';

function apiKeyRole(value: unknown): ApiKeyRole {
  if (isApiKeyRole(value)) return value;
  throw new LongrunError(
    'INTERNAL',
    `an API key row has role ${JSON.stringify(value)}, not a role`,
  );
}

function toApiKey(row: Row): ApiKeyRecord {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    name: row.name as string,
    secretHash: row.secret_hash as string,
    role: apiKeyRole(row.role),
    createdAtMs: num(row.created_at_ms, 'created_at_ms'),
    revokedAtMs: row.revoked_at_ms === null ? null : num(row.revoked_at_ms, 'revoked_at_ms'),
  };
}

/** API keys in the store's schema, beside the sessions they give access to. */
export class PostgresApiKeys implements ApiKeyStore {
  readonly #db: PostgresAccess;

  constructor(access: PostgresAccess) {
    this.#db = access;
  }

  async create(key: NewApiKey): Promise<ApiKeyRecord> {
    const k = checkNewApiKey(key);
    const rows = await this.#db.write('creating an API key', 'insertApiKey', [
      this.#db.nowParam(),
      k.id,
      k.tenantId,
      k.name,
      k.secretHash,
      k.role,
    ]);
    const row = rows[0];
    if (row === undefined) {
      throw new LongrunError(
        'INVALID_ARGUMENT',
        `API key ${k.id} already exists; generate a new id`,
      );
    }
    return toApiKey(row);
  }

  async find(id: string): Promise<ApiKeyRecord | null> {
    const rows = await this.#db.read('reading an API key', 'findApiKey', [
      checkName('API key id', id),
    ]);
    return rows[0] === undefined ? null : toApiKey(rows[0]);
  }

  async list(tenantId?: string): Promise<ApiKeyRecord[]> {
    const tenant = tenantId === undefined ? null : toTenantId(tenantId);
    return (await this.#db.read('listing API keys', 'listApiKeys', [tenant])).map(toApiKey);
  }

  async revoke(id: string): Promise<void> {
    const checked = checkName('API key id', id);
    const rows = await this.#db.write('revoking an API key', 'revokeApiKey', [
      this.#db.nowParam(),
      checked,
    ]);
    if (rows.length === 0) throw new LongrunError('NOT_FOUND', `API key ${checked} does not exist`);
  }
}
