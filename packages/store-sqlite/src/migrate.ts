import type { DatabaseSync } from 'node:sqlite';
import { latestSchemaVersion, migrations } from './migrations.ts';
import { statementCache, type WriterDb } from './writer-db.ts';
import { WriterFailure } from './writer-failure.ts';

/**
 * Brings the schema to the latest version in one IMMEDIATE transaction, so two processes that
 * migrate at once are serialized and the second finds nothing to do. Refuses a newer schema.
 */
export function migrateSqlite(connection: DatabaseSync, nowMs: number): void {
  connection.exec('BEGIN IMMEDIATE');
  try {
    migrateSchema(statementCache(connection), nowMs);
    connection.exec('COMMIT');
  } catch (error) {
    if (connection.isTransaction) connection.exec('ROLLBACK');
    throw error;
  }
}

/** The migration's work, inside a transaction the caller holds (at open, or a writer's batch). */
export function migrateSchema(db: WriterDb, nowMs: number): void {
  db.exec('CREATE TABLE IF NOT EXISTS longrun_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
  const row = db.stmt(`SELECT value FROM longrun_meta WHERE key = 'schema_version'`).get();
  const current = row === undefined ? 0 : Number(row.value);
  if (current > latestSchemaVersion) {
    throw new WriterFailure(
      'SCHEMA_TOO_NEW',
      `this database is at schema version ${current}, written by a newer longrun; this longrun knows versions up to ${latestSchemaVersion}. Upgrade longrun to open it.`,
    );
  }
  for (const migration of migrations) {
    if (migration.version <= current) continue;
    db.exec(migration.sql);
    db.stmt(
      `INSERT INTO longrun_meta (key, value) VALUES ('schema_version', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ).run(String(migration.version));
    db.stmt(
      `INSERT INTO longrun_meta (key, value) VALUES ('migrated_at_ms', ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
    ).run(String(nowMs));
  }
}
