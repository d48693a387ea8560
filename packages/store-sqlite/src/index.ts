export { SqliteStore, type SqliteStoreOptions } from './sqlite-store.ts';
export type { CommittingOn } from './sqlite-writer.ts';
export { latestSchemaVersion } from './migrations.ts';
