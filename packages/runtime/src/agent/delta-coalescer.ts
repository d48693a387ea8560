/**
 * Collects a model's text deltas and hands them on in batches at most every `intervalMs`, so the
 * log gets a few `model.streamed` events per second instead of one per token. Live readers get
 * each delta at once through another path; this one is for readers who come back later.
 */
export class DeltaCoalescer {
  readonly #intervalMs: number;
  readonly #flush: (text: string) => Promise<void>;
  #buffer = '';
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
    this.#timer ??= setTimeout(() => this.#drain(), this.#intervalMs);
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
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#buffer = '';
  }

  #drain(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
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
