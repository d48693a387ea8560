/**
 * Numbered schema migrations. The version a database is at lives in `longrun_meta`; opening a
 * database whose version is newer than the last one here is refused (SCHEMA_TOO_NEW), because an
 * older longrun would misread what a newer one wrote.
 */
export const migrations: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  status TEXT NOT NULL,
  status_reason TEXT,
  head_seq INTEGER NOT NULL,
  lease_owner TEXT,
  lease_epoch INTEGER NOT NULL DEFAULT 0,
  lease_expires_at_ms INTEGER,
  wake_at_ms INTEGER,
  waiting_for TEXT,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL
);
CREATE INDEX sessions_by_status ON sessions (status, wake_at_ms);
CREATE INDEX sessions_by_owner ON sessions (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX sessions_by_creation ON sessions (created_at_ms, id);

-- The log. WITHOUT ROWID: the primary key is the storage order, so a tail read is one range scan.
CREATE TABLE events (
  session_id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  v INTEGER NOT NULL,
  data TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  PRIMARY KEY (session_id, seq)
) WITHOUT ROWID;

-- One checkpoint per session, replaced in place: storage stays linear in the log's length.
CREATE TABLE checkpoints (
  session_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  state TEXT NOT NULL,
  saved_at_ms INTEGER NOT NULL
);

CREATE TABLE effects (
  session_id TEXT NOT NULL,
  step INTEGER NOT NULL,
  call_index INTEGER NOT NULL,
  tool TEXT NOT NULL,
  effect TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (session_id, step, call_index)
) WITHOUT ROWID;

CREATE TABLE signals (
  id TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  consumed_at_ms INTEGER
);
CREATE INDEX signals_pending ON signals (session_id, name, created_at_ms) WHERE consumed_at_ms IS NULL;
`,
  },
  {
    version: 2,
    sql: `
-- Tenants: every API query is scoped by tenant; sessions made without one belong to 'default'.
ALTER TABLE sessions ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
CREATE INDEX sessions_by_tenant ON sessions (tenant_id, created_at_ms, id);

-- Idempotent session creation: one row per (tenant, key), naming the session it made.
CREATE TABLE idempotency_keys (
  tenant_id TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash TEXT NOT NULL,
  session_id TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (tenant_id, key)
) WITHOUT ROWID;

-- API keys: only the SHA-256 of the secret part is stored.
CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  name TEXT NOT NULL,
  secret_hash TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  revoked_at_ms INTEGER
);

-- Content-addressed blobs (workspace snapshots). A rowid table: large rows do not belong in a
-- WITHOUT ROWID b-tree.
CREATE TABLE blobs (
  hash TEXT NOT NULL UNIQUE,
  size INTEGER NOT NULL,
  bytes BLOB NOT NULL,
  created_at_ms INTEGER NOT NULL
);
`,
  },
  {
    version: 3,
    sql: `
-- Sessions list in the order they were made. Two sessions made in the same millisecond used to
-- tie-break on their random ids; created_order (1, 2, 3, ... as sessions are inserted, writes
-- being serial in SQLite) breaks the tie instead. Not the rowid: VACUUM may renumber that.
ALTER TABLE sessions ADD COLUMN created_order INTEGER;
UPDATE sessions SET created_order = rowid;
CREATE UNIQUE INDEX sessions_by_created_order ON sessions (created_order);
DROP INDEX sessions_by_creation;
CREATE INDEX sessions_by_creation ON sessions (created_at_ms, created_order);
DROP INDEX sessions_by_tenant;
CREATE INDEX sessions_by_tenant ON sessions (tenant_id, created_at_ms, created_order);

-- Signals (user messages, approval decisions) are read in the order they were sent, for the same
-- reason: two messages sent in one millisecond must not swap places.
ALTER TABLE signals ADD COLUMN created_order INTEGER;
UPDATE signals SET created_order = rowid;
CREATE UNIQUE INDEX signals_by_created_order ON signals (created_order);
DROP INDEX signals_pending;
CREATE INDEX signals_pending ON signals (session_id, name, created_at_ms, created_order) WHERE consumed_at_ms IS NULL;
`,
  },
  {
    version: 4,
    sql: `
