import { performance } from 'node:perf_hooks';
import pg from 'pg';
import {
  LongrunError,
  type WorkerId,
  type WorkerLivenessEvents,
  type WorkerRegistration,
} from '@longrun/core';
import { processIsGone, type ProcessIdentity } from './process-identity.ts';
import type { Statements } from './sql.ts';

export interface LivenessConfig {
  clientConfig: pg.ClientConfig;
  sql: Statements;
  /** The injected time, or null for the server's clock. */
  nowParam: () => number | null;
  translate: (error: unknown, doing: string) => LongrunError;
  /** L: how long the store counts the worker alive after each heartbeat, milliseconds. */
  livenessMs: number;
  identity: ProcessIdentity | null;
  log?: (message: string) => void;
}

/**
 * A worker's liveness in the store (DESIGN §3, "one holder, always"). A dedicated connection
 * (never a pooled one, whose session state other callers would share) holds the worker id's
 * advisory lock — one live process per id — and sends heartbeats, each counted in the worker's
 * `beats`. Its sessions are claimable by others only once it is ended: it stopped, a worker on
 * its host saw its process gone, or a claimer saw its count stand still for L by the claimer's
 * own monotonic clock and declared it dead (liveness-observer.ts).
 *
 * The timing bound, with L = livenessMs:
 * - a heartbeat goes every L/5;
 * - when no heartbeat sent in the last L/2 (by this process's monotonic clock) has been
 *   confirmed, the worker is in doubt: `onDoubt` fires and the worker stops every side effect;
 * - a claimer first reads a count after the heartbeat that made it committed, so after it was
 *   sent; it declares the worker dead L after that read, if the count has not moved. The
 *   worker's doubt came at most L/2 after that send: it has at least L/2 to stop before anyone
 *   may claim. The margin covers stopping (a sandbox dies in milliseconds; in-process tools must
 *   honour their abort signal), event-loop lag and clocks that run at different rates; no wall
 *   clock is read, so a step of the server's or a worker's clock frees nothing early;
 * - a heartbeat that finds the worker ended puts it in doubt at once, before it registers again.
 * A dropped connection is reconnected (the lock re-taken, an own stale backend ended) for as long
 * as the outage lasts; `onConfirmed` reports the first heartbeat after a doubt.
 */
export class WorkerLiveness implements WorkerRegistration {
  readonly workerId: WorkerId;
  readonly #c: LivenessConfig;
  readonly #events: WorkerLivenessEvents;
  #client: pg.Client | null = null;
  /** The backend that took the lock, so a reconnect can end it if the server still keeps it. */
  #backendPid: number | null = null;
  #confirmedSentAt = Number.NEGATIVE_INFINITY;
  #inDoubt = false;
  #doubtTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | null = null;

  constructor(workerId: WorkerId, config: LivenessConfig, events: WorkerLivenessEvents = {}) {
    this.workerId = workerId;
    this.#c = config;
    this.#events = events;
  }

  get #heartbeatMs(): number {
    return Math.max(1, Math.floor(this.#c.livenessMs / 5));
  }

  get #doubtMs(): number {
    return Math.floor(this.#c.livenessMs / 2);
  }

  assuredUntil(): number {
    return this.#inDoubt ? Number.NEGATIVE_INFINITY : this.#confirmedSentAt + this.#doubtMs;
  }

  /** Takes the id (waiting for a previous process's liveness to lapse), then keeps it alive. */
  async start(): Promise<void> {
    await this.#register(true);
    this.#loop = this.#run();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#doubtTimer);
    this.#wake?.();
    await this.#loop;
    const client = this.#client;
    this.#client = null;
    if (client === null) return;
    // Its sessions are free at once rather than when the liveness lapses; best effort.
    const id = this.#c.identity;
    await withTimeout(
      client.query(this.#c.sql.endLiveness, [
        this.workerId,
        id?.hostId ?? null,
        id?.pid ?? process.pid,
        id?.startedTicks ?? null,
      ]),
      2_000,
      'ending the liveness',
    ).catch(() => undefined);
    destroy(client);
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed) {
      await this.#pause(failures === 0 ? this.#heartbeatMs : Math.min(500, 50 * 2 ** failures));
      if (this.#closed) return;
      try {
        if (this.#client === null) await this.#register(false);
        else await this.#heartbeat();
        if (failures > 0) this.#c.log?.(`worker ${this.workerId}: liveness restored`);
        failures = 0;
      } catch (error) {
        if (failures === 0) {
          this.#c.log?.(
            `worker ${this.workerId}: liveness heartbeat failed (${(error as Error).message}); reconnecting`,
          );
        }
        failures++;
        this.#drop(this.#client);
      }
    }
  }

