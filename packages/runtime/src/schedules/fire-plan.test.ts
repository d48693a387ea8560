import { describe, expect, it } from 'vitest';
import { isLongrunError, type ScheduleRecord } from '@longrun/core';
import { planFire } from './fire-plan.ts';
import { parseCron } from './cron-ticks.ts';

const minute = 60_000;
const t0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function schedule(over: Partial<ScheduleRecord> = {}): ScheduleRecord {
  return {
    id: 'sch_test',
    tenantId: 'default',
    agent: 'a',
    cron: '* * * * *',
    timezone: 'UTC',
    input: null,
    catchUp: 'skip',
    maxCatchUp: 100,
    overlap: 'allow',
    paused: false,
    nextFireAtMs: t0,
    lastFiredAtMs: null,
    lastSessionId: null,
    firedCount: 0,
    skippedCount: 0,
    createdAtMs: t0 - minute,
    updatedAtMs: t0 - minute,
    ...over,
  };
}

const late = 30_000;
/** The clock just after a 10-minute gap: ticks t0 … t0+10 min are due, the last one on time. */
const afterGap = t0 + 10 * minute + 5_000;

describe('planFire', () => {
  it('plans nothing before the next tick', () => {
    expect(planFire(schedule(), t0 - 1, late)).toBeNull();
  });

  it('fires a tick reached on time, whatever the policy, and moves to the next', () => {
    for (const catchUp of ['skip', 'once', 'all'] as const) {
      expect(planFire(schedule({ catchUp }), t0 + 1_000, late)).toEqual({
        schedule: schedule({ catchUp }),
        ticks: [{ tickAtMs: t0, missedTicks: 0 }],
        skippedTicks: 0,
        nextFireAtMs: t0 + minute,
      });
    }
  });

  it('skip: a gap starts nothing for the missed ticks, only the current one', () => {
    const plan = planFire(schedule({ catchUp: 'skip' }), afterGap, late);
    expect(plan?.ticks).toEqual([{ tickAtMs: t0 + 10 * minute, missedTicks: 0 }]);
    expect(plan?.skippedTicks).toBe(10);
    expect(plan?.nextFireAtMs).toBe(t0 + 11 * minute);
  });

  it('skip: a tick reached later than lateAfterMs is missed too', () => {
    const plan = planFire(schedule({ catchUp: 'skip' }), t0 + late + 1, late);
    expect(plan).toMatchObject({ ticks: [], skippedTicks: 1, nextFireAtMs: t0 + minute });
  });

  it('once: the missed ticks and the current one start one session', () => {
    const plan = planFire(schedule({ catchUp: 'once' }), afterGap, late);
    expect(plan?.ticks).toEqual([{ tickAtMs: t0 + 10 * minute, missedTicks: 10 }]);
    expect(plan?.skippedTicks).toBe(0);
    const allLate = planFire(schedule({ catchUp: 'once' }), t0 + 10 * minute + late + 1, late);
    expect(allLate?.ticks).toEqual([{ tickAtMs: t0 + 10 * minute, missedTicks: 10 }]);
  });

  it('all: every missed tick starts its own session, up to maxCatchUp', () => {
    const plan = planFire(schedule({ catchUp: 'all' }), afterGap, late);
    expect(plan?.ticks.map((t) => (t.tickAtMs - t0) / minute)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
    ]);
    expect(plan?.skippedTicks).toBe(0);
    const capped = planFire(schedule({ catchUp: 'all', maxCatchUp: 3 }), afterGap, late);
    // The 3 most recent missed ticks and the current one; the 7 older are skipped.
    expect(capped?.ticks.map((t) => (t.tickAtMs - t0) / minute)).toEqual([7, 8, 9, 10]);
    expect(capped?.skippedTicks).toBe(7);
  });

  it('overlap skip: one fire starts at most one session, the latest', () => {
    const plan = planFire(schedule({ catchUp: 'all', overlap: 'skip' }), afterGap, late);
    expect(plan?.ticks).toEqual([{ tickAtMs: t0 + 10 * minute, missedTicks: 0 }]);
    expect(plan?.skippedTicks).toBe(10);
  });

  it('reads seconds and time zones', () => {
    const everyTen = schedule({ cron: '*/10 * * * * *', catchUp: 'all' });
    expect(planFire(everyTen, t0 + 25_000, late)?.ticks.map((t) => t.tickAtMs - t0)).toEqual([
      0, 10_000, 20_000,
    ]);
    // 09:00 in Paris is 08:00 UTC in January.
    const paris = schedule({
      cron: '0 9 * * *',
      timezone: 'Europe/Paris',
      nextFireAtMs: Date.UTC(2026, 0, 1, 8),
    });
    expect(planFire(paris, Date.UTC(2026, 0, 1, 8, 0, 1), late)?.nextFireAtMs).toBe(
      Date.UTC(2026, 0, 2, 8),
    );
  });
});

describe('parseCron', () => {
  it('refuses a bad expression or zone with a message that says what is wrong', () => {
    const refused = (cron: string, zone = 'UTC') => {
      try {
        parseCron(cron, zone);
      } catch (error) {
        expect(isLongrunError(error, 'INVALID_ARGUMENT')).toBe(true);
        return (error as Error).message;
      }
      throw new Error(`${cron} was accepted`);
    };
    expect(refused('61 * * * *')).toMatch(/minute/);
    expect(refused('every day')).toMatch(/not a valid cron expression/);
    expect(refused('* * * * *', 'Mars/Olympus')).toMatch(/not an IANA time zone/);
    expect(
      parseCron('@hourly', 'UTC')
        .nextRun(new Date(t0 + 1))
        ?.getTime(),
    ).toBe(t0 + 60 * minute);
  });
});
