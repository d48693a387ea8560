/**
 * When this worker's next durable timer comes due: the `untilMs` of every timer wait it saw
 * committed (by the store's clock), smallest first. Only a hint for when to look: the store's
 * rows remain the truth (a session woken early by a signal, or taken by another worker, costs one
 * claim that finds nothing), and timers set by other processes are found by the regular poll.
 * Bounded: past `maxEntries` the furthest times are forgotten (the poll still finds them).
 */
export class TimerWakes {
  readonly #heap: number[] = [];
  readonly #maxEntries: number;

  constructor(maxEntries = 100_000) {
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#heap.length;
  }

  add(atMs: number): void {
    if (!Number.isFinite(atMs)) return;
    if (this.#heap.length >= this.#maxEntries) {
      // Keep the earliest: forget this one if it is the furthest, else replace the furthest leaf.
      let furthest = this.#heap.length >> 1;
      for (let i = furthest + 1; i < this.#heap.length; i++)
        if ((this.#heap[i] as number) > (this.#heap[furthest] as number)) furthest = i;
      if (atMs >= (this.#heap[furthest] as number)) return;
      this.#heap[furthest] = atMs;
      this.#up(furthest);
      return;
    }
    this.#heap.push(atMs);
    this.#up(this.#heap.length - 1);
  }

  /** Drops the times at or before `nowMs` and returns the earliest later one, if any. */
  nextAfter(nowMs: number): number | undefined {
    while (this.#heap.length > 0 && (this.#heap[0] as number) <= nowMs) this.#pop();
    return this.#heap[0];
  }

  #pop(): void {
    const last = this.#heap.pop() as number;
    if (this.#heap.length === 0) return;
    this.#heap[0] = last;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (
        left < this.#heap.length &&
        (this.#heap[left] as number) < (this.#heap[smallest] as number)
      )
        smallest = left;
      if (
        right < this.#heap.length &&
        (this.#heap[right] as number) < (this.#heap[smallest] as number)
      )
        smallest = right;
      if (smallest === i) return;
      [this.#heap[i], this.#heap[smallest]] = [
        this.#heap[smallest] as number,
        this.#heap[i] as number,
      ];
      i = smallest;
    }
  }

  #up(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((this.#heap[parent] as number) <= (this.#heap[i] as number)) return;
      [this.#heap[i], this.#heap[parent]] = [this.#heap[parent] as number, this.#heap[i] as number];
      i = parent;
    }
  }
}
