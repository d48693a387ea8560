import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import pg from 'pg';

export const pgUrl = process.env.LONGRUN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** A database for one test: a fresh SQLite file, or a fresh schema on the test Postgres server. */
export interface StoreTarget {
  kind: 'sqlite' | 'postgres';
  url: string;
  dir: string;
  drop(): Promise<void>;
}

export async function sqliteTarget(): Promise<StoreTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-e2e-'));
  return {
    kind: 'sqlite',
    url: join(dir, 'longrun.db'),
    dir,
    drop: async () => rmSync(dir, { recursive: true, force: true }),
  };
}

export async function postgresTarget(): Promise<StoreTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-e2e-'));
  const schema = `e2e_${randomUUID().replaceAll('-', '').slice(0, 16)}`;
  const url = new URL(pgUrl);
  url.searchParams.set('schema', schema);
  return {
    kind: 'postgres',
    url: url.toString(),
    dir,
    async drop() {
      const client = new pg.Client({ connectionString: pgUrl });
      await client.connect();
      await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await client.end();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Whether the test Postgres server answers. When it does not, the Postgres suites say so loudly;
 * under CI=true they fail instead of being skipped.
 */
export async function postgresAvailability(): Promise<
  { ok: true } | { ok: false; reason: string }
> {
  const client = new pg.Client({ connectionString: pgUrl, connectionTimeoutMillis: 3_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
    return { ok: true };
  } catch (error) {
    return {
      ok: false,
      reason: `${pgUrl.replace(/:[^@/]*@/, ':***@')}: ${(error as Error).message}`,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

export const postgresStatus = await postgresAvailability();
if (!postgresStatus.ok) {
  const message = `Postgres suite did NOT run: ${postgresStatus.reason}`;
  console.error(`\n!!! ${message}\n`);
  if (process.env.CI === 'true') throw new Error(`${message} (CI=true requires it)`);
}

/** The targets a cross-store suite runs on. */
export const targets: {
  name: 'sqlite' | 'postgres';
  make: () => Promise<StoreTarget>;
  run: boolean;
}[] = [
  { name: 'sqlite', make: sqliteTarget, run: true },
  { name: 'postgres', make: postgresTarget, run: postgresStatus.ok },
];
