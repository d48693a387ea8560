/**
 * Runs queued callbacks one per turn of the event loop, the first at once. A store answers the
 * writes of many sessions with one commit; resolved together, every one of those sessions would
 * run its step up to its next write in one go (one long task) before a timer, a stream or an API
 * request got a turn. Given one per turn (a `setImmediate` apart), they interleave with them.
 */
export class OnePerTurn {
  readonly #queue: (() => void)[] = [];
  #draining = false;

  /** Queues `callbacks`, in order; the first runs now if nothing is queued before it. */
  push(...callbacks: (() => void)[]): void {
    this.#queue.push(...callbacks);
    if (!this.#draining) this.#next();
  }

  /** Runs every queued callback now (the answers stand even when the writer is gone). */
  flush(): void {
    for (const callback of this.#queue.splice(0)) callback();
  }

  /** Nothing is queued. */
  get empty(): boolean {
    return this.#queue.length === 0;
  }

  #next = (): void => {
    this.#queue.shift()?.();
    this.#draining = this.#queue.length > 0;
    if (this.#draining) setImmediate(this.#next);
  };
}
