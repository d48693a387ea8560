import { setTimeout as sleep } from 'node:timers/promises';
import { LongrunError, isRetryable, type SessionId, type SessionStore } from '@longrun/core';
import { describeEvent } from '../event-lines.ts';

export interface TailOptions {
  /** Every event as a JSON line, the streamed pieces included. */
  json: boolean;
  /** Where the events go (stdout). */
  write: (line: string) => void;
  /** Where waits for the store are said (stderr), so that stdout stays the events alone. */
  say: (line: string) => void;
  /** How long the store may stay unreachable before tail gives up, in ms (default 10 minutes). */
  outageLimitMs?: number;
  /** How long to wait for new events when there are none, in ms (default 200). */
  pollMs?: number;
}

const finished = ['completed', 'failed', 'cancelled'];

/**
 * Prints a session's events from the start, then follows new ones until the session ends: each
 * model message whole (its `model.responded` text, not the streamed pieces, which a failed
 * attempt may have left half-said), each once: reads go by seq, never by time. With --json,
 * every event, the streamed pieces included.
 *
 * A store that cannot be reached for a while (a server restart, a dropped connection) is waited
 * out, with backoff and a line on stderr per attempt; the next read starts after the last seq
 * printed, so no event is printed twice or left out. Tail gives up (STORE_UNAVAILABLE, exit 3)
 * only when the store stayed unreachable for `outageLimitMs`, or on Ctrl-C.
 */
export async function tail(
  store: SessionStore,
  id: SessionId,
  options: TailOptions,
): Promise<void> {
  const { json, write, pollMs = 200 } = options;
  let seq = 0;
  const retry = new OutageRetry(options, () => seq);
  for (;;) {
    const events = await retry.run(() => store.readEvents(id, seq, 1_000));
    for (const e of events) {
      seq = e.seq;
      if (json) write(JSON.stringify(e));
      else {
        const line = describeEvent(e);
        if (line !== null) write(line);
      }
    }
    if (events.length > 0) continue;
    const session = await retry.run(() => store.getSession(id));
    if (finished.includes(session.status) && session.headSeq <= seq) return;
    await sleep(pollMs);
  }
}

/** Runs a read until it answers, waiting out retryable store errors for up to the outage limit. */
class OutageRetry {
  readonly #say: (line: string) => void;
  readonly #limitMs: number;
  readonly #lastSeq: () => number;
  /** When the current outage began (monotonic ms), or null while the store answers. */
  #since: number | null = null;
  #attempt = 0;

  constructor(options: TailOptions, lastSeq: () => number) {
    this.#say = options.say;
    this.#limitMs = options.outageLimitMs ?? 600_000;
    this.#lastSeq = lastSeq;
  }

  async run<T>(read: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const value = await read();
        if (this.#since !== null) {
          this.#say(`store reachable again; following on after seq ${this.#lastSeq()}`);
          this.#since = null;
          this.#attempt = 0;
        }
        return value;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        await this.#wait(error as LongrunError);
      }
    }
  }

  async #wait(error: LongrunError): Promise<void> {
    const now = performance.now();
    this.#since ??= now;
    if (now - this.#since >= this.#limitMs) {
      throw new LongrunError(
        error.code,
        `${error.message} (gave up after ${Math.round((now - this.#since) / 1_000)} s of retrying; the last event printed was seq ${this.#lastSeq()})`,
        { cause: error },
      );
    }
    this.#attempt += 1;
    const retryInMs = Math.min(5_000, 100 * 2 ** Math.min(this.#attempt - 1, 6));
    this.#say(
      `store unavailable (attempt ${this.#attempt}: ${error.message}); trying again in ${retryInMs} ms, after seq ${this.#lastSeq()}`,
    );
    await sleep(retryInMs);
  }
}
