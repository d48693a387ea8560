import type { SessionId, StoredEvent } from '@longrun/core';
import { SessionSpanDeriver } from './span-deriver.ts';
import type { SpanSink } from './otlp-span-sink.ts';
import type { DeriveSpansOptions } from './span-types.ts';

/** Reads a session's events after `afterSeq`, at most `limit` (SessionStore.readEvents). */
export type ReadEvents = (
  id: SessionId,
  afterSeq: number,
  limit: number,
) => Promise<readonly StoredEvent[]>;

interface SessionFeed {
  deriver: SessionSpanDeriver;
  /** The seq of the next event the deriver expects. */
  nextSeq: number;
}

const pageSize = 2_000;

/**
 * Turns the commits of one process into exported spans, each exactly once across every process
 * that ever runs the session.
 *
 * The rule: **a process exports the spans closed by the events it committed itself**, and only
 * those. Events it did not commit (the log before its first commit of a session, written by the
 * API and by the workers before it; a gap left by another worker that held the lease meanwhile)
 * are read from the store and derived too, so it knows which spans are open and their ids, but
 * the spans they closed are not exported again: the process that committed those events did.
 * Ids are derived from the log, so a span closed after a takeover (a turn opened before it, the
 * model attempt a crash cut off) has the same id whoever exports it.
 *
 * Why not a durable cursor: it would cost a store write per export, and it cannot close the
 * window either (written before the receiver's answer it loses spans, after it duplicates them).
 * The window here: spans closed by a commit whose export had not reached the receiver when the
 * process died (one HTTP round trip; OtlpSpanSink sends at once). A `kill -9` at any other time
 * loses nothing and duplicates nothing.
 */
export class TraceSessionFeed {
  readonly #read: ReadEvents;
  readonly #sink: SpanSink;
  readonly #options: DeriveSpansOptions;
  readonly #onError: (error: unknown, sessionId: string) => void;
  readonly #sessions = new Map<string, SessionFeed>();
  /** Work per session, in commit order. */
  readonly #chains = new Map<string, Promise<void>>();

  constructor(options: {
    read: ReadEvents;
    sink: SpanSink;
    derive?: DeriveSpansOptions;
    onError?: (error: unknown, sessionId: string) => void;
  }) {
    this.#read = options.read;
    this.#sink = options.sink;
    this.#options = options.derive ?? {};
    this.#onError = options.onError ?? (() => undefined);
  }

  /** Events this process just committed for a session, in seq order. */
  committed(sessionId: string, events: readonly StoredEvent[]): void {
    this.#enqueue(sessionId, () => this.#apply(sessionId, events));
  }

  /** The session's run in this process ended: its state is dropped once its commits are done. */
  ended(sessionId: string): void {
    this.#enqueue(sessionId, async () => {
      this.#sessions.delete(sessionId);
    });
  }

  /** Resolves when every commit given so far was derived and handed to the sink. */
  async settled(): Promise<void> {
    while (this.#chains.size > 0) await Promise.all(this.#chains.values());
  }

  #enqueue(sessionId: string, work: () => Promise<void>): void {
    const previous = this.#chains.get(sessionId) ?? Promise.resolve();
    const next = previous
      .then(work)
      .catch((error: unknown) => {
        // A session whose derivation failed starts afresh from the store on its next commit.
        this.#sessions.delete(sessionId);
        this.#onError(error, sessionId);
      })
      .finally(() => {
        if (this.#chains.get(sessionId) === next) this.#chains.delete(sessionId);
      });
    this.#chains.set(sessionId, next);
  }

  async #apply(sessionId: string, events: readonly StoredEvent[]): Promise<void> {
    const first = events[0];
    if (first === undefined) return;
    let feed = this.#sessions.get(sessionId);
    if (feed === undefined) {
      feed = { deriver: new SessionSpanDeriver(this.#options), nextSeq: 1 };
      this.#sessions.set(sessionId, feed);
    }
    // What others committed before these events: derived, not exported (they exported it).
    if (first.seq > feed.nextSeq) await this.#catchUp(sessionId, feed, first.seq);
    for (const e of events) {
      if (e.seq < feed.nextSeq) continue;
      this.#sink.send(feed.deriver.push(e));
      feed.nextSeq = e.seq + 1;
    }
  }

  async #catchUp(sessionId: string, feed: SessionFeed, untilSeq: number): Promise<void> {
    while (feed.nextSeq < untilSeq) {
      const limit = Math.min(pageSize, untilSeq - feed.nextSeq);
      const page = await this.#read(sessionId as SessionId, feed.nextSeq - 1, limit);
      if (page.length === 0) throw new Error(`events ${feed.nextSeq}… of ${sessionId} are missing`);
      for (const e of page) {
        if (e.seq >= untilSeq) break;
        feed.deriver.push(e);
        feed.nextSeq = e.seq + 1;
      }
    }
  }
}
