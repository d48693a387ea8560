/**
 * Every statement the SQLite store runs. The claim rule is the heart of it: a session is
 * claimable when it is queued or running (a running one whose lease lapsed had a worker die),
 * or waiting on a timer that is due — and nobody holds a live lease on it. A lease's deadline is
 * read on the host's monotonic clock of one boot (lease-clock.ts; ?3 the boot, ?4 its time), so
 * a step of the wall clock frees nothing early; a lease from before the boot id column was
 * written falls back to its wall-clock expiry (?2).
 */
const claimable = `
  (status IN ('queued', 'running') OR (status = 'waiting' AND wake_at_ms IS NOT NULL AND wake_at_ms <= ?1))
  AND (lease_owner IS NULL
    OR (lease_boot IS NULL AND lease_expires_at_ms <= ?2)
    OR (lease_boot IS NOT NULL AND (lease_boot <> ?3 OR lease_deadline_ms <= ?4)))`;

/** The integer key of the session whose id is `id` (a parameter): see migration 7. */
function sessionKey(id: string): string {
  return `(SELECT created_order FROM sessions WHERE id = ${id})`;
}

/**
 * The default idempotency key, `<session id>:<step>:<call index>`, as SQL. The casts matter:
 * node:sqlite binds a JavaScript number as REAL, which would print as `1.0`.
 */
function defaultKey(id: string, step: string, callIndex: string): string {
  return `${id} || ':' || CAST(${step} AS INTEGER) || ':' || CAST(${callIndex} AS INTEGER)`;
}

