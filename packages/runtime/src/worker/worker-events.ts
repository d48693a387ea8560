import type { LongrunError, StoredEvent } from '@longrun/core';
import type { RunOutcome } from '../run-outcome.ts';
import type { ScheduleFired } from '../schedules/schedule-ticker.ts';

/** One structured log line of a worker (the `log` event); JSON-ready. */
export interface WorkerLogEntry {
  level: 'info' | 'warn' | 'error';
  msg: string;
  workerId?: string;
  sessionId?: string;
  [k: string]: unknown;
}

/**
 * Everything a worker tells the process it runs in, by name (DESIGN §11). The live channel,
 * structured logs and figures are subscribers (see the other files of this folder); a
 * subscriber that needs something the worker does not tell gets a new entry here, never a
 * callback threaded through the runners.
 */
export interface WorkerEventMap {
  /** A text delta from the model, the moment it arrives (before it is durable). */
  'model.delta': { sessionId: string; step: number; attempt: number; text: string };
  /**
   * This worker claimed a session (a new claim, or a reclaim of its own): `headSeq` is the last
   * seq of its log at the claim, before the run writes anything; `atMs` the claim's time by the
   * store's clock (its lease's expiry less the lease length).
   */
  'session.claimed': { sessionId: string; epoch: number; headSeq: number; atMs: number };
  /** Events the store just acknowledged, in seq order: one append of one session. */
  'events.committed': { sessionId: string; events: readonly StoredEvent[] };
  /** A run of a session ended in this process; `error`: it was parked as paused because of `error`. */
  'session.ended': { sessionId: string; outcome: RunOutcome | 'error'; error?: unknown };
  /** A write keeps failing for a transient reason (full disk, lost connection); it is retried. */
  'append.stalled': { sessionId: string; error: LongrunError };
  /** The stalled write went through. */
  'append.recovered': { sessionId: string };
  /** The lease keeper gave a session's lease up: its side effects are being stopped. */
  'lease.lost': { sessionId: string; reason: string };
  /** The store cannot vouch for this worker: every session's side effects are being stopped. */
  'liveness.doubt': { error: Error; sessions: number };
  /** Liveness confirmed again after a doubt; `reclaimed` sessions this worker still owned. */
  'liveness.confirmed': { reclaimed: number };
  /** This worker's schedule ticker handled due ticks (started sessions, or skipped ticks). */
  'schedule.fired': ScheduleFired;
  /** A structured log line. */
  log: WorkerLogEntry;
}

export type WorkerEventName = keyof WorkerEventMap;
export type WorkerListener<K extends WorkerEventName> = (payload: WorkerEventMap[K]) => void;

/**
 * A typed event map with `on`/`off`. Listeners run synchronously, in subscription order; one that
 * throws does not stop the worker or the other listeners (its error is logged instead), so a
 * broken subscriber never costs a session.
 */
export class WorkerEvents {
  readonly #listeners = new Map<WorkerEventName, Set<WorkerListener<never>>>();

  /** Adds a listener; returns a function that removes it. */
  on<K extends WorkerEventName>(name: K, listener: WorkerListener<K>): () => void {
    let set = this.#listeners.get(name);
    if (set === undefined) this.#listeners.set(name, (set = new Set()));
    set.add(listener);
    return () => this.off(name, listener);
  }

  off<K extends WorkerEventName>(name: K, listener: WorkerListener<K>): void {
    this.#listeners.get(name)?.delete(listener);
  }

  /** Whether anyone listens, so a payload that costs something is built only then. */
  has(name: WorkerEventName): boolean {
    return (this.#listeners.get(name)?.size ?? 0) > 0;
  }

  emit<K extends WorkerEventName>(name: K, payload: WorkerEventMap[K]): void {
    const set = this.#listeners.get(name);
    if (set === undefined) return;
    for (const listener of set) {
      try {
        (listener as WorkerListener<K>)(payload);
      } catch (error) {
        if (name === 'log') continue;
        this.emit('log', {
          level: 'error',
          msg: `a ${name} subscriber threw: ${(error as Error)?.message ?? String(error)}`,
        });
      }
    }
  }
}
