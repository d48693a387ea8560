export { PostgresStore, type PostgresStoreOptions } from './postgres-store.ts';
export { latestSchemaVersion } from './migrations.ts';
