import { LongrunError } from '../errors.ts';
import { defaultTenantId, newScheduleId, scheduleId, tenantId } from '../ids.ts';
import { encodePayload } from '../json.ts';
import {
  catchUpPolicies,
  overlapPolicies,
  type CatchUpPolicy,
  type FireRequest,
  type ListSchedulesQuery,
  type NewSchedule,
  type OverlapPolicy,
} from './schedule-store.ts';
import { checkCount, checkName } from './store-input.ts';

/** The most missed ticks one `all` catch-up may start sessions for. */
export const maxCatchUpLimit = 1_000;

/** A new schedule, checked the same way by every store, with its input encoded for storage. */
export interface EncodedNewSchedule extends Omit<NewSchedule, 'id' | 'tenantId' | 'input'> {
  id: string;
  tenantId: string;
  /** The input, as JSON text. */
  input: string;
}

function bad(message: string): LongrunError {
  return new LongrunError('INVALID_ARGUMENT', message);
}

export function checkCatchUp(value: unknown): CatchUpPolicy {
  if (!(catchUpPolicies as readonly unknown[]).includes(value)) {
    throw bad(
      `catchUp must be one of ${catchUpPolicies.join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
  return value as CatchUpPolicy;
}

export function checkOverlap(value: unknown): OverlapPolicy {
  if (!(overlapPolicies as readonly unknown[]).includes(value)) {
    throw bad(
      `overlap must be one of ${overlapPolicies.join(', ')} (got ${JSON.stringify(value)})`,
    );
  }
  return value as OverlapPolicy;
}

export function encodeNewSchedule(schedule: NewSchedule): EncodedNewSchedule {
  if (typeof schedule !== 'object' || schedule === null) {
    throw bad('a schedule needs { agent, cron, timezone, input, catchUp, overlap, nextFireAtMs }');
  }
  const maxCatchUp = checkCount('maxCatchUp', schedule.maxCatchUp, 1);
  if (maxCatchUp > maxCatchUpLimit) throw bad(`maxCatchUp must be at most ${maxCatchUpLimit}`);
  return {
    id: schedule.id === undefined ? newScheduleId() : scheduleId(schedule.id),
    tenantId: schedule.tenantId === undefined ? defaultTenantId : tenantId(schedule.tenantId),
    agent: checkName('agent', schedule.agent),
    cron: checkName('cron', schedule.cron),
    timezone: checkName('timezone', schedule.timezone),
    input: encodePayload(schedule.input, 'schedule input'),
    catchUp: checkCatchUp(schedule.catchUp),
    maxCatchUp,
    overlap: checkOverlap(schedule.overlap),
    nextFireAtMs: checkCount('nextFireAtMs', schedule.nextFireAtMs),
  };
}

export interface CheckedScheduleQuery {
  tenantId: string | null;
  limit: number;
  afterId: string | null;
}

export function checkScheduleQuery(query: ListSchedulesQuery = {}): CheckedScheduleQuery {
  return {
    tenantId: query.tenantId === undefined ? null : tenantId(query.tenantId),
    limit: Math.min(checkCount('limit', query.limit ?? 100, 1), 1000),
    afterId: query.afterId === undefined ? null : scheduleId(query.afterId),
  };
}

/**
 * Checks a fire: ticks ascending from the schedule's `nextFireAtMs`, the next tick after all of
 * them, at most one session under overlap `skip` and at most `maxCatchUp + 1` in all.
 */
export function checkFireRequest(request: FireRequest): FireRequest {
  if (typeof request !== 'object' || request === null || typeof request.schedule !== 'object') {
    throw bad('a fire needs { schedule, ticks, skippedTicks, nextFireAtMs }');
  }
  const expected = checkCount('schedule.nextFireAtMs', request.schedule.nextFireAtMs);
  if (!Array.isArray(request.ticks)) throw bad('ticks must be an array');
  let previous = expected - 1;
  for (const [i, tick] of request.ticks.entries()) {
    const at = checkCount(`ticks[${i}].tickAtMs`, tick?.tickAtMs);
    checkCount(`ticks[${i}].missedTicks`, tick.missedTicks);
    if (at <= previous) throw bad('ticks must ascend from the schedule’s nextFireAtMs');
    previous = at;
  }
  if (request.ticks.length > request.schedule.maxCatchUp + 1) {
    throw bad(`a fire starts at most maxCatchUp + 1 sessions (${request.schedule.maxCatchUp + 1})`);
  }
  if (request.schedule.overlap === 'skip' && request.ticks.length > 1) {
    throw bad('with overlap skip a fire starts at most one session');
  }
  checkCount('skippedTicks', request.skippedTicks);
  const next = checkCount('nextFireAtMs', request.nextFireAtMs);
  if (next <= previous || next <= expected) {
    throw bad('nextFireAtMs must be later than the schedule’s nextFireAtMs and every tick fired');
  }
  return request;
}
