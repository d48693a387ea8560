import type { DatabaseSync } from 'node:sqlite';
import { LongrunError } from '@longrun/core';
import { latestSchemaVersion, migrations } from './migrations.ts';

/**
 * Brings the schema to the latest version in one IMMEDIATE transaction, so two processes that
 * migrate at once are serialized and the second finds nothing to do. Refuses a newer schema.
 */
export function migrateSqlite(db: DatabaseSync, nowMs: number): void {
  db.exec('BEGIN IMMEDIATE');
  try {
    db.exec('CREATE TABLE IF NOT EXISTS longrun_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    const row = db.prepare(`SELECT value FROM longrun_meta WHERE key = 'schema_version'`).get();
    const current = row === undefined ? 0 : Number(row.value);
    if (current > latestSchemaVersion) {
      throw new LongrunError(
        'SCHEMA_TOO_NEW',
        `this database is at schema version ${current}, written by a newer longrun; this longrun knows versions up to ${latestSchemaVersion}. Upgrade longrun to open it.`,
      );
    }
    for (const migration of migrations) {
      if (migration.version <= current) continue;
      db.exec(migration.sql);
      db.prepare(
        `INSERT INTO longrun_meta (key, value) VALUES ('schema_version', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ).run(String(migration.version));
      db.prepare(
        `INSERT INTO longrun_meta (key, value) VALUES ('migrated_at_ms', ?)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      ).run(String(nowMs));
    }
    db.exec('COMMIT');
  } catch (error) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw error;
  }
}
