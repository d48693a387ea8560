import { randomBytes } from 'node:crypto';
import { describe } from 'vitest';
import type { SessionStore } from '@longrun/core';
import { PostgresStore } from '@longrun/store-postgres';
import {
  describeWithServer,
  dropSchema,
  probeTestServer,
  testUrl,
} from '@longrun/store-postgres/testing';
import { sqliteStore } from './test-support.ts';

export { dropSchema, testUrl as pgUrl };

/** A Postgres store in a fresh schema, dropped afterwards. */
export async function postgresStore(): Promise<{
  store: SessionStore;
  drop: () => Promise<void>;
}> {
  const schema = `api_${randomBytes(6).toString('hex')}`;
  const store = await PostgresStore.open({ url: testUrl, schema, poolSize: 10 });
  return {
    store,
    drop: async () => {
      await store.close().catch(() => undefined);
      await dropSchema(schema);
    },
  };
}

export const postgresProblem = await probeTestServer();

export interface StoreKind {
  name: 'sqlite' | 'postgres';
  open: () => Promise<{ store: SessionStore; drop: () => Promise<void> }>;
}

/**
 * Defines the suite for SQLite and for Postgres. Without a Postgres server the Postgres suite
 * says loudly that it did not run, and under CI=true it fails instead of being skipped.
 */
export function describeOnStores(title: string, define: (kind: StoreKind) => void): void {
  describe(`${title} (sqlite)`, () => define({ name: 'sqlite', open: sqliteStore }));
  describeOnPostgres(title, () => define({ name: 'postgres', open: postgresStore }));
}

/** A Postgres-only suite, run, loudly not run, or failed under CI=true when the server is down. */
export function describeOnPostgres(title: string, define: () => void): void {
  describeWithServer(`${title} (postgres)`, postgresProblem, define);
}
