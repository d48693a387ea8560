/** Wall-clock time in epoch milliseconds. Injected wherever time decides correctness. */
export interface Clock {
  nowMs(): number;
}

export const systemClock: Clock = { nowMs: () => Date.now() };

/** A clock that moves only when told to; for tests of expiry and timers. */
export class ManualClock implements Clock {
  #nowMs: number;
  constructor(startMs = 1_700_000_000_000) {
    this.#nowMs = startMs;
  }
  nowMs(): number {
    return this.#nowMs;
  }
  advance(ms: number): void {
    this.#nowMs += ms;
  }
  set(ms: number): void {
    this.#nowMs = ms;
  }
}
