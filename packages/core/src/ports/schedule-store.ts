import type { JsonValue } from '../json.ts';
import type { SessionId } from '../ids.ts';
import type { ClaimFilter, SessionRecord } from './session-store.ts';

/**
 * What happens to ticks that came due while no ticker ran (every worker was down, or behind):
 * - `skip`: they start nothing; the schedule moves on to its next tick in the future;
 * - `once`: all of them together start one session (for the latest);
 * - `all`: each starts its own session, the most recent `maxCatchUp` of them; older ones are skipped.
 * A tick a ticker reaches on time (see ScheduleTicker's `lateAfterMs`) always starts a session.
 */
export type CatchUpPolicy = 'skip' | 'once' | 'all';

/**
 * A tick whose schedule's previous session is not finished yet: `skip` records it as skipped and
 * starts nothing; `allow` starts a session anyway.
 */
export type OverlapPolicy = 'skip' | 'allow';

export const catchUpPolicies = ['skip', 'once', 'all'] as const satisfies readonly CatchUpPolicy[];
export const overlapPolicies = ['skip', 'allow'] as const satisfies readonly OverlapPolicy[];

/** A cron schedule that starts sessions of one agent with one input. */
export interface ScheduleRecord {
  id: string;
  tenantId: string;
  agent: string;
  /** A cron expression: 5 fields, or 6 with seconds first (croner's syntax). */
  cron: string;
  /** The IANA time zone the expression is read in, e.g. `UTC`, `Europe/Paris`. */
  timezone: string;
  /** The input of every session the schedule starts. */
  input: JsonValue;
  catchUp: CatchUpPolicy;
  /** With catch-up `all`: at most this many missed ticks start sessions, the most recent ones. */
  maxCatchUp: number;
  overlap: OverlapPolicy;
  /** A paused schedule fires nothing; resuming it moves it to its next tick from then. */
  paused: boolean;
  /** The next tick to handle, epoch milliseconds: the claim every firer compares and sets. */
  nextFireAtMs: number;
  /** The tick the last session was started for; null before the first. */
  lastFiredAtMs: number | null;
  /** The session the last fire started; what overlap `skip` looks at. */
  lastSessionId: SessionId | null;
  /** Sessions started so far, and ticks passed over without one (catch-up, overlap). */
  firedCount: number;
  skippedCount: number;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface NewSchedule {
  /** Default: a fresh `sch_…` id. */
  id?: string;
  /** Default: `default`. */
  tenantId?: string;
  agent: string;
  cron: string;
  timezone: string;
  input: JsonValue;
  catchUp: CatchUpPolicy;
  maxCatchUp: number;
  overlap: OverlapPolicy;
  /** The first tick, computed from `cron` by the caller (the store does not read cron). */
  nextFireAtMs: number;
}

export interface ListSchedulesQuery {
  tenantId?: string;
  /** Default 100, at most 1,000. */
  limit?: number;
  /** Keyset pagination: schedules created after this one. */
  afterId?: string;
}

/** One tick that starts a session. */
export interface ScheduleTick {
  tickAtMs: number;
  /** Ticks before this one that got no session of their own and that this one stands for. */
  missedTicks: number;
}

/**
 * One fire of a schedule: the ticks from its `nextFireAtMs` up to now, decided by the firer.
 * It applies only if the schedule still has the `nextFireAtMs` the firer read and is not paused
 * (compare and set, with the sessions made in the same transaction): however many firers race,
 * and however often one sends the same fire again, each tick is handled once.
 */
export interface FireRequest {
  /** The schedule as the firer read it; its `nextFireAtMs` is the value compared. */
  schedule: ScheduleRecord;
  /** Ticks that start a session, ascending; at most one when the overlap policy is `skip`. */
  ticks: ScheduleTick[];
  /** Ticks passed over without a session. */
  skippedTicks: number;
  /** The schedule's next tick after this fire; later than every tick handled. */
  nextFireAtMs: number;
}

export type FireOutcome =
  /** The ticks were handled: sessions started (possibly none, when all were skipped). */
  | 'fired'
  /** Overlap `skip` and the previous session is not finished: the ticks were skipped. */
  | 'overlapped'
  /** Another firer handled these ticks first, or the schedule was paused or deleted. */
  | 'stale';

export interface FireResult {
  outcome: FireOutcome;
  /** The sessions started, in tick order (empty unless `fired`). */
  sessions: SessionRecord[];
}

/**
 * Schedules, per tenant, in the same database as the sessions they start. The store keeps rows
 * and applies fires atomically; reading cron expressions is the caller's (the runtime's).
 */
export interface ScheduleStore {
  /** Stores a new schedule; a duplicate id is refused with INVALID_STATE. */
  create(schedule: NewSchedule): Promise<ScheduleRecord>;
  /** NOT_FOUND when there is no such schedule. */
  get(id: string): Promise<ScheduleRecord>;
  /** Oldest first. */
  list(query?: ListSchedulesQuery): Promise<ScheduleRecord[]>;
  /** Pauses the schedule (a no-op when paused). NOT_FOUND when there is none. */
  pause(id: string): Promise<ScheduleRecord>;
  /**
   * Unpauses it with its next tick at `nextFireAtMs` (ticks during the pause are not caught up);
   * a schedule that is not paused is left as it is. NOT_FOUND when there is none.
   */
  resume(id: string, nextFireAtMs: number): Promise<ScheduleRecord>;
  /** Deletes it; the sessions it started stay. NOT_FOUND when there is none. */
  delete(id: string): Promise<void>;
  /**
   * Unpaused schedules whose next tick is at or before `nowMs`, earliest first, of the filter's
   * agents when it names them; at most `limit` (default 100).
   */
  due(nowMs: number, filter?: ClaimFilter, limit?: number): Promise<ScheduleRecord[]>;
  /** The earliest next tick of an unpaused schedule (of the filter's agents), or null. */
  nextFireAtMs(filter?: ClaimFilter): Promise<number | null>;
  /** Applies one fire if the schedule still stands where the firer read it; see FireRequest. */
  fire(request: FireRequest): Promise<FireResult>;
}