-- The writer's id of the last committed append, and its time: a writer that sends an append
-- again after a failure that may have hidden the commit is answered with that append's result
-- instead of SEQ_CONFLICT (AppendRequest.appendId).
ALTER TABLE sessions ADD COLUMN last_append_id TEXT;
ALTER TABLE sessions ADD COLUMN last_append_at_ms INTEGER;
`,
  },
  {
    version: 5,
    sql: `
-- A lease's deadline on the host's monotonic clock and the boot it belongs to (lease-clock.ts):
-- the claim rule reads these, so a step of the wall clock frees nothing early.
ALTER TABLE sessions ADD COLUMN lease_boot TEXT;
ALTER TABLE sessions ADD COLUMN lease_deadline_ms INTEGER;
`,
  },
  {
    version: 6,
    sql: `
-- Cron schedules. next_fire_at_ms is the claim: a fire applies only if it is still what the firer
-- read (compare and set), in the transaction that inserts the sessions it starts.
CREATE TABLE schedules (
  id TEXT PRIMARY KEY,
  tenant_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  cron TEXT NOT NULL,
  timezone TEXT NOT NULL,
  input TEXT NOT NULL,
  catch_up TEXT NOT NULL,
  max_catch_up INTEGER NOT NULL,
  overlap TEXT NOT NULL,
  paused INTEGER NOT NULL DEFAULT 0,
  next_fire_at_ms INTEGER NOT NULL,
  last_fired_at_ms INTEGER,
  last_session_id TEXT,
  fired_count INTEGER NOT NULL DEFAULT 0,
  skipped_count INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  created_order INTEGER NOT NULL
);
CREATE INDEX schedules_due ON schedules (next_fire_at_ms) WHERE paused = 0;
CREATE INDEX schedules_by_tenant ON schedules (tenant_id, created_order);
`,
  },
  {
    version: 7,
    sql: `
