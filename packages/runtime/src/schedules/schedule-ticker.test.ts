import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ManualClock, type SessionRecord } from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel } from '@longrun/models/testing';
import { tempDir } from '../testing.ts';
import { Worker } from '../worker.ts';
import { defineAgent } from '../agent/define-agent.ts';
import { ScheduleTicker, type ScheduleFired } from './schedule-ticker.ts';
import { createSchedule, resumeSchedule } from './schedule-commands.ts';

const minute = 60_000;
const start = Date.UTC(2026, 0, 1, 12, 0, 30);
const opened: SqliteStore[] = [];

async function openStores(count: number, clock: ManualClock): Promise<SqliteStore[]> {
  const path = join(tempDir('ticker'), 'db.sqlite');
  for (let i = 0; i < count; i++) opened.push(await SqliteStore.open({ path, clock }));
  return opened.slice(-count);
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

/** Every session the schedule started, as (tick, missed ticks) in tick order. */
async function startedTicks(store: SqliteStore, agent: string) {
  const sessions: SessionRecord[] = await store.listSessions({ agent, limit: 1000 });
  const ticks = [];
  for (const s of sessions) {
    const [created] = await store.readEvents(s.id, 0, 1);
    if (created?.type !== 'session.created' || created.data.schedule === undefined)
      throw new Error(`session ${s.id} was not started by a schedule`);
    ticks.push(created.data.schedule);
  }
  return ticks.sort((a, b) => a.tickAtMs - b.tickAtMs);
}

describe('ScheduleTicker', () => {
  it('three tickers on one database start one session per tick, in step with the store clock', async () => {
    const clock = new ManualClock(start);
    const stores = await openStores(3, clock);
    const schedule = await createSchedule(stores[0]!, {
      agent: 'cron',
      cron: '* * * * *',
      input: { hello: 'world' },
      catchUp: 'all',
      overlap: 'allow',
    });
    expect(schedule.nextFireAtMs).toBe(Date.UTC(2026, 0, 1, 12, 1));
    const fired: ScheduleFired[] = [];
    const tickers = stores.map(
      (store) => new ScheduleTicker({ store, onFired: (f) => fired.push(f) }),
    );
    for (let i = 0; i < 50; i++) {
      clock.advance(minute);
      // Each ticker sleeps until the next tick, a minute at most... capped by pollMs.
      const sleeps = await Promise.all(tickers.map((t) => t.tickOnce()));
      expect(Math.max(...sleeps)).toBeLessThanOrEqual(1_000);
    }
    const ticks = await startedTicks(stores[0]!, 'cron');
    expect(ticks.map((t) => t.tickAtMs)).toEqual(
      Array.from({ length: 50 }, (_, i) => schedule.nextFireAtMs + i * minute),
    );
    expect(fired).toHaveLength(50);
    expect(await stores[1]!.schedules.get(schedule.id)).toMatchObject({
      firedCount: 50,
      skippedCount: 0,
      nextFireAtMs: schedule.nextFireAtMs + 50 * minute,
    });
  });

  it('after a 10-minute gap with no ticker, handles the missed ticks by each catch-up policy', async () => {
    const clock = new ManualClock(start);
    const [store] = await openStores(1, clock);
    const made = {} as Record<'skip' | 'once' | 'all', string>;
    for (const catchUp of ['skip', 'once', 'all'] as const) {
      made[catchUp] = (
        await createSchedule(store!, {
          agent: `gap-${catchUp}`,
          cron: '* * * * *',
          input: null,
          catchUp,
          // The sessions are never run here: overlap `skip` would skip every tick after the first.
          overlap: 'allow',
        })
      ).id;
    }
    const ticker = new ScheduleTicker({ store: store!, lateAfterMs: 30_000 });
    clock.advance(minute); // 12:01:30: tick 12:01 on time
    await ticker.tickOnce();
    clock.advance(10 * minute); // 12:11:30: ticks 12:02 … 12:11 due, 12:11 on time
    await ticker.tickOnce();
    const at = (h: number, m: number) => Date.UTC(2026, 0, 1, h, m);
    expect(await startedTicks(store!, 'gap-skip')).toEqual([
      { id: made.skip, tickAtMs: at(12, 1), missedTicks: 0 },
      { id: made.skip, tickAtMs: at(12, 11), missedTicks: 0 },
    ]);
    expect(await startedTicks(store!, 'gap-once')).toEqual([
      { id: made.once, tickAtMs: at(12, 1), missedTicks: 0 },
      { id: made.once, tickAtMs: at(12, 11), missedTicks: 9 },
    ]);
    expect((await startedTicks(store!, 'gap-all')).map((t) => t.tickAtMs)).toEqual(
      Array.from({ length: 11 }, (_, i) => at(12, 1 + i)),
    );
    expect((await store!.schedules.get(made.skip)).skippedCount).toBe(9);
    expect((await store!.schedules.get(made.once)).skippedCount).toBe(0);
  });

  it('fires nothing while paused and does not catch up the pause on resume', async () => {
    const clock = new ManualClock(start);
    const [store] = await openStores(1, clock);
    const s = await createSchedule(store!, {
      agent: 'paused',
      cron: '* * * * *',
      input: null,
      catchUp: 'all',
    });
    await store!.schedules.pause(s.id);
    const ticker = new ScheduleTicker({ store: store! });
    clock.advance(5 * minute);
    await ticker.tickOnce();
    const resumed = await resumeSchedule(store!, s.id);
    expect(resumed.nextFireAtMs).toBe(Date.UTC(2026, 0, 1, 12, 6));
    clock.advance(minute);
    await ticker.tickOnce();
    expect((await startedTicks(store!, 'paused')).map((t) => t.tickAtMs)).toEqual([
      Date.UTC(2026, 0, 1, 12, 6),
    ]);
  });
});

describe('a worker with schedules', () => {
  it('fires the schedules of its agents and runs the sessions they start', async () => {
    const dir = tempDir('worker-schedules');
    const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
    opened.push(store);
    const agent = defineAgent({
      name: 'every-second',
      model: scriptedModel([{ text: 'tick' }, { text: 'tick' }]),
      instructions: 'Say tick.',
      tools: [],
      workspaceSnapshots: false,
      workspaceRoot: join(dir, 'ws'),
    });
    const other = await createSchedule(store, {
      agent: 'not-mine',
      cron: '* * * * * *',
      input: null,
    });
    const mine = await createSchedule(store, {
      agent: 'every-second',
      cron: '* * * * * *',
      input: 'go',
    });
    const worker = new Worker({ store, agents: [agent], schedules: { pollMs: 50 } });
    const fired: ScheduleFired[] = [];
    worker.on('schedule.fired', (f) => fired.push(f));
    await worker.start();
    try {
      let done: SessionRecord[] = [];
      for (let i = 0; i < 400 && done.length === 0; i++) {
        await new Promise((r) => setTimeout(r, 10));
        done = await store.listSessions({ agent: 'every-second', status: 'completed' });
      }
      expect(done.length).toBeGreaterThan(0);
      expect(fired.every((f) => f.scheduleId === mine.id)).toBe(true);
      expect(await store.listSessions({ agent: 'not-mine' })).toEqual([]);
      expect((await store.schedules.get(other.id)).firedCount).toBe(0);
    } finally {
      await worker.stop();
    }
  });
});
