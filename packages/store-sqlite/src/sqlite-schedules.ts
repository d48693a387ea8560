import {
  LongrunError,
  checkCount,
  checkFireRequest,
  checkScheduleQuery,
  decodePayload,
  encodeCreateSession,
  encodeNewSchedule,
  scheduleId,
  sessionId,
  terminalStatuses,
  type CatchUpPolicy,
  type ClaimFilter,
  type FireRequest,
  type FireResult,
  type ListSchedulesQuery,
  type NewSchedule,
  type OverlapPolicy,
  type ScheduleRecord,
  type ScheduleStore,
  type SessionStatus,
} from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';
import { agentsParam } from './sql.ts';

const sql = {
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

type Row = Record<string, unknown>;

function toSchedule(row: Row): ScheduleRecord {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    agent: row.agent as string,
    cron: row.cron as string,
    timezone: row.timezone as string,
    input: decodePayload(row.input as string),
    catchUp: row.catch_up as CatchUpPolicy,
    maxCatchUp: row.max_catch_up as number,
    overlap: row.overlap as OverlapPolicy,
    paused: row.paused === 1,
    nextFireAtMs: row.next_fire_at_ms as number,
    lastFiredAtMs: (row.last_fired_at_ms as number | null) ?? null,
    lastSessionId: row.last_session_id === null ? null : sessionId(row.last_session_id),
    firedCount: row.fired_count as number,
    skippedCount: row.skipped_count as number,
    createdAtMs: row.created_at_ms as number,
    updatedAtMs: row.updated_at_ms as number,
  };
}

const notFound = (id: string) => new LongrunError('NOT_FOUND', `schedule ${id} does not exist`);

/** Schedules in the SQLite file; a fire inserts its sessions in the transaction that claims the tick. */
export class SqliteSchedules implements ScheduleStore {
  readonly #db: SqliteAccess;

  constructor(access: SqliteAccess) {
    this.#db = access;
  }

  async create(schedule: NewSchedule): Promise<ScheduleRecord> {
    const s = encodeNewSchedule(schedule);
    return this.#db.tx('creating a schedule', () => {
      const now = this.#db.nowMs();
      const { changes } = this.#db
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
        throw new LongrunError(
          'INVALID_STATE',
          `schedule ${s.id} already exists; create it without an id or pick another`,
        );
      }
      return this.#get(s.id);
    });
  }

  async get(id: string): Promise<ScheduleRecord> {
    const checked = scheduleId(id);
    return this.#db.run('reading a schedule', () => this.#get(checked));
  }

  async list(query?: ListSchedulesQuery): Promise<ScheduleRecord[]> {
    const q = checkScheduleQuery(query);
    return this.#db.run('listing schedules', () =>
      this.#db.stmt(sql.list).all(q.tenantId, q.afterId, q.limit).map(toSchedule),
    );
  }

  async pause(id: string): Promise<ScheduleRecord> {
    const checked = scheduleId(id);
    return this.#db.tx('pausing a schedule', () => {
      this.#db.stmt(sql.pause).run(this.#db.nowMs(), checked);
      return this.#get(checked);
    });
  }

  async resume(id: string, nextFireAtMs: number): Promise<ScheduleRecord> {
    const checked = scheduleId(id);
    const next = checkCount('nextFireAtMs', nextFireAtMs);
    return this.#db.tx('resuming a schedule', () => {
      this.#db.stmt(sql.resume).run(next, this.#db.nowMs(), checked);
      return this.#get(checked);
    });
  }

  async delete(id: string): Promise<void> {
    const checked = scheduleId(id);
    this.#db.tx('deleting a schedule', () => {
      if (this.#db.stmt(sql.delete).run(checked).changes === 0) throw notFound(checked);
    });
  }

  async due(nowMs: number, filter?: ClaimFilter, limit = 100): Promise<ScheduleRecord[]> {
    const now = checkCount('nowMs', nowMs);
    const max = checkCount('limit', limit, 1);
    const agents = agentsParam(filter);
    return this.#db.run('reading due schedules', () =>
      this.#db.stmt(sql.due).all(now, agents, max).map(toSchedule),
    );
  }

  async nextFireAtMs(filter?: ClaimFilter): Promise<number | null> {
    const agents = agentsParam(filter);
    return this.#db.run('reading the next schedule tick', () => {
      const row = this.#db.stmt(sql.nextFire).get(agents);
      return (row?.at_ms as number | null | undefined) ?? null;
    });
  }

  async fire(request: FireRequest): Promise<FireResult> {
    const r = checkFireRequest(request);
    const read = r.schedule;
    const id = scheduleId(read.id);
    const sessions = r.ticks.map((tick) =>
      encodeCreateSession({
        tenantId: read.tenantId,
        agent: read.agent,
        input: read.input,
        schedule: { id, tickAtMs: tick.tickAtMs, missedTicks: tick.missedTicks },
      }),
    );
    return this.#db.tx('firing a schedule', () => {
      const now = this.#db.nowMs();
      const row = this.#db.stmt(sql.get).get(id);
      if (
        row === undefined ||
        row.paused === 1 ||
        row.next_fire_at_ms !== read.nextFireAtMs ||
        row.agent !== read.agent ||
        row.tenant_id !== read.tenantId
      ) {
        return { outcome: 'stale', sessions: [] };
      }
      if (sessions.length > 0 && this.#overlaps(toSchedule(row))) {
        const skipped = sessions.length + r.skippedTicks;
        this.#db.stmt(sql.advance).run(r.nextFireAtMs, null, null, 0, skipped, now, id);
        return { outcome: 'overlapped', sessions: [] };
      }
      const made = sessions.map((session) => this.#db.insertSession(session, now));
      const last = made.at(-1);
      this.#db
        .stmt(sql.advance)
        .run(
          r.nextFireAtMs,
          r.ticks.at(-1)?.tickAtMs ?? null,
          last?.id ?? null,
          made.length,
          r.skippedTicks,
          now,
          id,
        );
      return { outcome: 'fired', sessions: made };
    });
  }

  /** Overlap `skip` and the schedule's last session is not finished. */
  #overlaps(schedule: ScheduleRecord): boolean {
    if (schedule.overlap !== 'skip' || schedule.lastSessionId === null) return false;
    const row = this.#db.stmt(sql.sessionStatus).get(schedule.lastSessionId);
    return row !== undefined && !terminalStatuses.includes(row.status as SessionStatus);
  }

  #get(id: string): ScheduleRecord {
    const row = this.#db.stmt(sql.get).get(id);
    if (row === undefined) throw notFound(id);
    return toSchedule(row);
  }
}
