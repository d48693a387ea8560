import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { summary } from './stats.ts';

/**
 * What one fsync'd SQLite commit (WAL, synchronous=FULL, one small row) costs on this disk right
 * now, without longrun: the floor under the per-step figures, which make two such commits.
 */
export function measureSqliteCommit(commits = 500): { p50: number; p99: number; n: number } {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-commit-'));
  const db = new DatabaseSync(join(dir, 'baseline.db'));
  try {
    db.exec(
      'PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; CREATE TABLE t (id INTEGER PRIMARY KEY, data TEXT)',
    );
    const insert = db.prepare('INSERT INTO t (data) VALUES (?)');
    const begin = db.prepare('BEGIN IMMEDIATE');
    const commit = db.prepare('COMMIT');
    const times: number[] = [];
    for (let i = 0; i < commits; i++) {
      const t = performance.now();
      begin.run();
      insert.run('x'.repeat(300));
      commit.run();
      times.push(performance.now() - t);
    }
    return summary(times);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
