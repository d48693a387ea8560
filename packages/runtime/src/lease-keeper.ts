import { performance } from 'node:perf_hooks';
import { isLongrunError, type Lease, type SessionStore } from '@longrun/core';
import { pause } from './backoff.ts';

export interface LeaseKeeperOptions {
  store: SessionStore;
  lease: Lease;
  leaseMs: number;
  /**
   * When the request that obtained `lease` was sent, by `performance.now()` (default: now). The
   * store computed the expiry from a moment after it, so counting from it is on the safe side.
   */
  grantedSentAt?: number;
  /** Called once when the keeper gives the lease up for lost; side effects must stop. */
  onLost?: (reason: string) => void;
}

/** Why a keeper stopped renewing: it was told to (one shared, immutable value). */
const stoppedReason = Object.freeze(new Error('the lease keeper was stopped'));

/**
 * Keeps one lease alive: renews it every third of its TTL. Two thirds of the TTL after the send
 * time of the last renewal that succeeded — by this process's monotonic clock, which no
 * wall-clock skew can move — it aborts its signal, so the worker stops all side effects before
 * anyone else can take over. That deadline is a timer of its own: a renewal that hangs (a
 * black-holed connection) cannot postpone it. A renewal refused because the epoch moved on
 * aborts at once.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #controller = new AbortController();
  readonly #stopped = new AbortController();
  #lease: Lease;
  #renewedSentAt: number;
  /** Why the last renewal failed, for the reason given when the deadline passes. */
  #lastError: Error | null = null;
  #deadline: NodeJS.Timeout | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#lease = options.lease;
    this.#renewedSentAt = options.grantedSentAt ?? performance.now();
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get lease(): Lease {
    return this.#lease;
  }

  /** Until when (performance.now()) the lease is this worker's: its deadline, unless lost. */
  get assuredUntil(): number {
    if (this.#controller.signal.aborted) return Number.NEGATIVE_INFINITY;
    return this.#renewedSentAt + (this.#options.leaseMs * 2) / 3;
  }

  start(): void {
    if (this.#loop !== undefined) return;
    this.#armDeadline();
    this.#loop = this.#run();
  }

  /** Stops renewing (the session is done with or handed back). */
  async stop(): Promise<void> {
    // A reason of our own: the default one is a DOMException, whose stack trace costs more than
    // the rest of a session's release (nothing reads this reason).
    this.#stopped.abort(stoppedReason);
    clearTimeout(this.#deadline);
    await this.#loop;
  }

  #lose(reason: string): void {
    clearTimeout(this.#deadline);
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(new Error(reason));
    this.#options.onLost?.(reason);
  }

  /** Fires two thirds of the TTL after the last successful renewal was sent. */
  #armDeadline(): void {
    clearTimeout(this.#deadline);
    const budgetMs = (this.#options.leaseMs * 2) / 3;
    const dueMs = this.#renewedSentAt + budgetMs - performance.now();
    this.#deadline = setTimeout(
      () => {
        const sinceMs = performance.now() - this.#renewedSentAt;
        const why = this.#lastError === null ? '' : `: ${this.#lastError.message}`;
        if (sinceMs >= budgetMs)
          this.#lose(`lease not renewed for ${Math.round(sinceMs)} ms${why}`);
        else this.#armDeadline();
      },
      Math.max(0, dueMs),
    );
  }

  async #run(): Promise<void> {
    const { store, leaseMs } = this.#options;
    const intervalMs = Math.max(1, Math.floor(leaseMs / 3));
    let waitMs = intervalMs;
    while (!this.#stopped.signal.aborted && !this.#controller.signal.aborted) {
      await pause(waitMs, this.#stopped.signal);
      if (this.#stopped.signal.aborted || this.#controller.signal.aborted) return;
      const sentAt = performance.now();
      try {
        const renewed = await store.renewLease(this.#lease, leaseMs);
        if (this.#controller.signal.aborted) return;
        this.#lease = renewed;
        this.#renewedSentAt = Math.max(this.#renewedSentAt, sentAt);
        this.#lastError = null;
        this.#armDeadline();
        waitMs = intervalMs;
      } catch (error) {
        if (isLongrunError(error, 'LEASE_LOST')) return this.#lose(`lease lost: ${error.message}`);
        this.#lastError = error as Error;
        // Retry sooner; the deadline timer fences if no renewal gets through in time.
        waitMs = Math.max(1, Math.floor(intervalMs / 4));
      }
    }
  }
}
