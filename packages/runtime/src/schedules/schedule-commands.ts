import {
  LongrunError,
  checkCatchUp,
  checkOverlap,
  type CatchUpPolicy,
  type JsonValue,
  type OverlapPolicy,
  type ScheduleRecord,
  type SessionStore,
} from '@longrun/core';
import { nextTickAfter, parseCron } from './cron-ticks.ts';

/** A schedule as a person asks for it; the runtime reads the expression and finds its first tick. */
export interface ScheduleRequest {
  agent: string;
  cron: string;
  /** Default `UTC`. */
  timezone?: string;
  input: JsonValue;
  /** Default `skip`. */
  catchUp?: CatchUpPolicy;
  /** Default 100. */
  maxCatchUp?: number;
  /** Default `skip`. */
  overlap?: OverlapPolicy;
  /** Default: the default tenant. */
  tenantId?: string;
  /** Create it paused. */
  paused?: boolean;
}

export const scheduleDefaults = {
  timezone: 'UTC',
  catchUp: 'skip',
  maxCatchUp: 100,
  overlap: 'skip',
} as const satisfies Partial<ScheduleRequest>;

/**
 * Creates a schedule whose first tick is the first after now by the store's clock. A bad
 * expression or time zone is INVALID_ARGUMENT saying what is wrong.
 */
export async function createSchedule(
  store: SessionStore,
  request: ScheduleRequest,
): Promise<ScheduleRecord> {
  const timezone = request.timezone ?? scheduleDefaults.timezone;
  const cron = parseCron(request.cron, timezone);
  const first = nextTickAfter(cron, await store.nowMs());
  if (first === null) {
    throw new LongrunError('INVALID_ARGUMENT', `cron ${JSON.stringify(request.cron)} never fires`);
  }
  const made = await store.schedules.create({
    ...(request.tenantId === undefined ? {} : { tenantId: request.tenantId }),
    agent: request.agent,
    cron: request.cron,
    timezone,
    input: request.input,
    catchUp: checkCatchUp(request.catchUp ?? scheduleDefaults.catchUp),
    maxCatchUp: request.maxCatchUp ?? scheduleDefaults.maxCatchUp,
    overlap: checkOverlap(request.overlap ?? scheduleDefaults.overlap),
    nextFireAtMs: first,
  });
  return request.paused === true ? store.schedules.pause(made.id) : made;
}

/**
 * Unpauses a schedule from its first tick after now: ticks that came due while it was paused
 * are not caught up (pausing means "not now"). A schedule that is not paused is left as it is.
 */
export async function resumeSchedule(store: SessionStore, id: string): Promise<ScheduleRecord> {
  const schedule = await store.schedules.get(id);
  if (!schedule.paused) return schedule;
  const next = nextTickAfter(parseCron(schedule.cron, schedule.timezone), await store.nowMs());
  return store.schedules.resume(id, next ?? Number.MAX_SAFE_INTEGER);
}
