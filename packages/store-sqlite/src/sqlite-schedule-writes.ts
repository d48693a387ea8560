import type { EncodedCreateSession, EncodedNewSchedule, FireOutcome } from '@longrun/core';
import { insertSession } from './sqlite-session-writes.ts';
import { WriterFailure } from './writer-failure.ts';
import type { SessionRow, WriterDb } from './writer-db.ts';

/** The statements of the schedules table (read here too, by SqliteSchedules). */
export const scheduleSql = {
  insert: `INSERT INTO schedules (id, tenant_id, agent, cron, timezone, input, catch_up, max_catch_up, overlap,
      next_fire_at_ms, created_at_ms, updated_at_ms, created_order)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, (SELECT coalesce(max(created_order), 0) + 1 FROM schedules))
    ON CONFLICT (id) DO NOTHING`,
  get: `SELECT * FROM schedules WHERE id = ?`,
  // ?1 tenant, ?2 after id, ?3 limit.
  list: `SELECT * FROM schedules WHERE (?1 IS NULL OR tenant_id = ?1)
      AND (?2 IS NULL OR created_order > (SELECT created_order FROM schedules WHERE id = ?2))
    ORDER BY created_order LIMIT ?3`,
  pause: `UPDATE schedules SET paused = 1, updated_at_ms = ?1 WHERE id = ?2 AND paused = 0`,
  resume: `UPDATE schedules SET paused = 0, next_fire_at_ms = ?1, updated_at_ms = ?2 WHERE id = ?3 AND paused = 1`,
  delete: `DELETE FROM schedules WHERE id = ?`,
  // ?1 now, ?2 the agents (a JSON array) or NULL for any, ?3 limit.
  due: `SELECT * FROM schedules WHERE paused = 0 AND next_fire_at_ms <= ?1
      AND (?2 IS NULL OR agent IN (SELECT value FROM json_each(?2)))
    ORDER BY next_fire_at_ms LIMIT ?3`,
  nextFire: `SELECT min(next_fire_at_ms) AS at_ms FROM schedules WHERE paused = 0
      AND (?1 IS NULL OR agent IN (SELECT value FROM json_each(?1)))`,
  sessionStatus: `SELECT status FROM sessions WHERE id = ?`,
  // ?1 next, ?2 last fired tick (or NULL to keep), ?3 last session (or NULL to keep), ?4 fired,
  // ?5 skipped, ?6 now, ?7 id.
  advance: `UPDATE schedules SET next_fire_at_ms = ?1, last_fired_at_ms = coalesce(?2, last_fired_at_ms),
      last_session_id = coalesce(?3, last_session_id), fired_count = fired_count + ?4,
      skipped_count = skipped_count + ?5, updated_at_ms = ?6
    WHERE id = ?7`,
} as const;

const sql = scheduleSql;
type Row = Record<string, unknown>;

export const scheduleMissing = (id: string) => `schedule ${id} does not exist`;

function scheduleRow(db: WriterDb, id: string): Row {
  const row = db.stmt(sql.get).get(id);
  if (row === undefined) throw new WriterFailure('NOT_FOUND', scheduleMissing(id));
  return row;
}

/** A fire as it crosses to the writer thread: checked, its sessions encoded, by the caller. */
export interface FireWrite {
  /** The schedule as the firer read it: the compare of compare-and-set. */
  read: { id: string; nextFireAtMs: number; agent: string; tenantId: string };
  sessions: EncodedCreateSession[];
  /** The last tick fired, or null when none is. */
  lastTickAtMs: number | null;
  skippedTicks: number;
  nextFireAtMs: number;
  /** Statuses of a finished session (core's terminalStatuses), for the overlap check. */
  terminalStatuses: readonly string[];
  nowMs: number;
}

/** The writes of the schedules table, as the writer thread runs them (sqlite-writes.ts). */
export const scheduleWrites = {
  createSchedule(db: WriterDb, w: { schedule: EncodedNewSchedule; nowMs: number }): Row {
    const { schedule: s, nowMs: now } = w;
    const { changes } = db
      .stmt(sql.insert)
      .run(
        s.id,
        s.tenantId,
        s.agent,
        s.cron,
        s.timezone,
        s.input,
        s.catchUp,
        s.maxCatchUp,
        s.overlap,
        s.nextFireAtMs,
        now,
        now,
      );
    if (changes === 0) {
      throw new WriterFailure(
        'INVALID_STATE',
        `schedule ${s.id} already exists; create it without an id or pick another`,
      );
    }
    return scheduleRow(db, s.id);
  },

  pauseSchedule(db: WriterDb, w: { id: string; nowMs: number }): Row {
    db.stmt(sql.pause).run(w.nowMs, w.id);
    return scheduleRow(db, w.id);
  },

  resumeSchedule(db: WriterDb, w: { id: string; nextFireAtMs: number; nowMs: number }): Row {
    db.stmt(sql.resume).run(w.nextFireAtMs, w.nowMs, w.id);
    return scheduleRow(db, w.id);
  },

  deleteSchedule(db: WriterDb, w: { id: string }): void {
    if (db.stmt(sql.delete).run(w.id).changes === 0) {
      throw new WriterFailure('NOT_FOUND', scheduleMissing(w.id));
    }
  },

  /**
   * Applies a fire if the schedule is still as the firer read it: inserts its sessions and moves
   * the next tick, in the one transaction. Returns the sessions' rows (the caller maps them).
   */
  fireSchedule(db: WriterDb, w: FireWrite): { outcome: FireOutcome; sessions: SessionRow[] } {
    const now = w.nowMs;
    const row = db.stmt(sql.get).get(w.read.id);
    if (
      row === undefined ||
      row.paused === 1 ||
      row.next_fire_at_ms !== w.read.nextFireAtMs ||
      row.agent !== w.read.agent ||
      row.tenant_id !== w.read.tenantId
    ) {
      return { outcome: 'stale', sessions: [] };
    }
    if (w.sessions.length > 0 && overlaps(db, row, w.terminalStatuses)) {
      const skipped = w.sessions.length + w.skippedTicks;
      db.stmt(sql.advance).run(w.nextFireAtMs, null, null, 0, skipped, now, w.read.id);
      return { outcome: 'overlapped', sessions: [] };
    }
    const made = w.sessions.map((session) => insertSession(db, session, now));
    db.stmt(sql.advance).run(
      w.nextFireAtMs,
      w.lastTickAtMs,
      (made.at(-1)?.id as string | undefined) ?? null,
      made.length,
      w.skippedTicks,
      now,
      w.read.id,
    );
    return { outcome: 'fired', sessions: made };
  },
};

/** Overlap `skip` and the schedule's last session is not finished. */
function overlaps(db: WriterDb, schedule: Row, terminal: readonly string[]): boolean {
  if (schedule.overlap !== 'skip' || schedule.last_session_id === null) return false;
  const row = db.stmt(sql.sessionStatus).get(schedule.last_session_id as string);
  return row !== undefined && !terminal.includes(row.status as string);
}
