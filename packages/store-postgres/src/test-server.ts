import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe, it } from 'vitest';

/**
 * The real PostgreSQL server the tests run against, and what happens when there is none: the
 * suite says so loudly, and under CI it fails instead of skipping (a skipped suite nobody sees
 * is a defect).
 */
export const testUrl = process.env.LONGRUN_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** Null when the server answers, else why it does not. */
export async function probeTestServer(): Promise<string | null> {
  const client = new pg.Client({ connectionString: testUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return null;
  } catch (error) {
    return `${testUrl.replace(/:[^:@/]*@/, ':***@')} is not reachable (${(error as Error).message || String(error)}); set LONGRUN_TEST_PG_URL or start PostgreSQL`;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs `define` when the server is up; otherwise reports the suite as not run (failing in CI). */
export function describeWithServer(
  title: string,
  unavailable: string | null,
  define: () => void,
): void {
  if (unavailable === null) {
    describe(title, define);
    return;
  }
  const message = `Postgres suite did NOT run: ${unavailable}`;
  console.error(`\n${'!'.repeat(100)}\n${message}\n${'!'.repeat(100)}\n`);
  if (process.env.CI === 'true') {
    it(`${title}: PostgreSQL is reachable`, () => {
      throw new Error(message);
    });
  } else {
    describe.skip(`${title} — ${message}`, () => it('needs PostgreSQL', () => {}));
  }
}

/** A schema name no other test uses; tests drop it when done. */
export function randomSchema(prefix = 'lrt'): string {
  return `${prefix}_${randomBytes(6).toString('hex')}`;
}

/** Runs `work` on a fresh connection outside any store, e.g. to terminate a store's backends. */
export async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testUrl, connectionTimeoutMillis: 3000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withAdmin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Polls `check` every `everyMs` until it returns a value, for at most `withinMs`; bounded. */
export async function eventually<T>(
  check: () => Promise<T | null | undefined>,
  withinMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
