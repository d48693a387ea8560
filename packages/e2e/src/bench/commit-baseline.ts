import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { summary } from './stats.ts';
import { sqliteRowCommitter } from './two-commits.ts';

/**
 * What one fsync'd SQLite commit (WAL, synchronous=FULL, one small row) costs on this disk right
 * now, without longrun: the floor under the per-step figures, which make two such commits.
 */
export function measureSqliteCommit(commits = 500): { p50: number; p99: number; n: number } {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-commit-'));
  const db = sqliteRowCommitter(join(dir, 'baseline.db'));
  try {
    const times: number[] = [];
    for (let i = 0; i < commits; i++) {
      const t = performance.now();
      db.commitRow();
      times.push(performance.now() - t);
    }
    return summary(times);
  } finally {
    db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
