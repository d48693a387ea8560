import { expect, it } from 'vitest';
import type { FireRequest, NewSchedule, ScheduleRecord } from '@longrun/core';
import { expectCode, leaseMs, workerA, type ContractContext } from './contract-helpers.ts';

const minute = 60_000;

function newSchedule(ctx: ContractContext, over: Partial<NewSchedule> = {}): NewSchedule {
  return {
    agent: 'cron-agent',
    cron: '* * * * *',
    timezone: 'UTC',
    input: { task: 'tick', n: [1, 2] },
    catchUp: 'all',
    maxCatchUp: 10,
    overlap: 'allow',
    nextFireAtMs: ctx.clock.nowMs() + minute,
    ...over,
  };
}

/** A fire of the schedule's next tick (and `extra` more ticks a minute apart). */
function fireOf(schedule: ScheduleRecord, extra = 0, skippedTicks = 0): FireRequest {
  const ticks = Array.from({ length: extra + 1 }, (_, i) => ({
    tickAtMs: schedule.nextFireAtMs + i * minute,
    missedTicks: 0,
  }));
  return {
    schedule,
    ticks,
    skippedTicks,
    nextFireAtMs: schedule.nextFireAtMs + (extra + 1) * minute,
  };
}

/** Schedules: rows per tenant, and fires that apply once however they race. */
export function schedulesContract(ctx: ContractContext): void {
  it('creates, reads, lists by tenant in creation order, and deletes schedules', async () => {
    const a = await ctx.store.schedules.create(newSchedule(ctx, { tenantId: 't1' }));
    const b = await ctx.store.schedules.create(
      newSchedule(ctx, { tenantId: 't1', cron: '0 * * * *' }),
    );
    await ctx.store.schedules.create(newSchedule(ctx, { tenantId: 't2' }));
    expect(a).toMatchObject({
      tenantId: 't1',
      agent: 'cron-agent',
      input: { task: 'tick', n: [1, 2] },
      paused: false,
      lastFiredAtMs: null,
      lastSessionId: null,
      firedCount: 0,
      skippedCount: 0,
      createdAtMs: ctx.clock.nowMs(),
    });
    expect(a.id).toMatch(/^sch_/);
    expect(await ctx.store.schedules.get(a.id)).toEqual(a);
    expect((await ctx.store.schedules.list({ tenantId: 't1' })).map((s) => s.id)).toEqual([
      a.id,
      b.id,
    ]);
    expect(
      (await ctx.store.schedules.list({ tenantId: 't1', afterId: a.id })).map((s) => s.id),
    ).toEqual([b.id]);
    expect(await ctx.store.schedules.list()).toHaveLength(3);
    await ctx.store.schedules.delete(a.id);
    await expectCode(ctx.store.schedules.get(a.id), 'NOT_FOUND');
    await expectCode(ctx.store.schedules.delete(a.id), 'NOT_FOUND');
    await expectCode(ctx.store.schedules.create(newSchedule(ctx, { id: b.id })), 'INVALID_STATE');
    await expectCode(
      ctx.store.schedules.create(newSchedule(ctx, { catchUp: 'never' as 'skip' })),
      'INVALID_ARGUMENT',
    );
  });

  it('lists due schedules earliest first, by agent, and says when the next is due', async () => {
    const now = ctx.clock.nowMs();
    const late = await ctx.store.schedules.create(newSchedule(ctx, { nextFireAtMs: now - 10 }));
    const early = await ctx.store.schedules.create(newSchedule(ctx, { nextFireAtMs: now - 20 }));
    const other = await ctx.store.schedules.create(
      newSchedule(ctx, { agent: 'other', nextFireAtMs: now - 30 }),
    );
    await ctx.store.schedules.create(newSchedule(ctx, { nextFireAtMs: now + 5 }));
    const ids = (list: ScheduleRecord[]) => list.map((s) => s.id);
    expect(ids(await ctx.store.schedules.due(now))).toEqual([other.id, early.id, late.id]);
    expect(ids(await ctx.store.schedules.due(now, { agents: ['cron-agent'] }))).toEqual([
      early.id,
      late.id,
    ]);
    expect(ids(await ctx.store.schedules.due(now, undefined, 1))).toEqual([other.id]);
    expect(await ctx.store.schedules.nextFireAtMs({ agents: ['other'] })).toBe(now - 30);
    expect(await ctx.store.schedules.nextFireAtMs({ agents: ['nobody'] })).toBeNull();
    await ctx.store.schedules.pause(other.id);
    expect(ids(await ctx.store.schedules.due(now))).toEqual([early.id, late.id]);
  });

  it('fires a tick once: the session records its schedule and tick, a second fire is stale', async () => {
    const schedule = await ctx.store.schedules.create(newSchedule(ctx));
    const fired = await ctx.store.schedules.fire(fireOf(schedule));
    expect(fired.outcome).toBe('fired');
    expect(fired.sessions).toHaveLength(1);
    const session = fired.sessions[0];
    expect(session).toMatchObject({ agent: 'cron-agent', tenantId: 'default', status: 'queued' });
    const [created] = await ctx.store.readEvents(session!.id);
    expect(created?.data).toEqual({
      agent: 'cron-agent',
      input: { task: 'tick', n: [1, 2] },
      schedule: { id: schedule.id, tickAtMs: schedule.nextFireAtMs, missedTicks: 0 },
    });
    // The same fire sent again (a lost acknowledgement, or another worker) changes nothing.
    expect(await ctx.store.schedules.fire(fireOf(schedule))).toEqual({
      outcome: 'stale',
      sessions: [],
    });
    const after = await ctx.store.schedules.get(schedule.id);
    expect(after).toMatchObject({
      nextFireAtMs: schedule.nextFireAtMs + minute,
      lastFiredAtMs: schedule.nextFireAtMs,
      lastSessionId: session!.id,
      firedCount: 1,
    });
    expect(await ctx.store.listSessions({ agent: 'cron-agent' })).toHaveLength(1);
  });

  it('starts one session per tick however many firers race on it', async () => {
    const schedule = await ctx.store.schedules.create(newSchedule(ctx));
    const results = await Promise.all(
      Array.from({ length: 8 }, () => ctx.store.schedules.fire(fireOf(schedule, 2))),
    );
    expect(results.filter((r) => r.outcome === 'fired')).toHaveLength(1);
    const sessions = await ctx.store.listSessions({ agent: 'cron-agent' });
    expect(sessions).toHaveLength(3);
    expect((await ctx.store.schedules.get(schedule.id)).firedCount).toBe(3);
  });

  it('fires nothing while paused; resuming moves the schedule to the tick given', async () => {
    const schedule = await ctx.store.schedules.create(newSchedule(ctx));
    const paused = await ctx.store.schedules.pause(schedule.id);
    expect(paused.paused).toBe(true);
    expect((await ctx.store.schedules.pause(schedule.id)).paused).toBe(true);
    expect((await ctx.store.schedules.fire(fireOf(schedule))).outcome).toBe('stale');
    const resumed = await ctx.store.schedules.resume(
      schedule.id,
      schedule.nextFireAtMs + 5 * minute,
    );
    expect(resumed).toMatchObject({
      paused: false,
      nextFireAtMs: schedule.nextFireAtMs + 5 * minute,
    });
    // Resuming a running schedule leaves its next tick alone.
    expect((await ctx.store.schedules.resume(schedule.id, 1)).nextFireAtMs).toBe(
      resumed.nextFireAtMs,
    );
    expect((await ctx.store.schedules.fire(fireOf(schedule))).outcome).toBe('stale');
    expect((await ctx.store.schedules.fire(fireOf(resumed))).outcome).toBe('fired');
    await expectCode(ctx.store.schedules.pause('sch_missing'), 'NOT_FOUND');
    await expectCode(ctx.store.schedules.resume('sch_missing', 1), 'NOT_FOUND');
  });

  it('records skipped ticks and moves on without a session', async () => {
    const schedule = await ctx.store.schedules.create(newSchedule(ctx));
    const result = await ctx.store.schedules.fire({
      schedule,
      ticks: [],
      skippedTicks: 4,
      nextFireAtMs: schedule.nextFireAtMs + 4 * minute,
    });
    expect(result).toEqual({ outcome: 'fired', sessions: [] });
    expect(await ctx.store.schedules.get(schedule.id)).toMatchObject({
      skippedCount: 4,
      firedCount: 0,
      lastFiredAtMs: null,
      nextFireAtMs: schedule.nextFireAtMs + 4 * minute,
    });
  });

  it('with overlap skip, skips a tick while the previous session is unfinished', async () => {
    let schedule = await ctx.store.schedules.create(newSchedule(ctx, { overlap: 'skip' }));
    const first = await ctx.store.schedules.fire(fireOf(schedule));
    const previous = first.sessions[0]!;
    schedule = await ctx.store.schedules.get(schedule.id);
    expect(await ctx.store.schedules.fire(fireOf(schedule))).toEqual({
      outcome: 'overlapped',
      sessions: [],
    });
    schedule = await ctx.store.schedules.get(schedule.id);
    expect(schedule).toMatchObject({ firedCount: 1, skippedCount: 1, lastSessionId: previous.id });
    // The previous session finishes: the next tick starts a session again.
    const lease = await ctx.store.claim(previous.id, workerA, leaseMs);
    await ctx.store.append({
      fence: lease!,
      expectedSeq: lease!.headSeq,
      events: [],
      status: { status: 'completed' },
      releaseLease: true,
    });
    expect((await ctx.store.schedules.fire(fireOf(schedule))).outcome).toBe('fired');
    await expectCode(ctx.store.schedules.fire(fireOf(schedule, 1)), 'INVALID_ARGUMENT');
  });

  it('refuses fires whose ticks do not follow the schedule', async () => {
    const schedule = await ctx.store.schedules.create(newSchedule(ctx, { maxCatchUp: 2 }));
    const backwards = { ...fireOf(schedule), nextFireAtMs: schedule.nextFireAtMs };
    await expectCode(ctx.store.schedules.fire(backwards), 'INVALID_ARGUMENT');
    const early = {
      ...fireOf(schedule),
      ticks: [{ tickAtMs: schedule.nextFireAtMs - 1, missedTicks: 0 }],
    };
    await expectCode(ctx.store.schedules.fire(early), 'INVALID_ARGUMENT');
    await expectCode(ctx.store.schedules.fire(fireOf(schedule, 3)), 'INVALID_ARGUMENT');
    expect((await ctx.store.schedules.get(schedule.id)).firedCount).toBe(0);
  });
}