export const sql = {
  insertSession: `INSERT INTO sessions (id, tenant_id, agent, status, head_seq, created_at_ms, updated_at_ms, created_order)
    VALUES (?, ?, ?, 'queued', 1, ?, ?, (SELECT coalesce(max(created_order), 0) + 1 FROM sessions))
    ON CONFLICT (id) DO NOTHING`,
  getSession: `SELECT * FROM sessions WHERE id = ?`,
  getSessions: `SELECT * FROM sessions WHERE id IN (SELECT value FROM json_each(?))`,
  // ?1 status, ?2 tenant, ?3 agent, ?4 after id, ?5 limit, ?6 waiting-for prefix; oldest first,
  // or newest first below.
  listSessions: `SELECT * FROM sessions
    WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR tenant_id = ?2) AND (?3 IS NULL OR agent = ?3)
      AND (?6 IS NULL OR substr(waiting_for, 1, length(?6)) = ?6)
      AND (?4 IS NULL OR (created_at_ms, created_order) > (SELECT created_at_ms, created_order FROM sessions WHERE id = ?4))
    ORDER BY created_at_ms, created_order LIMIT ?5`,
  listSessionsNewest: `SELECT * FROM sessions
    WHERE (?1 IS NULL OR status = ?1) AND (?2 IS NULL OR tenant_id = ?2) AND (?3 IS NULL OR agent = ?3)
      AND (?6 IS NULL OR substr(waiting_for, 1, length(?6)) = ?6)
      AND (?4 IS NULL OR (created_at_ms, created_order) < (SELECT created_at_ms, created_order FROM sessions WHERE id = ?4))
    ORDER BY created_at_ms DESC, created_order DESC LIMIT ?5`,
  // ?1 the time. Reads only the status index (status, wake_at_ms).
  countSessions: `SELECT status, count(*) AS n,
      sum(status = 'waiting' AND wake_at_ms IS NOT NULL AND wake_at_ms <= ?1) AS due
    FROM sessions GROUP BY status`,
  findIdempotencyKey: `SELECT request_hash, session_id FROM idempotency_keys WHERE tenant_id = ? AND key = ?`,
  insertIdempotencyKey: `INSERT INTO idempotency_keys (tenant_id, key, request_hash, session_id, created_at_ms)
    VALUES (?, ?, ?, ?, ?)`,
  // The log and the effect records are keyed by the session's integer key (created_order,
  // migration 7); these statements take the session's id, as before, and look the key up.
  insertEvent: `INSERT INTO session_log (session_key, seq, type, v, data, at_ms, epoch)
    VALUES (${sessionKey('?1')}, ?2, ?3, ?4, ?5, ?6, ?7)`,
  readEvents: `SELECT ?1 AS session_id, seq, type, v, data, at_ms, epoch FROM session_log
    WHERE session_key = ${sessionKey('?1')} AND seq > ?2 ORDER BY seq LIMIT ?3`,
  // The checkpoint (its row first, at index -1) and its parts, in one statement: one snapshot.
  readCheckpoint: `SELECT -1 AS idx, seq, state AS value FROM checkpoints WHERE session_id = ?1
    UNION ALL
    SELECT idx, NULL, value FROM checkpoint_parts WHERE session_key = ${sessionKey('?1')}
    ORDER BY idx`,
  deleteCheckpointParts: `DELETE FROM checkpoint_parts WHERE session_key = ${sessionKey('?1')} AND idx < ?2`,
  insertCheckpointPart: `INSERT INTO checkpoint_parts (session_key, idx, value)
    VALUES (${sessionKey('?1')}, ?2, ?3) ON CONFLICT DO NOTHING`,
  upsertCheckpoint: `INSERT INTO checkpoints (session_id, seq, state, saved_at_ms) VALUES (?, ?, ?, ?)
    ON CONFLICT (session_id) DO UPDATE SET seq = excluded.seq, state = excluded.state, saved_at_ms = excluded.saved_at_ms
    WHERE excluded.seq > checkpoints.seq`,
  // An idempotency key is stored only when it is not the default one.
  listEffects: `SELECT ?1 AS session_id, step, call_index, tool, effect,
      coalesce(idempotency_key, ${defaultKey('?1', 'step', 'call_index')}) AS idempotency_key,
      status, attempts, updated_at_ms
    FROM effect_records WHERE session_key = ${sessionKey('?1')} ORDER BY step, call_index`,
  upsertEffect: `INSERT INTO effect_records
      (session_key, step, call_index, tool, effect, idempotency_key, status, attempts, updated_at_ms)
    VALUES (${sessionKey('?1')}, ?2, ?3, ?4, ?5, nullif(?6, ${defaultKey('?1', '?2', '?3')}), ?7, 1, ?8)
    ON CONFLICT (session_key, step, call_index) DO UPDATE SET
      status = excluded.status,
      attempts = effect_records.attempts + (excluded.status = 'started'),
      updated_at_ms = excluded.updated_at_ms`,
  // Neither an append nor a renewal touches updated_at_ms, which orders claims: it is the time of
  // the last change of status or lease holder, and the hot path updates no indexed column.
  // ?2 is the time, ?7 the append id: an append already committed (its id is the last one) is
  // never applied twice, not even one with no events, whose seq check alone would pass again.
  advanceHead: `UPDATE sessions SET head_seq = ?1, last_append_id = ?7, last_append_at_ms = ?2
    WHERE id = ?3 AND lease_epoch = ?4 AND lease_owner = ?5 AND head_seq = ?6
      AND last_append_id IS NOT ?7`,
  lastAppend: `SELECT last_append_id, last_append_at_ms FROM sessions WHERE id = ?`,
  setStatus: `UPDATE sessions SET status = ?1, status_reason = ?2, wake_at_ms = ?3, waiting_for = ?4 WHERE id = ?5`,
  // ?5: the agents the claimer runs, a JSON array, or NULL for any agent.
  nextClaimable: `SELECT id FROM sessions WHERE ${claimable}
    AND (?5 IS NULL OR agent IN (SELECT value FROM json_each(?5))) ORDER BY updated_at_ms LIMIT 1`,
  claimableById: `SELECT id FROM sessions WHERE id = ?5 AND ${claimable}`,
  ownedUnfinished: `SELECT id FROM sessions WHERE lease_owner = ?1 AND status IN ('queued', 'running')
    AND (?2 IS NULL OR agent IN (SELECT value FROM json_each(?2)))`,
  claim: `UPDATE sessions SET lease_owner = ?1, lease_epoch = lease_epoch + 1, lease_expires_at_ms = ?2,
      status = 'running', status_reason = NULL, wake_at_ms = NULL, waiting_for = NULL, updated_at_ms = ?3,
      lease_boot = ?5, lease_deadline_ms = ?6
    WHERE id = ?4 RETURNING lease_epoch, head_seq`,
  renewLease: `UPDATE sessions SET lease_expires_at_ms = ?1, lease_boot = ?6, lease_deadline_ms = ?7
    WHERE id = ?3 AND lease_epoch = ?4 AND lease_owner = ?5`,
  releaseLease: `UPDATE sessions SET lease_owner = NULL, lease_expires_at_ms = NULL, lease_boot = NULL,
      lease_deadline_ms = NULL, updated_at_ms = ?1
    WHERE id = ?2 AND lease_epoch = ?3 AND lease_owner = ?4`,
  signalSent: `SELECT 1 FROM signals WHERE session_id = ? AND name = ? LIMIT 1`,
  insertSignal: `INSERT INTO signals (id, session_id, name, payload, created_at_ms, created_order)
    VALUES (?, ?, ?, ?, ?, (SELECT coalesce(max(created_order), 0) + 1 FROM signals))`,
  pendingSignals: `SELECT * FROM signals WHERE session_id = ? AND name = ? AND consumed_at_ms IS NULL
    ORDER BY created_at_ms, created_order`,
  consumeSignal: `UPDATE signals SET consumed_at_ms = ?1 WHERE id = ?2 AND session_id = ?3 AND consumed_at_ms IS NULL`,
  wakeForSignal: `UPDATE sessions SET status = 'queued', waiting_for = NULL, wake_at_ms = NULL, updated_at_ms = ?1
    WHERE id = ?2 AND (
      (status = 'waiting' AND waiting_for = ?3)
      OR (?4 = 'interrupt' AND status IN ('waiting', 'paused'))
      OR (?4 = 'reopen' AND status = 'completed'))`,
} as const;
