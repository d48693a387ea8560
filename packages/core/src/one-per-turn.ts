/**
 * Runs queued callbacks one per turn of the event loop, the first at once. A store answers the
 * writes of many sessions with one commit; resolved together, every one of those sessions would
 * run its step up to its next write in one go (one long task) before a timer, a stream or an API
 * request got a turn. Given one per turn (a `setImmediate` apart), they interleave with them.
 *
 * "At once" holds only for the first callback of a turn: answers that come in several messages
 * handled in one turn (a writer thread that committed three batches while this thread was busy)
 * run one per turn like those of one message.
 */
export class OnePerTurn {
  readonly #queue: (() => void)[] = [];
  /** A callback ran in this turn, or one waits for the next: a new one waits its turn. */
  #draining = false;

  /** Queues `callbacks`, in order; the first runs now if none ran in this turn. */
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
    const callback = this.#queue.shift();
    this.#draining = callback !== undefined;
    if (callback === undefined) return;
    // Scheduled before the callback runs, so that one that throws does not strand the rest.
    setImmediate(this.#next);
    callback();
  };
}
