import { performance } from 'node:perf_hooks';
import { isLongrunError, type Lease, type SessionStore } from '@longrun/core';
import { pause } from './backoff.ts';

export interface LeaseKeeperOptions {
  store: SessionStore;
  lease: Lease;
  leaseMs: number;
  /** Called once when the keeper gives the lease up for lost; side effects must stop. */
  onLost?: (reason: string) => void;
}

/**
 * Keeps one lease alive: renews it every third of its TTL. When a renewal is refused (the epoch
 * moved on) or renewals keep failing until two thirds of the TTL have passed since the last
 * success — by this process's monotonic clock, which no wall-clock skew can move — it aborts its
 * signal, so the worker stops all side effects on its own before anyone else can take over.
 */
export class LeaseKeeper {
  readonly #options: LeaseKeeperOptions;
  readonly #controller = new AbortController();
  readonly #stopped = new AbortController();
  #lease: Lease;
  #lastRenewedAt = performance.now();
  #loop: Promise<void> | undefined;

  constructor(options: LeaseKeeperOptions) {
    this.#options = options;
    this.#lease = options.lease;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get lease(): Lease {
    return this.#lease;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  /** Stops renewing (the session is done with or handed back). */
  async stop(): Promise<void> {
    this.#stopped.abort();
    await this.#loop;
  }

  #lose(reason: string): void {
    if (this.#controller.signal.aborted) return;
    this.#controller.abort(new Error(reason));
    this.#options.onLost?.(reason);
  }

  async #run(): Promise<void> {
    const { store, leaseMs } = this.#options;
    const intervalMs = Math.max(1, Math.floor(leaseMs / 3));
    let waitMs = intervalMs;
    while (!this.#stopped.signal.aborted && !this.#controller.signal.aborted) {
      await pause(waitMs, this.#stopped.signal);
      if (this.#stopped.signal.aborted) return;
      try {
        this.#lease = await store.renewLease(this.#lease, leaseMs);
        this.#lastRenewedAt = performance.now();
        waitMs = intervalMs;
      } catch (error) {
        if (isLongrunError(error, 'LEASE_LOST')) return this.#lose(`lease lost: ${error.message}`);
        const sinceMs = performance.now() - this.#lastRenewedAt;
        if (sinceMs >= (leaseMs * 2) / 3) {
          return this.#lose(
            `lease not renewed for ${Math.round(sinceMs)} ms: ${(error as Error).message}`,
          );
        }
        waitMs = Math.max(1, Math.floor(intervalMs / 4));
      }
    }
  }
}
