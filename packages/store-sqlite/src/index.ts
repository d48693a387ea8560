export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
export { latestSchemaVersion } from './migrations.ts';