  async #heartbeat(): Promise<void> {
    const client = this.#client as pg.Client;
    const sentAt = performance.now();
    const result = await withTimeout(
      client.query(this.#c.sql.heartbeat, this.#livenessParams()),
      this.#heartbeatMs,
      'the liveness heartbeat',
    );
    if (result.rowCount !== 1) {
      // Declared dead by a claimer that saw no heartbeat for L (or ended, or the id taken): its
      // sessions may be claimed already. Stop every side effect now, then register again.
      const reason = `worker ${this.workerId} was declared dead (no heartbeat seen for its liveness of ${this.#c.livenessMs} ms) or its id was taken; it stops its side effects and registers again`;
      this.#doubtNow(reason);
      throw new LongrunError('STORE_UNAVAILABLE', reason);
    }
    this.#confirmed(sentAt);
  }

  /** $1–$6 of the heartbeat and claimWorkerId: time, worker id, L, and this process's identity. */
  #livenessParams(): unknown[] {
    const id = this.#c.identity;
    return [
      this.#c.nowParam(),
      this.workerId,
      this.#c.livenessMs,
      id?.hostId ?? null,
      id?.pid ?? process.pid,
      id?.startedTicks ?? null,
    ];
  }

  /** Connects, takes the lock and the id; on success the worker's liveness is confirmed. */
  async #register(first: boolean): Promise<void> {
    const client = new pg.Client(this.#c.clientConfig);
    // Attached before connect: an 'error' event with no listener would crash the process.
    client.on('error', () => this.#drop(client));
    client.on('end', () => this.#drop(client));
    this.#client = client;
    try {
      await client.connect();
      for (;;) {
        const lock = await this.#lock(client, first);
        const sentAt = performance.now();
        const id = this.#c.identity;
        const previousGone =
          first && lock.pid !== null && lock.hostId !== null && lock.hostId === id?.hostId
            ? processIsGone(lock.pid, lock.startedTicks ?? '')
            : false;
        const claimed = await client.query(this.#c.sql.claimWorkerId, [
          ...this.#livenessParams(),
          previousGone,
        ]);
        if (claimed.rowCount === 1) {
          this.#confirmed(sentAt);
          if (first)
            await client
              .query(this.#c.sql.pruneWorkers, [this.#c.nowParam()])
              .catch(() => undefined);
          return;
        }
        if (!first) {
          throw new LongrunError(
            'STORE_UNAVAILABLE',
            `worker id ${this.workerId} is counted alive for another process`,
          );
        }
        const waitMs = Math.max(10, lock.aliveUntilMs - lock.nowMs);
        this.#c.log?.(
          `worker ${this.workerId}: another process held this id ${waitMs} ms ago at most; waiting for its liveness to lapse`,
        );
        await new Promise((resolve) => setTimeout(resolve, Math.min(waitMs + 10, 1_000)));
      }
    } catch (error) {
      this.#drop(client);
      throw this.#c.translate(error, `registering worker ${this.workerId}`);
    }
  }

  /** The id's advisory lock on `client`; ends an own stale backend that still holds it. */
  async #lock(client: pg.Client, first: boolean) {
    for (let attempt = 0; ; attempt++) {
      const row = (await client.query(this.#c.sql.lockWorker, [this.#c.nowParam(), this.workerId]))
        .rows[0] as Record<string, unknown> | undefined;
      // Another process inserted this id's row in the same instant: our insert waited for it and
      // did nothing, and our statement's snapshot predates it. It is committed now: ask again.
      if (row === undefined) {
        if (attempt >= 5)
          throw new LongrunError(
            'STORE_UNAVAILABLE',
            `worker id ${this.workerId}: its row could not be read after ${attempt + 1} tries`,
          );
        continue;
      }
      if (row.locked === true) {
        this.#backendPid = Number(row.backend_pid);
        return {
          aliveUntilMs: Number(row.alive_until_ms),
          nowMs: Number(row.now_ms),
          hostId: row.host_id as string | null,
          pid: row.pid === null ? null : Number(row.pid),
          startedTicks: row.started_ticks as string | null,
        };
      }
      const holder = (await client.query(this.#c.sql.lockHolder, [this.workerId])).rows[0] as
        { pid: number | null } | undefined;
      // The server has not yet noticed that this process's previous connection died.
      if (attempt < 3 && holder?.pid != null && holder.pid === this.#backendPid) {
        await client.query(this.#c.sql.terminateBackend, [holder.pid]);
        continue;
      }
      throw new LongrunError(
        first ? 'INVALID_STATE' : 'STORE_UNAVAILABLE',
        `worker ${this.workerId} is already registered by another live connection; give each worker process its own id`,
        { retryable: true },
      );
    }
  }

  #confirmed(sentAt: number): void {
    if (sentAt > this.#confirmedSentAt) this.#confirmedSentAt = sentAt;
    clearTimeout(this.#doubtTimer);
    const dueMs = this.#confirmedSentAt + this.#doubtMs - performance.now();
    this.#doubtTimer = setTimeout(() => this.#doubt(), Math.max(0, dueMs));
    this.#doubtTimer.unref();
    if (this.#inDoubt && dueMs > 0) {
      this.#inDoubt = false;
      this.#events.onConfirmed?.();
    }
  }

  /** In doubt at once, whatever the timers say: the store no longer counts this worker alive. */
  #doubtNow(reason: string): void {
    clearTimeout(this.#doubtTimer);
    this.#confirmedSentAt = Number.NEGATIVE_INFINITY;
    if (this.#closed || this.#inDoubt) return;
    this.#inDoubt = true;
    this.#events.onDoubt?.(new LongrunError('STORE_UNAVAILABLE', reason));
  }

  #doubt(): void {
    if (this.#closed || this.#inDoubt) return;
    const sinceMs = performance.now() - this.#confirmedSentAt;
    if (sinceMs < this.#doubtMs) return this.#confirmed(this.#confirmedSentAt);
    this.#inDoubt = true;
    this.#events.onDoubt?.(
      new LongrunError(
        'STORE_UNAVAILABLE',
        `worker ${this.workerId} could not confirm its liveness for ${Math.round(sinceMs)} ms; it stops its side effects (its sessions are claimable by others ${this.#c.livenessMs - this.#doubtMs} ms after that at the earliest)`,
      ),
    );
  }

  #drop(client: pg.Client | null): void {
    if (client === null) return;
    if (this.#client === client) this.#client = null;
    destroy(client);
    this.#wake?.();
  }

  async #pause(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      const wake = (): void => done();
      this.#wake = wake;
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
    });
    this.#wake = null;
  }
}

/** Ends a connection now, also one that no longer answers (a black hole would hang end()). */
function destroy(client: pg.Client): void {
  (
    client as unknown as { connection?: { stream?: { destroy(): void } } }
  ).connection?.stream?.destroy();
  client.end().catch(() => undefined);
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new LongrunError('STORE_UNAVAILABLE', `${what} got no answer within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
