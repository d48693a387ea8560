/** Fragments held beyond the known text, at most: a stream that skips further is not waited for. */
const maxPendingFragments = 256;

/**
 * The text of one model attempt, assembled from fragments placed at their character offsets.
 * Live deltas and durable `model.streamed` chunks are cut differently, may repeat after a
 * reconnect and may arrive in any order relative to each other; placing each at its offset
 * keeps exactly one copy of every character. A fragment past the end of the known text (a
 * missed delta) waits until the gap is filled.
 */
export class AttemptText {
  text = '';
  /** Characters covered by durable `model.streamed` events so far: where the next one belongs. */
  durableLength = 0;
  readonly #pending = new Map<number, string>();

  /** Places `fragment` at `offset`; returns whether the known text grew. */
  place(offset: number, fragment: string): boolean {
    if (!Number.isSafeInteger(offset) || offset < 0 || fragment === '') return false;
    if (offset > this.text.length) {
      this.#hold(offset, fragment);
      return false;
    }
    const before = this.text.length;
    this.#extend(offset, fragment);
    this.#drainPending();
    return this.text.length > before;
  }

  #extend(offset: number, fragment: string): void {
    const end = offset + fragment.length;
    if (end > this.text.length) this.text += fragment.slice(this.text.length - offset);
  }

  #hold(offset: number, fragment: string): void {
    const held = this.#pending.get(offset);
    if (held !== undefined && held.length >= fragment.length) return;
    if (held === undefined && this.#pending.size >= maxPendingFragments) return;
    this.#pending.set(offset, fragment);
  }

  #drainPending(): void {
    for (let progressed = true; progressed && this.#pending.size > 0;) {
      progressed = false;
      for (const [offset, fragment] of this.#pending) {
        if (offset > this.text.length) continue;
        this.#pending.delete(offset);
        this.#extend(offset, fragment);
        progressed = true;
      }
    }
  }
}
