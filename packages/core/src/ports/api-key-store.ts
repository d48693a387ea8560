/**
 * API keys, per tenant. Only a hash of a key's secret is stored: a leaked database does not leak
 * keys. A key is presented as `lr_<id>_<secret>`; the server looks the record up by `id` and
 * compares the hash of `secret` in constant time.
 */
export interface ApiKeyRecord {
  /** Public part of the key, printed in logs and lists. */
  id: string;
  tenantId: string;
  name: string;
  /** SHA-256 of the secret part, lowercase hex. */
  secretHash: string;
  createdAtMs: number;
  revokedAtMs: number | null;
}

export interface NewApiKey {
  id: string;
  tenantId: string;
  name: string;
  secretHash: string;
}

export interface ApiKeyStore {
  /** Stores a new key; a duplicate id is refused with INVALID_ARGUMENT. */
  create(key: NewApiKey): Promise<ApiKeyRecord>;
  /** The key with this id, revoked or not; null when there is none. */
  find(id: string): Promise<ApiKeyRecord | null>;
  /** Keys of one tenant, or of all tenants, oldest first. */
  list(tenantId?: string): Promise<ApiKeyRecord[]>;
  /** Marks the key revoked; revoking twice is a no-op; an unknown id is NOT_FOUND. */
  revoke(id: string): Promise<void>;
}
