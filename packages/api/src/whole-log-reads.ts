import { LongrunError } from '@longrun/core';

export interface WholeLogReadLimits {
  /** Reads at once, server-wide. Default 2. */
  concurrent?: number;
  /** Requests waiting for a turn; past it they get 503 SERVER_BUSY at once. Default 64. */
  queued?: number;
}

/**
 * Requests that read a whole session log (its tree, an approval decision; debug bundles have
 * turns of their own): a few at once, server-wide, the others waiting in order. Forty of them
 * on a 30 MB session, all at once, had stalled `/v1/health` for 4–10 s; in turns, the event
 * loop keeps serving everything else between their pages.
 */
export class WholeLogReads {
  readonly #concurrent: number;
  readonly #queued: number;
  #running = 0;
  readonly #waiting: (() => void)[] = [];

  constructor(limits: WholeLogReadLimits = {}) {
    this.#concurrent = limits.concurrent ?? 2;
    this.#queued = limits.queued ?? 64;
  }

  /** Waits for a turn; returns its release (call it once the read is over, answered or not). */
  async turn(): Promise<() => void> {
    if (this.#running >= this.#concurrent) {
      if (this.#waiting.length >= this.#queued) {
        throw new LongrunError(
          'SERVER_BUSY',
          `the server is reading as many whole session logs as it allows (${this.#concurrent} at once, ${this.#queued} waiting); try again shortly`,
        );
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else this.#running++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next === undefined) this.#running--;
      else next(); // the turn passes on: #running stays
    };
  }

  /** Runs `read` in a turn. */
  async run<T>(read: () => Promise<T>): Promise<T> {
    const release = await this.turn();
    try {
      return await read();
    } finally {
      release();
    }
  }
}
