import type { FireRequest, ScheduleRecord, ScheduleTick } from '@longrun/core';
import { nextTickAfter, parseCron } from './cron-ticks.ts';

/** The most ticks one plan looks at; a longer backlog is worked through in several fires. */
export const maxTicksPerPlan = 10_000;

/**
 * Decides what a schedule's due ticks start, from its row and the time now (pure: the caller
 * passes the clock). The due ticks are those from `nextFireAtMs` up to now. The latest of them is
 * on time when it is at most `lateAfterMs` old; every other due tick was missed (a later tick
 * came due before anyone fired it: no ticker ran). The catch-up policy says what missed ticks
 * start (CatchUpPolicy); under overlap `skip` one fire starts at most one session (the latest).
 * Returns null when nothing is due.
 */
export function planFire(
  schedule: ScheduleRecord,
  nowMs: number,
  lateAfterMs: number,
): FireRequest | null {
  if (schedule.nextFireAtMs > nowMs) return null;
  const cron = parseCron(schedule.cron, schedule.timezone);
  const due: number[] = [];
  let next: number | null = schedule.nextFireAtMs;
  while (next !== null && next <= nowMs && due.length < maxTicksPerPlan) {
    due.push(next);
    next = nextTickAfter(cron, next);
  }
  const last = due.at(-1) as number;
  // A schedule whose expression has no later tick is parked far in the future (it never fires).
  const nextFireAtMs = next ?? Number.MAX_SAFE_INTEGER;
  const onTime = nextFireAtMs > nowMs && nowMs - last <= lateAfterMs;
  const missed = onTime ? due.slice(0, -1) : due;
  let ticks = ticksFor(schedule, missed, onTime ? last : null);
  if (schedule.overlap === 'skip' && ticks.length > 1) ticks = ticks.slice(-1);
  const started = ticks.reduce((n, t) => n + 1 + t.missedTicks, 0);
  return { schedule, ticks, skippedTicks: due.length - started, nextFireAtMs };
}

function ticksFor(
  schedule: ScheduleRecord,
  missed: readonly number[],
  onTime: number | null,
): ScheduleTick[] {
  const own = (tickAtMs: number): ScheduleTick => ({ tickAtMs, missedTicks: 0 });
  const current = onTime === null ? [] : [own(onTime)];
  switch (schedule.catchUp) {
    case 'skip':
      return current;
    case 'once': {
      // The latest due tick stands for the others (all of them missed).
      const latest = onTime ?? missed.at(-1);
      const others = onTime === null ? missed.length - 1 : missed.length;
      return latest === undefined ? [] : [{ tickAtMs: latest, missedTicks: others }];
    }
    case 'all':
      return [...missed.slice(-schedule.maxCatchUp).map(own), ...current];
  }
}
