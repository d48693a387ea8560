import {
  LongrunError,
  checkClaimFilter,
  checkCount,
  checkFireRequest,
  checkScheduleQuery,
  decodePayload,
  encodeCreateSession,
  encodeNewSchedule,
  scheduleId,
  sessionId,
  type CatchUpPolicy,
  type ClaimFilter,
  type FireOutcome,
  type FireRequest,
  type FireResult,
  type ListSchedulesQuery,
  type NewSchedule,
  type OverlapPolicy,
  type ScheduleRecord,
  type ScheduleStore,
  type SessionRecord,
} from '@longrun/core';
import type { PostgresAccess } from './postgres-access.ts';
import { num, toSession, type Row } from './rows.ts';

function toSchedule(row: Row): ScheduleRecord {
  return {
    id: row.id as string,
    tenantId: row.tenant_id as string,
    agent: row.agent as string,
    cron: row.cron as string,
    timezone: row.timezone as string,
    input: decodePayload(row.input as string),
    catchUp: row.catch_up as CatchUpPolicy,
    maxCatchUp: num(row.max_catch_up, 'max_catch_up'),
    overlap: row.overlap as OverlapPolicy,
    paused: row.paused === true,
    nextFireAtMs: num(row.next_fire_at_ms, 'next_fire_at_ms'),
    lastFiredAtMs:
      row.last_fired_at_ms === null ? null : num(row.last_fired_at_ms, 'last_fired_at_ms'),
    lastSessionId: row.last_session_id === null ? null : sessionId(row.last_session_id),
    firedCount: num(row.fired_count, 'fired_count'),
    skippedCount: num(row.skipped_count, 'skipped_count'),
    createdAtMs: num(row.created_at_ms, 'created_at_ms'),
    updatedAtMs: num(row.updated_at_ms, 'updated_at_ms'),
  };
}

const notFound = (id: string) => new LongrunError('NOT_FOUND', `schedule ${id} does not exist`);

/** Schedules in the store's schema; a fire is one call of fire_schedule (migrations/v10-schedules.ts). */
export class PostgresSchedules implements ScheduleStore {
  readonly #db: PostgresAccess;

  constructor(access: PostgresAccess) {
    this.#db = access;
  }

  async create(schedule: NewSchedule): Promise<ScheduleRecord> {
    const s = encodeNewSchedule(schedule);
    const rows = await this.#db.write('creating a schedule', 'insertSchedule', [
      this.#db.nowParam(),
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
    ]);
    if (rows[0] === undefined) {
      throw new LongrunError(
        'INVALID_STATE',
        `schedule ${s.id} already exists; create it without an id or pick another`,
      );
    }
    return toSchedule(rows[0]);
  }

  async get(id: string): Promise<ScheduleRecord> {
    const checked = scheduleId(id);
    const rows = await this.#db.read('reading a schedule', 'getSchedule', [checked]);
    if (rows[0] === undefined) throw notFound(checked);
    return toSchedule(rows[0]);
  }

  async list(query?: ListSchedulesQuery): Promise<ScheduleRecord[]> {
    const q = checkScheduleQuery(query);
    const rows = await this.#db.read('listing schedules', 'listSchedules', [
      q.tenantId,
      q.afterId,
      q.limit,
    ]);
    return rows.map(toSchedule);
  }

  async pause(id: string): Promise<ScheduleRecord> {
    const checked = scheduleId(id);
    await this.#db.write('pausing a schedule', 'pauseSchedule', [this.#db.nowParam(), checked]);
    return this.get(checked);
  }

  async resume(id: string, nextFireAtMs: number): Promise<ScheduleRecord> {
    const checked = scheduleId(id);
    const next = checkCount('nextFireAtMs', nextFireAtMs);
    await this.#db.write('resuming a schedule', 'resumeSchedule', [
      this.#db.nowParam(),
      checked,
      next,
    ]);
    return this.get(checked);
  }

  async delete(id: string): Promise<void> {
    const checked = scheduleId(id);
    const rows = await this.#db.write('deleting a schedule', 'deleteSchedule', [checked]);
    if (rows.length === 0) throw notFound(checked);
  }

  async due(nowMs: number, filter?: ClaimFilter, limit = 100): Promise<ScheduleRecord[]> {
    const rows = await this.#db.read('reading due schedules', 'dueSchedules', [
      checkCount('nowMs', nowMs),
      checkClaimFilter(filter),
      checkCount('limit', limit, 1),
    ]);
    return rows.map(toSchedule);
  }

  async nextFireAtMs(filter?: ClaimFilter): Promise<number | null> {
    const rows = await this.#db.read('reading the next schedule tick', 'nextScheduleFire', [
      checkClaimFilter(filter),
    ]);
    const at = rows[0]?.at_ms;
    return at === null || at === undefined ? null : num(at, 'at_ms');
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
    const rows = await this.#db.write('firing a schedule', 'fireSchedule', [
      this.#db.nowParam(),
      id,
      read.nextFireAtMs,
      read.agent,
      read.tenantId,
      r.nextFireAtMs,
      sessions.map((s) => s.id),
      sessions.map((s) => s.data),
      r.ticks.at(-1)?.tickAtMs ?? null,
      r.skippedTicks,
    ]);
    const outcome = rows[0]?.outcome as FireOutcome;
    if (outcome !== 'fired' || sessions.length === 0) return { outcome, sessions: [] };
    const made = await this.#db.read('reading the sessions a schedule started', 'getSessions', [
      sessions.map((s) => s.id),
    ]);
    const byId = new Map(made.map((row) => [row.id as string, toSession(row)]));
    return {
      outcome,
      sessions: sessions
        .map((s) => byId.get(s.id))
        .filter((s): s is SessionRecord => s !== undefined),
    };
  }
}
