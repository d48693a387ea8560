/**
 * A model's text delta as a live reader gets it: placed at `offset` (UTF-16 code units, i.e. JS
 * string indices) in the text of this attempt of this step. Not durable: the log holds the same
 * text coalesced in `model.streamed` events, and whole in `model.responded`.
 */
export interface LiveDelta {
  step: number;
  attempt: number;
  offset: number;
  text: string;
}

/**
 * Where live deltas come from. A subscriber first gets the text of each attempt in progress so
 * far, as one delta at offset 0, then every new delta as it arrives. Returns the unsubscribe.
 *
 * Only a process that runs the model sees deltas before they are durable: the in-process source
 * below is fed from a live channel (live-feed.ts): the in-process one of `longrun dev`, or on
 * Postgres the workers' LISTEN/NOTIFY. An API process beside workers on SQLite has no live
 * source; its readers see the durable, coalesced `model.streamed` events (a few per second).
 */
export interface LiveDeltaSource {
  subscribe(sessionId: string, deliver: (delta: LiveDelta) => void): () => void;
}

interface Attempt {
  step: number;
  attempt: number;
  /** Offset of `text` in the attempt's text: 0, unless this process heard the attempt late. */
  base: number;
  /** The text so far from `base`, up to `maxKeptChars`. */
  text: string;
  /** Length of the whole text so far, kept or not: the offset of the next delta. */
  length: number;
}

/** Text kept per attempt in progress; a reader who comes later gets this prefix, the rest from the log. */
const maxKeptChars = 4 * 1024 * 1024;

/**
 * The in-process source, fed from a live channel's notes (`feedApiFromLiveChannel`), whose
 * offsets the worker's publisher computed. It keeps each attempt in progress's text so far, and
 * forgets it when the attempt ends in the log (`model.responded`, `model.failed`) or the session
 * stops running in its worker.
 */
export class InProcessLiveDeltas implements LiveDeltaSource {
  readonly #attempts = new Map<string, Attempt>();
  readonly #subscribers = new Map<string, Set<(delta: LiveDelta) => void>>();

  subscribe(sessionId: string, deliver: (delta: LiveDelta) => void): () => void {
    let set = this.#subscribers.get(sessionId);
    if (set === undefined) this.#subscribers.set(sessionId, (set = new Set()));
    set.add(deliver);
    const current = this.#attempts.get(sessionId);
    if (current !== undefined && current.text !== '') {
      const { step, attempt, base: offset, text } = current;
      deliver({ step, attempt, offset, text });
    }
    return () => {
      set.delete(deliver);
      if (set.size === 0 && this.#subscribers.get(sessionId) === set)
        this.#subscribers.delete(sessionId);
    };
  }

  /**
   * A delta at the offset its worker's publisher states (the worker may have started the attempt
   * before this process listened). A gap restarts the kept text there; a repeat is passed on but
   * not kept twice (readers place text by offset).
   */
  textDeltaAt(sessionId: string, step: number, attempt: number, at: number, text: string): void {
    let current = this.#attempts.get(sessionId);
    if (current === undefined || current.step !== step || current.attempt !== attempt) {
      current = { step, attempt, base: at, text: '', length: at };
      this.#attempts.set(sessionId, current);
    }
    if (at > current.length) {
      current.base = at;
      current.text = '';
    }
    if (at === current.base + current.text.length && current.text.length < maxKeptChars)
      current.text += text;
    current.length = Math.max(current.length, at + text.length);
    const delta = { step, attempt, offset: at, text };
    for (const deliver of this.#subscribers.get(sessionId) ?? []) deliver(delta);
  }

  /** The attempt of this step ended in the log (`model.responded` or `model.failed`). */
  endAttempt(sessionId: string, step: number): void {
    if (this.#attempts.get(sessionId)?.step === step) this.#attempts.delete(sessionId);
  }

  /** The session stopped running in its worker (any outcome). */
  ended(sessionId: string): void {
    this.#attempts.delete(sessionId);
  }

  /** Attempts whose text is kept (for tests and metrics). */
  get attemptsInProgress(): number {
    return this.#attempts.size;
  }
}
