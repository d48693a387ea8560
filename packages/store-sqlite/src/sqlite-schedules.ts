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
} from '@longrun/core';
import type { SqliteAccess } from './sqlite-access.ts';
import { agentsParam } from './claim-filter.ts';
import { scheduleMissing, scheduleSql as sql } from './sqlite-schedule-writes.ts';
import { toSession } from './rows.ts';

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

const notFound = (id: string) => new LongrunError('NOT_FOUND', scheduleMissing(id));

/** Schedules in the SQLite file; a fire inserts its sessions in the transaction that claims the tick. */
export class SqliteSchedules implements ScheduleStore {
  readonly #db: SqliteAccess;

  constructor(access: SqliteAccess) {
    this.#db = access;
  }

  async create(schedule: NewSchedule): Promise<ScheduleRecord> {
    const row = await this.#db.write('createSchedule', {
      schedule: encodeNewSchedule(schedule),
      nowMs: this.#db.nowMs(),
    });
    return toSchedule(row);
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
    return toSchedule(
      await this.#db.write('pauseSchedule', { id: checked, nowMs: this.#db.nowMs() }),
    );
  }

  async resume(id: string, nextFireAtMs: number): Promise<ScheduleRecord> {
    const checked = scheduleId(id);
    const next = checkCount('nextFireAtMs', nextFireAtMs);
    const row = await this.#db.write('resumeSchedule', {
      id: checked,
      nextFireAtMs: next,
      nowMs: this.#db.nowMs(),
    });
    return toSchedule(row);
  }

  async delete(id: string): Promise<void> {
    return this.#db.write('deleteSchedule', { id: scheduleId(id) });
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
    const fired = await this.#db.write('fireSchedule', {
      read: { id, nextFireAtMs: read.nextFireAtMs, agent: read.agent, tenantId: read.tenantId },
      sessions,
      lastTickAtMs: r.ticks.at(-1)?.tickAtMs ?? null,
      skippedTicks: r.skippedTicks,
      nextFireAtMs: r.nextFireAtMs,
      terminalStatuses,
      nowMs: this.#db.nowMs(),
    });
    return { outcome: fired.outcome, sessions: fired.sessions.map((row) => toSession(row)) };
  }

  #get(id: string): ScheduleRecord {
    const row = this.#db.stmt(sql.get).get(id);
    if (row === undefined) throw notFound(id);
    return toSchedule(row);
  }
}
