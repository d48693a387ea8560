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
];

export const latestSchemaVersion = migrations.at(-1)?.version ?? 0;
