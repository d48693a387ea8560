export { PostgresStore, type PostgresStoreOptions } from './postgres-store.ts';
export { latestSchemaVersion } from './migrations.ts';
export { PostgresLiveChannel, liveChannelName } from './postgres-live-channel.ts';
