import type { DatabaseSync } from 'node:sqlite';
import type { DurabilityReport } from '@longrun/core';
import { WriterFailure } from './writer-failure.ts';

export interface SqliteDurabilityOptions {
  /**
   * Opt out of fsync on every commit, by name. Only `synchronous=NORMAL` is accepted: a power
   * loss may then drop the last acknowledged commits. Anything else is refused.
   */
  allowUnsafeDurability?: 'synchronous=NORMAL';
}

/**
 * Puts the connection in WAL mode with synchronous=FULL (every commit fsync'd before it is
 * acknowledged), reads both settings back, and refuses to run if they did not take.
 */
export function applyDurability(
  db: DatabaseSync,
  options: SqliteDurabilityOptions,
): DurabilityReport {
  const unsafe = options.allowUnsafeDurability;
  if (unsafe !== undefined && unsafe !== 'synchronous=NORMAL') {
    throw new WriterFailure(
      'INVALID_ARGUMENT',
      `allowUnsafeDurability must be 'synchronous=NORMAL' or absent (got ${JSON.stringify(unsafe)})`,
    );
  }
  db.exec('PRAGMA foreign_keys = OFF');
  const journal = String(db.prepare('PRAGMA journal_mode = WAL').get()?.journal_mode);
  db.exec(`PRAGMA synchronous = ${unsafe === undefined ? 'FULL' : 'NORMAL'}`);
  const synchronous = Number(db.prepare('PRAGMA synchronous').get()?.synchronous);
  const settings = {
    journal_mode: journal,
    synchronous: ['OFF', 'NORMAL', 'FULL', 'EXTRA'][synchronous] ?? String(synchronous),
  };
  const notes: string[] = [];
  const memory = journal === 'memory';
  if (journal !== 'wal' && !memory) {
    throw new WriterFailure(
      'DURABILITY_UNSAFE',
      `SQLite refused WAL mode (journal_mode=${journal}); put the database on a local filesystem that supports it`,
    );
  }
  if (memory) notes.push('in-memory database: nothing survives the process');
  if (unsafe !== undefined) {
    notes.push(
      'synchronous=NORMAL by explicit opt-out: a power loss may drop the last acknowledged commits',
    );
  } else if (synchronous < 2) {
    throw new WriterFailure(
      'DURABILITY_UNSAFE',
      `SQLite kept synchronous=${settings.synchronous}; longrun needs FULL`,
    );
  }
  return { safe: !memory && unsafe === undefined && synchronous >= 2, settings, notes };
}
