import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import {
  LongrunError,
  tenantId as checkTenantId,
  type ApiKeyRecord,
  type ApiKeyRole,
  type ApiKeyStore,
} from '@longrun/core';

/**
 * API keys: `lr_<keyId>_<secret>`. The key id is public (it names the record, appears in lists
 * and in the log as who decided an approval); the secret is 32 random bytes in base64url and is
 * shown once, when the key is made. The store keeps only SHA-256(secret), so a leaked database
 * leaks no key. A plain hash (not a slow KDF) is right here: the secret has 256 bits of entropy,
 * so there is nothing to brute-force, and every request pays for the check.
 */
const secretBytes = 32;
const keyPattern = /^lr_([0-9a-f]{16})_([A-Za-z0-9_-]{43,})$/;

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export interface GeneratedApiKey {
  /** The whole key, `lr_<id>_<secret>`: shown once, never stored. */
  key: string;
  record: ApiKeyRecord;
}

/**
 * Makes a key for a tenant with a role (what it may do: see `ApiKeyRole`), stores its hash, and
 * returns the key itself (the only time it exists).
 */
export async function generateApiKey(
  keys: ApiKeyStore,
  tenantId: string,
  name: string,
  role: ApiKeyRole,
): Promise<GeneratedApiKey> {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(secretBytes).toString('base64url');
  const record = await keys.create({
    id,
    tenantId: checkTenantId(tenantId),
    name,
    secretHash: hashSecret(secret),
    role,
  });
  return { key: `lr_${id}_${secret}`, record };
}

export function unauthenticated(why: string): LongrunError {
  return new LongrunError(
    'UNAUTHENTICATED',
    `${why}; send Authorization: Bearer lr_… with a key from \`longrun keys create --tenant <tenant>\``,
  );
}

// Compared against when the key id is unknown, so a miss costs the same work as a hit.
const decoyHash = Buffer.alloc(32);

/**
 * The key record an Authorization header proves, or UNAUTHENTICATED. The record is looked up by
 * its public id and the secret's hash compared in constant time; a revoked key is refused.
 */
export async function authenticate(
  keys: ApiKeyStore,
  authorization: string | undefined,
): Promise<ApiKeyRecord> {
  if (authorization === undefined || authorization === '') {
    throw unauthenticated('no API key was sent');
  }
  const match = /^Bearer +(\S+)\s*$/i.exec(authorization);
  const parts = match === null ? null : keyPattern.exec(match[1] ?? '');
  if (parts === null) throw unauthenticated('the Authorization header does not hold a longrun key');
  const [, id = '', secret = ''] = parts;
  const record = await keys.find(id);
  const presented = Buffer.from(hashSecret(secret), 'hex');
  const expected = record === null ? decoyHash : Buffer.from(record.secretHash, 'hex');
  const equal = expected.length === presented.length && timingSafeEqual(expected, presented);
  if (record === null || !equal) throw unauthenticated('the API key is not valid');
  if (record.revokedAtMs !== null) throw unauthenticated(`API key ${id} was revoked`);
  return record;
}