-- Storage per step: every event and effect row repeated the session's 37-character text id in its
-- primary key (a third of an event row's overhead). The log and the effect records are keyed by
-- the session's created_order instead: an integer given once at creation, never renumbered
-- (VACUUM may renumber a rowid). An effect record stores its idempotency key only when it is not
-- the default <session id>:<step>:<call index>. Postgres did the same in its migration 5.
CREATE TABLE session_log (
  session_key INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  type TEXT NOT NULL,
  v INTEGER NOT NULL,
  data TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  epoch INTEGER NOT NULL,
  PRIMARY KEY (session_key, seq)
) WITHOUT ROWID;
INSERT INTO session_log (session_key, seq, type, v, data, at_ms, epoch)
  SELECT s.created_order, e.seq, e.type, e.v, e.data, e.at_ms, e.epoch
  FROM events e JOIN sessions s ON s.id = e.session_id;
DROP TABLE events;

CREATE TABLE effect_records (
  session_key INTEGER NOT NULL,
  step INTEGER NOT NULL,
  call_index INTEGER NOT NULL,
  tool TEXT NOT NULL,
  effect TEXT NOT NULL,
  idempotency_key TEXT,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  updated_at_ms INTEGER NOT NULL,
  PRIMARY KEY (session_key, step, call_index)
) WITHOUT ROWID;
INSERT INTO effect_records
    (session_key, step, call_index, tool, effect, idempotency_key, status, attempts, updated_at_ms)
  SELECT s.created_order, f.step, f.call_index, f.tool, f.effect,
    nullif(f.idempotency_key, f.session_id || ':' || f.step || ':' || f.call_index),
    f.status, f.attempts, f.updated_at_ms
  FROM effects f JOIN sessions s ON s.id = f.session_id;
DROP TABLE effects;
`,
  },
  {
    version: 8,
    sql: `
-- Webhooks of durable waits: a hook per (session, hook id), counting its deliveries, and its
-- tokens, of which only the SHA-256 is kept (a re-run tool call adds a token to the same hook).
CREATE TABLE webhooks (
  session_id TEXT NOT NULL,
  hook_id TEXT NOT NULL,
  multi_use INTEGER NOT NULL,
  expires_at_ms INTEGER,
  deliveries INTEGER NOT NULL DEFAULT 0,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (session_id, hook_id)
) WITHOUT ROWID;
CREATE TABLE webhook_tokens (
  token_hash TEXT PRIMARY KEY,
  session_id TEXT NOT NULL,
  hook_id TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
`,
  },
  {
    version: 9,
    sql: `
-- Roles of API keys (core's apiKeyRoles). Keys made before roles could do everything: admin.
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'admin'
  CHECK (role IN ('admin', 'approver', 'operator', 'viewer'));
`,
  },
  {
    version: 10,
    sql: `
-- Tenants' spend per UTC day (core's TenantSpendStore): the day's total, and each model call's
-- charge (its projection until settled), one per (session, reservation id).
CREATE TABLE tenant_day_spend (
  tenant_id TEXT NOT NULL,
  day TEXT NOT NULL,
  cost_usd REAL NOT NULL DEFAULT 0,
  input_tokens INTEGER NOT NULL DEFAULT 0,
  output_tokens INTEGER NOT NULL DEFAULT 0,
  cache_tokens INTEGER NOT NULL DEFAULT 0,
  calls INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day)
) WITHOUT ROWID;
CREATE TABLE tenant_charges (
  session_id TEXT NOT NULL,
  reservation_id TEXT NOT NULL,
  tenant_id TEXT NOT NULL,
  day TEXT NOT NULL,
  cost_usd REAL NOT NULL,
  input_tokens INTEGER NOT NULL,
  output_tokens INTEGER NOT NULL,
  cache_tokens INTEGER NOT NULL,
  settled INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (session_id, reservation_id)
) WITHOUT ROWID;
`,
  },
  {
    version: 11,
    sql: `
-- Storage per step: session_log.data and checkpoints.state may hold, instead of JSON text, a BLOB
-- of one format byte and the text deflated against a fixed dictionary (packed-json.ts); a value
-- is packed when that saves at least an eighth. Rows written before stay text and read as they
-- were. Nothing changes in the tables: the version is what keeps an older longrun, which would
-- misread a packed value, from opening the file (SCHEMA_TOO_NEW).
`,
  },
  {
    version: 12,
    sql: `
-- Workspace edits: a tool.completed event may carry the workspace files its call changed
-- (workspaceEdits), to be applied on the last stored manifest. Nothing changes in the tables:
-- the version keeps an older longrun, which would restore the manifest without the edits and so
-- give a resumed session stale files, from opening the file (SCHEMA_TOO_NEW).
`,
  },
  {
    version: 13,
    sql: `
-- Checkpoint parts: pieces of a checkpoint written once and kept beside it (CheckpointWrite), so
-- a checkpoint rewritten every 64 events carries what changed since, not the whole transcript.
-- An index always stands for the same value; a checkpoint that replaces the stored one removes
-- the parts below its keepFrom. Values are JSON text or packed like checkpoints.state.
CREATE TABLE checkpoint_parts (
  session_key INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  value NOT NULL,
  PRIMARY KEY (session_key, idx)
) WITHOUT ROWID;
`,
  },
  {
    version: 14,
    sql: `
-- A signal sent once (sendSignal's once: a decision on an approval) is refused when one of its
-- name was sent before, consumed or not: this index answers that without a scan.
CREATE INDEX signals_by_name ON signals (session_id, name);
`,
  },
];

export const latestSchemaVersion = migrations.at(-1)?.version ?? 0;
