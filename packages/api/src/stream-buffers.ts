export interface StreamBufferLimits {
  /**
   * Bytes that streams may hold read ahead of their clients (frames read from the log and not yet
   * handed to the socket), server-wide. Default 128 MiB.
   */
  maxBytes: number;
  /**
   * A stream whose client has not taken a chunk for this long is stalled: when a stream needs room
   * past `maxBytes`, stalled streams give theirs up (largest first) and end, milliseconds.
   * Default 2 000.
   */
  stalledMs: number;
}

export const defaultStreamBufferLimits: StreamBufferLimits = {
  maxBytes: 128 * 1024 * 1024,
  stalledMs: 2_000,
};

/** A stream that can give up what it holds (and end; its client resumes with Last-Event-ID). */
export interface BufferHolder {
  evict(): void;
}

interface Held {
  /** Read ahead, not yet handed to the socket: what eviction frees. */
  pending: number;
  /** The last chunk handed to the socket, until its client asks for the next one. */
  inFlight: number;
  pulledAtMs: number;
}

/** What `GET /v1/figures` shows (server scope) as `streams.buffers`. */
export interface StreamBufferFigures {
  bufferedBytes: number;
  inFlightBytes: number;
  maxBytes: number;
  /** Streams ended since the start to make room (their clients resume with Last-Event-ID). */
  evicted: number;
}

/**
 * The bytes every stream holds for its client, bounded server-wide. Before, each stream that was
 * not read held its last catch-up read (about 1 MiB) with no total bound: 600 streams that read
 * nothing on a 12 MB log took the server from 204 to 787 MiB. Now a stream asks for room before
 * it reads the log; past `maxBytes`, the stalled streams holding the most give it up and end (a
 * client that reads again finds its stream ended and resumes with Last-Event-ID: nothing is lost),
 * and until enough is free the asking stream waits (produces nothing). Streams being read free
 * their bytes as they are read, and the others become stalled within `stalledMs`, so a wait ends.
 *
 * In flight (one piece of at most 16 KiB per stream, in the socket's buffer) is counted apart:
 * it is bounded by the stream caps times the chunk size, and only the socket's close frees it.
 */
export class StreamBuffers {
  readonly #limits: StreamBufferLimits;
  readonly #held = new Map<BufferHolder, Held>();
  #pending = 0;
  #inFlight = 0;
  #evicted = 0;

  constructor(limits: Partial<StreamBufferLimits> = {}) {
    this.#limits = { ...defaultStreamBufferLimits, ...limits };
  }

  /** What `holder` holds now (bytes); its client just asked for more when `pulled`. */
  hold(holder: BufferHolder, pending: number, inFlight: number, pulled = false): void {
    const held = this.#held.get(holder) ?? { pending: 0, inFlight: 0, pulledAtMs: now() };
    this.#pending += pending - held.pending;
    this.#inFlight += inFlight - held.inFlight;
    held.pending = pending;
    held.inFlight = inFlight;
    if (pulled) held.pulledAtMs = now();
    this.#held.set(holder, held);
  }

  forget(holder: BufferHolder): void {
    this.hold(holder, 0, 0);
    this.#held.delete(holder);
  }

  /**
   * Resolves once `bytes` more fit under `maxBytes` (or `holder` is done), evicting stalled
   * streams to make room, and counts them as `holder`'s until its next `hold` says what it read:
   * streams that ask at once cannot all pass the same check. One read larger than the whole
   * budget goes ahead when nothing else is held, so a reader of a huge event is never stuck.
   */
  async room(holder: BufferHolder, bytes: number, done: () => boolean): Promise<void> {
    const pauseMs = Math.max(10, Math.min(250, this.#limits.stalledMs / 4));
    while (!done()) {
      if (!this.#fits(holder, bytes)) this.#evictStalled(holder, bytes);
      if (this.#fits(holder, bytes)) {
        const held = this.#held.get(holder);
        this.hold(holder, (held?.pending ?? 0) + bytes, held?.inFlight ?? 0);
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  get figures(): StreamBufferFigures {
    return {
      bufferedBytes: this.#pending,
      inFlightBytes: this.#inFlight,
      maxBytes: this.#limits.maxBytes,
      evicted: this.#evicted,
    };
  }

  #fits(holder: BufferHolder, bytes: number): boolean {
    const others = this.#pending - (this.#held.get(holder)?.pending ?? 0);
    return this.#pending + bytes <= this.#limits.maxBytes || others === 0;
  }

  /** Evicts stalled holders, the largest first, until `bytes` fit. */
  #evictStalled(asking: BufferHolder, bytes: number): void {
    const before = now() - this.#limits.stalledMs;
    const stalled = [...this.#held]
      .filter(([h, held]) => h !== asking && held.pending > 0 && held.pulledAtMs <= before)
      .sort(([, a], [, b]) => b.pending - a.pending);
    for (const [holder] of stalled) {
      if (this.#fits(asking, bytes)) return;
      this.#evicted++;
      holder.evict();
      const held = this.#held.get(holder);
      if (held !== undefined && held.pending > 0) this.hold(holder, 0, held.inFlight);
    }
  }
}

function now(): number {
  return performance.now();
}
