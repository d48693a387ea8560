/**
 * What a key may do through the HTTP API. Not a ladder: `operator` runs sessions and `approver`
 * decides approvals, and neither can do the other's part (the person who runs an agent does not
 * approve its calls); `admin` may do everything.
 * - `viewer`: reads only (GET routes, event streams);
 * - `operator`: a viewer that also creates sessions and schedules, sends messages and signals,
 *   cancels, resumes and forks;
 * - `approver`: a viewer that also decides approvals;
 * - `admin`: all of the above (and what only administrators do).
 */
export const apiKeyRoles = ['admin', 'approver', 'operator', 'viewer'] as const;
export type ApiKeyRole = (typeof apiKeyRoles)[number];

export function isApiKeyRole(value: unknown): value is ApiKeyRole {
  return typeof value === 'string' && (apiKeyRoles as readonly string[]).includes(value);
}

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
  /** Keys made before roles existed are `admin` (they could do everything). */
  role: ApiKeyRole;
  createdAtMs: number;
  revokedAtMs: number | null;
}

export interface NewApiKey {
  id: string;
  tenantId: string;
  name: string;
  secretHash: string;
  role: ApiKeyRole;
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
