import type { SchemaName } from './schema-name.ts';
import { functions, tables } from './migrations/v1-tables.ts';
import { appendBatch } from './migrations/v2-append-batch.ts';
import { signalWakeModes } from './migrations/v3-signal-wake-modes.ts';
import { tenantsKeysBlobs } from './migrations/v4-tenants-keys-blobs.ts';
import { compactLog, compactWrites } from './migrations/v5-compact-log.ts';
import { creationOrder } from './migrations/v6-creation-order.ts';
import { appendIds } from './migrations/v7-append-ids.ts';
import { workerHeartbeats } from './migrations/v8-worker-heartbeats.ts';
import { observedLiveness } from './migrations/v9-observed-liveness.ts';
import { schedules } from './migrations/v10-schedules.ts';
import { webhooks } from './migrations/v11-webhooks.ts';
import { cancelBeforeWait } from './migrations/v12-cancel-before-wait.ts';
import { keyRoles } from './migrations/v13-key-roles.ts';
import { tenantSpend } from './migrations/v14-tenant-spend.ts';
import { packedEvents } from './migrations/v15-packed-events.ts';
import { checkpointParts } from './migrations/v17-checkpoint-parts.ts';
import { heldSessions } from './migrations/v18-held-sessions.ts';
import { onceSignals } from './migrations/v19-once-signals.ts';
import { flatAppendBatch } from './migrations/v20-flat-append-batch.ts';

/**
 * Numbered schema migrations. The version a schema is at lives in its `longrun_meta` table;
 * opening a schema whose version is newer than the last one here is refused (SCHEMA_TOO_NEW),
 * because an older longrun would misread what a newer one wrote. Tables mirror the SQLite store
 * column for column; times are epoch milliseconds in bigint, payloads are JSON text (not jsonb,
 * which would reorder keys and break the exact round trip), or, from version 15, an event's data
 * packed (bytea, `@longrun/core/packed-json`).
 */
export const migrations: readonly { version: number; sql: (s: SchemaName) => string }[] = [
  { version: 1, sql: (s) => tables(s.quoted) + functions(s.quoted) },
  { version: 2, sql: (s) => appendBatch(s.quoted) },
  { version: 3, sql: (s) => signalWakeModes(s.quoted) },
  { version: 4, sql: (s) => tenantsKeysBlobs(s.quoted) },
  { version: 5, sql: (s) => compactLog(s.quoted) + compactWrites(s.quoted) },
  { version: 6, sql: (s) => creationOrder(s.quoted) },
  { version: 7, sql: (s) => appendIds(s.quoted) },
  { version: 8, sql: (s) => workerHeartbeats(s.quoted) },
  { version: 9, sql: (s) => observedLiveness(s.quoted) },
  { version: 10, sql: (s) => schedules(s.quoted) },
  { version: 11, sql: (s) => webhooks(s.quoted) },
  { version: 12, sql: (s) => cancelBeforeWait(s.quoted) },
  { version: 13, sql: (s) => keyRoles(s.quoted) },
  { version: 14, sql: (s) => tenantSpend(s.quoted) },
  { version: 15, sql: (s) => packedEvents(s.quoted) },
  // Workspace edits: a tool.completed event may carry the files its call changed, applied on the
  // last stored manifest. No table changes: the version keeps an older longrun, which would
  // restore the manifest without the edits (stale files), from opening the schema.
  { version: 16, sql: () => 'SELECT 1' },
  { version: 17, sql: (s) => checkpointParts(s.quoted) },
  { version: 18, sql: (s) => heldSessions(s.quoted) },
  { version: 19, sql: (s) => onceSignals(s.quoted) },
  { version: 20, sql: (s) => flatAppendBatch(s.quoted) },
];

export const latestSchemaVersion = migrations.at(-1)?.version ?? 0;
