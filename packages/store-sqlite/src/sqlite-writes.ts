import type { WriterDb } from './writer-db.ts';
import { applyAppend } from './sqlite-append.ts';
import { sessionWrites } from './sqlite-session-writes.ts';
import { sideTableWrites } from './side-table-writes.ts';
import { scheduleWrites } from './sqlite-schedule-writes.ts';
import { webhookWrites } from './sqlite-webhook-writes.ts';
import { tenantSpendWrites } from './sqlite-tenant-spend-writes.ts';
import { migrateSchema } from './migrate.ts';

/**
 * Every write the store makes, by name: what the writer thread runs for a request of that name,
 * inside its group-commit transaction. Arguments and results cross between threads by structured
 * clone, so they are plain data: encoded payloads as strings, blobs as bytes.
 */
export const writes = {
  append: applyAppend,
  ...sessionWrites,
  ...sideTableWrites,
  ...scheduleWrites,
  ...webhookWrites,
  ...tenantSpendWrites,
  migrate: (db: WriterDb, w: { nowMs: number }): void => migrateSchema(db, w.nowMs),
} satisfies Record<string, (db: WriterDb, args: never) => unknown>;

export type Writes = typeof writes;
export type WriteName = keyof Writes;
export type WriteArgs<K extends WriteName> = Parameters<Writes[K]>[1];
export type WriteResult<K extends WriteName> = ReturnType<Writes[K]>;

/** What each write is doing, for the message of an error it meets. */
export const writeDoing: Record<WriteName, string> = {
  append: 'appending events',
  createSession: 'creating a session',
  claimNext: 'claiming a session',
  claim: 'claiming a session',
  reclaimOwned: 'reclaiming sessions',
  renewLease: 'renewing a lease',
  releaseLease: 'releasing a lease',
  sendSignal: 'sending a signal',
  saveCheckpoint: 'saving a checkpoint',
  createApiKey: 'creating an API key',
  revokeApiKey: 'revoking an API key',
  putBlob: 'storing a blob',
  migrate: 'migrating the schema',
  createSchedule: 'creating a schedule',
  pauseSchedule: 'pausing a schedule',
  resumeSchedule: 'resuming a schedule',
  deleteSchedule: 'deleting a schedule',
  fireSchedule: 'firing a schedule',
  registerWebhook: 'registering a webhook',
  deliverWebhook: 'delivering a webhook',
  reserveTenantSpend: "charging a model call to its tenant's day",
  settleTenantSpend: "settling a model call on its tenant's day",
};
