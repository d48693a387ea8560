import type { ClaimFilter, FireResult, ScheduleRecord, SessionStore } from '@longrun/core';
import { backoffMs, pause } from '../backoff.ts';
import { planFire } from './fire-plan.ts';

/** What one fire did, for logs and metrics. */
export interface ScheduleFired {
  scheduleId: string;
  outcome: FireResult['outcome'];
  /** Ids of the sessions it started, in tick order. */
  sessionIds: string[];
  ticksAtMs: number[];
  skippedTicks: number;
}

export interface ScheduleTickerOptions {
  store: SessionStore;
  /** Only schedules of these agents (a worker's agents: what it can run). Absent: every agent. */
  agents?: readonly string[];
  /**
   * The time that decides when a tick is due. Default: the store's clock (`store.nowMs()`), the
   * one clock every process shares. A firer's clock decides only when a tick fires, never how
   * often: the store applies each tick once (FireRequest).
   */
  nowMs?: () => Promise<number> | number;
  /**
   * The longest sleep between looks at the store, milliseconds (default 1000): how late a
   * schedule made or resumed elsewhere is noticed. Otherwise the ticker sleeps until the next tick.
   */
  pollMs?: number;
  /** A tick reached more than this long after its time counts as missed (default 60,000 ms). */
  lateAfterMs?: number;
  /** Told of every fire that did something (not of a fire another process won: `stale`). */
  onFired?: (fired: ScheduleFired) => void;
  /** Told of failures (the store unreachable, a schedule it cannot read); the ticker goes on. */
  onError?: (error: unknown, scheduleId?: string) => void;
}

/** Schedules looked at per wake; more due ones are taken at the next, at once. */
const batchSize = 100;

/**
 * Fires due schedule ticks: wakes at the next tick (or after `pollMs` at most), reads the due
 * schedules, plans each fire (fire-plan.ts) and hands it to the store, which applies it only if
 * no other firer did first. Any number of tickers may run against one store.
 */
export class ScheduleTicker {
  readonly #o: Required<Pick<ScheduleTickerOptions, 'pollMs' | 'lateAfterMs'>> &
    ScheduleTickerOptions;
  readonly #filter: ClaimFilter | undefined;
  readonly #stop = new AbortController();
  #nap: AbortController | null = null;
  /** A nudge that came while no nap was running: the next nap is skipped. */
  #nudged = false;
  #loop: Promise<void> | null = null;

  constructor(options: ScheduleTickerOptions) {
    this.#o = { pollMs: 1_000, lateAfterMs: 60_000, ...options };
    this.#filter = options.agents === undefined ? undefined : { agents: [...options.agents] };
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Looks at the store now rather than at the next tick (e.g. a schedule was just made here). */
  nudge(): void {
    if (this.#nap === null) this.#nudged = true;
    else this.#nap.abort();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#nap?.abort();
    await this.#loop;
  }

  /**
   * One look: fires every due schedule; returns how long until the next tick (milliseconds,
   * capped at `pollMs`), or 0 when more were due than one look takes.
   */
  async tickOnce(): Promise<number> {
    const now = await this.#now();
    const due = await this.#o.store.schedules.due(now, this.#filter, batchSize);
    for (const schedule of due) {
      if (this.#stop.signal.aborted) break;
      await this.#fire(schedule, now);
    }
    if (due.length === batchSize) return 0;
    const next = await this.#o.store.schedules.nextFireAtMs(this.#filter);
    const untilMs = next === null ? this.#o.pollMs : next - (await this.#now());
    return Math.max(0, Math.min(this.#o.pollMs, untilMs));
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      let sleepMs: number;
      try {
        sleepMs = await this.tickOnce();
        failures = 0;
      } catch (error) {
        this.#o.onError?.(error);
        sleepMs = backoffMs(++failures, 200, Math.max(this.#o.pollMs, 5_000));
      }
      if (this.#nudged) {
        this.#nudged = false;
        continue;
      }
      this.#nap = new AbortController();
      await pause(sleepMs, AbortSignal.any([this.#stop.signal, this.#nap.signal]));
      this.#nap = null;
    }
  }

  async #fire(schedule: ScheduleRecord, nowMs: number): Promise<void> {
    let result: FireResult;
    let plan;
    try {
      plan = planFire(schedule, nowMs, this.#o.lateAfterMs);
      if (plan === null) return;
      result = await this.#o.store.schedules.fire(plan);
    } catch (error) {
      this.#o.onError?.(error, schedule.id);
      return;
    }
    if (result.outcome === 'stale') return;
    this.#o.onFired?.({
      scheduleId: schedule.id,
      outcome: result.outcome,
      sessionIds: result.sessions.map((s) => s.id),
      ticksAtMs: plan.ticks.map((t) => t.tickAtMs),
      skippedTicks:
        result.outcome === 'overlapped' ? plan.ticks.length + plan.skippedTicks : plan.skippedTicks,
    });
  }

  async #now(): Promise<number> {
    return this.#o.nowMs === undefined ? this.#o.store.nowMs() : this.#o.nowMs();
  }
}
