import { afterAll } from 'vitest';
import {
  dropSchema,
  probeTestServer,
  randomSchema,
  testUrl,
} from '@longrun/store-postgres/testing';

/**
 * Postgres store URLs for a test file, each in a schema of its own that is dropped after the
 * file; null when no server answers (said on stderr). In CI a file whose Postgres cases cannot
 * run fails instead of passing with them left out.
 */
export async function postgresStoreUrls(
  cases: string,
  schemaPrefix: string,
): Promise<(() => string) | null> {
  const unavailable = await probeTestServer();
  if (unavailable !== null) {
    console.error(`\n!!! ${cases} did NOT run: ${unavailable}\n`);
    if (process.env.CI === 'true') throw new Error(`${cases} cannot run in CI: ${unavailable}`);
    return null;
  }
  const schemas: string[] = [];
  afterAll(async () => {
    for (const schema of schemas) await dropSchema(schema);
  });
  return () => {
    const schema = randomSchema(schemaPrefix);
    schemas.push(schema);
    const url = new URL(testUrl);
    url.searchParams.set('schema', schema);
    return url.toString();
  };
}
