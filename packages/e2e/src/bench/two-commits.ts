import { performance } from 'node:perf_hooks';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { pgUrl, type StoreTarget } from '../store-targets.ts';

/**
 * The floor under one agent step at one session: two sequential fsync'd commits of one small row
 * each, in the same store as the sessions — a plain table in the same SQLite file (WAL,
 * synchronous=FULL on this connection) or in the same Postgres database and schema
 * (synchronous_commit as the server has it: on by default). Returns one time per pair, ms.
 * Call it while no worker writes to the store, between runs, so both figures see the same disk.
 */
export async function timeTwoCommits(target: StoreTarget, pairs: number): Promise<number[]> {
  return target.kind === 'sqlite'
    ? timeSqlitePairs(target.url, pairs)
    : timePostgresPairs(new URL(target.url).searchParams.get('schema') ?? 'public', pairs);
}

const row = 'x'.repeat(200);

/**
 * A connection to the SQLite file at `path` (WAL, synchronous=FULL) that commits one small row of
 * a plain table per call of `commitRow`, each its own fsync'd transaction.
 */
export function sqliteRowCommitter(path: string): { commitRow(): void; close(): void } {
  const db = new DatabaseSync(path);
  db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL');
  db.exec('CREATE TABLE IF NOT EXISTS bench_commits (id INTEGER PRIMARY KEY, data TEXT)');
  const insert = db.prepare('INSERT INTO bench_commits (data) VALUES (?)');
  const begin = db.prepare('BEGIN IMMEDIATE');
  const commit = db.prepare('COMMIT');
  return {
    commitRow() {
      begin.run();
      insert.run(row);
      commit.run();
    },
    close: () => db.close(),
  };
}

function timeSqlitePairs(path: string, pairs: number): number[] {
  const db = sqliteRowCommitter(path);
  try {
    const times: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const t = performance.now();
      db.commitRow();
      db.commitRow();
      times.push(performance.now() - t);
    }
    return times;
  } finally {
    db.close();
  }
}

async function timePostgresPairs(schema: string, pairs: number): Promise<number[]> {
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    await client.query(
      `CREATE TABLE IF NOT EXISTS "${schema}".bench_commits (id bigserial PRIMARY KEY, data text)`,
    );
    const insert = `INSERT INTO "${schema}".bench_commits (data) VALUES ($1)`;
    const times: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const t = performance.now();
      // Each statement outside a transaction block is its own commit.
      await client.query(insert, [row]);
      await client.query(insert, [row]);
      times.push(performance.now() - t);
    }
    return times;
  } finally {
    await client.end();
  }
}
