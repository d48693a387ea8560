import type { ClientBase } from 'pg';
import { LongrunError } from '@longrun/core';
import { latestSchemaVersion, migrations } from './migrations.ts';
import type { SchemaName } from './schema-name.ts';

/**
 * Brings the schema to the latest version in one transaction that first takes a transaction-level
 * advisory lock (namespace, 0), so two processes that migrate at once are serialized and the
 * second finds nothing to do. Key 0 is never a worker's lock key (those start at 1). Refuses a
 * newer schema. `nowMs` is null to use the server's clock.
 */
export async function migratePostgres(
  client: ClientBase,
  s: SchemaName,
  nowMs: number | null,
  /** Stop at this version (tests of an upgrade from an older schema). */
  upToVersion = latestSchemaVersion,
): Promise<void> {
  // A schema already at the version wanted is opened without DDL or lock: a role that may only
  // read and write the tables (no CREATE on the database) runs longrun on a schema an owner
  // migrated.
  const at = await schemaVersion(client, s);
  if (at !== null && at > latestSchemaVersion) throw schemaTooNew(s, at);
  if (at === upToVersion) return;
  await client.query('BEGIN');
  try {
    await client.query('SELECT pg_advisory_xact_lock($1::int, 0)', [s.lockNamespace]);
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${s.quoted}`);
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${s.quoted}.longrun_meta (key text PRIMARY KEY, value text NOT NULL)`,
    );
    const found = await client.query(
      `SELECT value FROM ${s.quoted}.longrun_meta WHERE key = 'schema_version'`,
    );
    const current =
      found.rows.length === 0 ? 0 : Number((found.rows[0] as { value: string }).value);
    if (current > latestSchemaVersion) throw schemaTooNew(s, current);
    for (const migration of migrations) {
      if (migration.version <= current || migration.version > upToVersion) continue;
      await client.query(migration.sql(s));
      await client.query(
        `INSERT INTO ${s.quoted}.longrun_meta (key, value) VALUES
           ('schema_version', $1),
           ('migrated_at_ms', coalesce($2::bigint, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)::text)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
        [String(migration.version), nowMs],
      );
    }
    await client.query('COMMIT');
  } catch (error) {
    // A dead connection cannot roll back; the server discards the transaction with it.
    await client.query('ROLLBACK').catch(() => {});
    throw error;
  }
}

/** The schema's version, or null when it has no version table yet (or no schema). */
async function schemaVersion(client: ClientBase, s: SchemaName): Promise<number | null> {
  try {
    const found = await client.query(
      `SELECT value FROM ${s.quoted}.longrun_meta WHERE key = 'schema_version'`,
    );
    return found.rows.length === 0 ? null : Number((found.rows[0] as { value: string }).value);
  } catch (error) {
    // 42P01: no such table; 3F000: no such schema. Anything else is the caller's to see.
    const code = (error as { code?: unknown }).code;
    if (code === '42P01' || code === '3F000') return null;
    throw error;
  }
}

function schemaTooNew(s: SchemaName, version: number): LongrunError {
  return new LongrunError(
    'SCHEMA_TOO_NEW',
    `schema ${s.name} is at version ${version}, written by a newer longrun; this longrun knows versions up to ${latestSchemaVersion}. Upgrade longrun to open it.`,
  );
}
