import pg from 'pg';
import type { SessionStore } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { pgUrl } from '../store-targets.ts';

/**
 * Bytes the store occupies on disk: the SQLite file after its WAL is checkpointed, or the total
 * size (heap, indexes, TOAST) of every relation in the Postgres schema.
 */
export async function storeBytes(store: SessionStore, url: string): Promise<number> {
  if (store instanceof SqliteStore) return store.sizeBytes();
  const schema = new URL(url).searchParams.get('schema');
  const client = new pg.Client({ connectionString: pgUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ bytes: string }>(
      `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = $1 AND c.relkind = 'r'`,
      [schema],
    );
    return Number(rows[0]?.bytes ?? 0);
  } finally {
    await client.end();
  }
}
