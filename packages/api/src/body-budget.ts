import { LongrunError } from '@longrun/core';

/**
 * The bytes of request bodies that callers without an API key (webhook deliveries, whose token
 * is checked only once the body is read) may have in flight at once, server-wide. A body is
 * counted at its declared length, or at its route's limit when it declares none, from before it
 * is read until it is; past the budget a request is refused at once (503 SERVER_BUSY) without
 * reading its body. Slow senders holding connections open then cost at most the budget, not
 * their number times the limit (1,500 connections × 256 KiB took 576 MB before).
 */
export class BodyBudget {
  readonly #capBytes: number;
  #inFlight = 0;

  constructor(capBytes: number) {
    this.#capBytes = capBytes;
  }

  /** Counts `request`'s body; returns the bytes counted, or throws SERVER_BUSY past the budget. */
  take(request: Request, limitBytes: number): number {
    const declared = request.headers.get('content-length');
    const bytes =
      declared !== null && /^\d+$/.test(declared)
        ? Math.min(Number(declared), limitBytes)
        : limitBytes;
    if (bytes > 0 && this.#inFlight + bytes > this.#capBytes) {
      throw new LongrunError(
        'SERVER_BUSY',
        `the server is reading as many request bodies of callers without an API key as it allows (${this.#capBytes} bytes); try again shortly`,
      );
    }
    this.#inFlight += bytes;
    return bytes;
  }

  give(bytes: number): void {
    this.#inFlight -= bytes;
  }

  get inFlightBytes(): number {
    return this.#inFlight;
  }
}
