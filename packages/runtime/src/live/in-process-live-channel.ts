import type { LiveChannel, LiveNote } from '@longrun/core';

/**
 * The live channel of one process (`longrun dev`, tests): notes go to this process's
 * subscribers, in order, after the publisher's current task — never inside its call stack.
 */
export class InProcessLiveChannel implements LiveChannel {
  readonly #listeners = new Set<(note: LiveNote) => void>();
  #closed = false;

  publish(note: LiveNote): void {
    if (this.#closed) return;
    queueMicrotask(() => {
      for (const listener of this.#listeners) listener(note);
    });
  }

  async subscribe(listener: (note: LiveNote) => void): Promise<() => void> {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#listeners.clear();
  }
}
