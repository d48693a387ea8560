/**
 * Collects a model's text deltas and hands them on in batches at most every `intervalMs`, so the
 * log gets a few `model.streamed` events per second instead of one per token. Live readers get
 * each delta at once through another path; this one is for readers who come back later.
 *
 * The flush timer is armed one turn of the event loop after the first delta, not at once: a
 * response that arrives whole (one chunk, then the end, in the same turn) is closed before that,
 * and its step pays for no timer (a setTimeout and its clearTimeout cost ~1-2 µs; a setImmediate
 * ~0.2 µs).
 */
export class DeltaCoalescer {
  readonly #intervalMs: number;
  readonly #flush: (text: string) => Promise<void>;
  #buffer = '';
  #arming: NodeJS.Immediate | null = null;
  #timer: NodeJS.Timeout | null = null;
  #writing: Promise<void> = Promise.resolve();
  #error: unknown = null;

  constructor(intervalMs: number, flush: (text: string) => Promise<void>) {
    this.#intervalMs = intervalMs;
    this.#flush = flush;
  }

  push(text: string): void {
    if (text === '') return;
    this.#buffer += text;
    if (this.#timer === null) this.#arming ??= setImmediate(() => this.#arm());
  }

  #arm(): void {
    this.#arming = null;
    if (this.#buffer !== '') this.#timer ??= setTimeout(() => this.#drain(), this.#intervalMs);
  }

  #disarm(): void {
    if (this.#arming !== null) clearImmediate(this.#arming);
    this.#arming = null;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /**
   * Waits for every write; rethrows a write's failure. With `drain`, what is still buffered is
   * written first; without, it is dropped — for when a later event holds the whole text anyway.
   */
  async close(options: { drain: boolean }): Promise<void> {
    if (options.drain) this.#drain();
    else this.#discard();
    await this.#writing;
    if (this.#error !== null) {
      throw this.#error instanceof Error
        ? this.#error
        : new Error('a coalesced write failed', { cause: this.#error });
    }
  }

  #discard(): void {
    this.#disarm();
    this.#buffer = '';
  }

  #drain(): void {
    this.#disarm();
    if (this.#buffer === '') return;
    const text = this.#buffer;
    this.#buffer = '';
    this.#writing = this.#writing.then(() =>
      this.#flush(text).catch((error: unknown) => {
        this.#error ??= error;
      }),
    );
  }
}
