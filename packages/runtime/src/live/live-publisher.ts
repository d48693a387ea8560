import type { LiveChannel, StoredEvent } from '@longrun/core';
import type { LiveSink } from '../worker/live-subscriber.ts';

/** Deltas of one session that arrive within this window go as one note. */
const coalesceMs = 5;

/**
 * Publishes a worker's live activity on a live channel: model deltas with their offset in the
 * attempt's text (coalesced for a few milliseconds, so a fast stream is not one note per token),
 * a wake-up for each commit (saying which step's attempt it ended), and a session's end.
 * It is a live sink: `publishLive(worker, publisher)` feeds it from a worker's events.
 */
export class LivePublisher implements LiveSink {
  readonly #channel: LiveChannel;
  readonly #lengths = new Map<string, { step: number; attempt: number; length: number }>();
  readonly #pending = new Map<
    string,
    { step: number; attempt: number; offset: number; text: string }
  >();
  #timer: NodeJS.Timeout | null = null;

  constructor(channel: LiveChannel) {
    this.#channel = channel;
  }

  /** A model delta (a live sink of `publishLive(worker, publisher)`). */
  textDelta(sessionId: string, step: number, attempt: number, text: string): void {
    this.#delta(sessionId, step, attempt, text);
  }

  /** Events the worker committed. */
  appended(events: readonly StoredEvent[]): void {
    this.#appended(events);
  }

  /** The session stopped running in the worker. */
  ended(sessionId: string): void {
    this.#lengths.delete(sessionId);
    this.#flush(sessionId);
    this.#channel.publish({ kind: 'ended', sessionId });
  }

  /** Publishes what is pending (the channel is the caller's to close). */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    for (const sessionId of [...this.#pending.keys()]) this.#flush(sessionId);
  }

  #delta(sessionId: string, step: number, attempt: number, text: string): void {
    let at = this.#lengths.get(sessionId);
    if (at === undefined || at.step !== step || at.attempt !== attempt) {
      at = { step, attempt, length: 0 };
      this.#lengths.set(sessionId, at);
    }
    const pending = this.#pending.get(sessionId);
    if (pending !== undefined && (pending.step !== step || pending.attempt !== attempt))
      this.#flush(sessionId);
    const merged = this.#pending.get(sessionId);
    if (merged === undefined)
      this.#pending.set(sessionId, { step, attempt, offset: at.length, text });
    else merged.text += text;
    at.length += text.length;
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      for (const id of [...this.#pending.keys()]) this.#flush(id);
    }, coalesceMs);
  }

  #appended(events: readonly StoredEvent[]): void {
    const first = events[0];
    if (first === undefined) return;
    this.#flush(first.sessionId);
    let endedStep: number | null = null;
    for (const e of events)
      if (e.type === 'model.responded' || e.type === 'model.failed') endedStep = e.data.step;
    if (endedStep !== null) this.#lengths.delete(first.sessionId);
    this.#channel.publish({ kind: 'committed', sessionId: first.sessionId, endedStep });
  }

  #flush(sessionId: string): void {
    const pending = this.#pending.get(sessionId);
    if (pending === undefined) return;
    this.#pending.delete(sessionId);
    this.#channel.publish({ kind: 'delta', sessionId, ...pending });
  }
}
