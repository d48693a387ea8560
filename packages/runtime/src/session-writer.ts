import {
  applyEvent,
  fold,
  type SessionId,
  type AppendRequest,
  type EffectChange,
  type JsonValue,
  type Lease,
  type NewEvent,
  type SessionState,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import { appendDurably } from './durable-append.ts';
import type { WorkerEvents } from './worker/worker-events.ts';

export type AppendExtra = Omit<AppendRequest, 'fence' | 'expectedSeq' | 'events' | 'checkpoint'> & {
  /**
   * Write a checkpoint with this append if the log moved `checkpointEvery` events past the last
   * one; `always`: write one with it in any case (a compaction, which shrinks the transcript).
   */
  checkpoint?: boolean | 'always';
};

/** `events` as they will be stored by an append after `headSeq` (their times not yet known). */
export function asAppended(
  sessionId: SessionId,
  headSeq: number,
  events: readonly NewEvent[],
): StoredEvent[] {
  return events.map((e, i) => ({ ...e, sessionId, seq: headSeq + 1 + i, v: 1, atMs: 0, epoch: 0 }));
}

/** The state `events` would fold `state` into once appended. */
export function foldAhead(
  state: SessionState,
  sessionId: SessionId,
  events: readonly NewEvent[],
): SessionState {
  return fold(asAppended(sessionId, state.seq, events), state);
}

/**
 * The checkpoint written at `state`: `appending` are the events of the append that carries it
 * (committed with it, not yet seen by the `onCommitted` listeners).
 */
export type CheckpointOf = (state: SessionState, appending: readonly StoredEvent[]) => JsonValue;

/**
 * How long a tool's result may wait for the loop's next append to commit with it
 * (`appendWithNext`). A model that answers within it (a fast local one) has the result and its
 * answer committed together, one commit instead of two; a slower one finds the result already
 * committed when it answers. Either way a worker that dies in between re-runs the call by its
 * effect class, as it would if it died during the result's own commit.
 */
export const holdForNextMs = 1;

/** Events folded into the state and waiting to commit with the next append (or alone, soon). */
interface Held {
  events: NewEvent[];
  effects: EffectChange[];
  checkpoint: boolean;
  /** The state before them: the append that carries them expects its seq. */
  before: SessionState;
  timer: NodeJS.Timeout;
}

/**
 * The one writer of a claimed session: appends under the lease (riding out transient store
 * failures), folds what it appended into the state, and tells listeners about committed events.
 * Appends are serialized, so a background flush (coalesced model deltas) and the loop's own
 * appends never race for the same seq.
 */
export class SessionWriter {
  readonly #store: SessionStore;
  readonly #lease: Lease;
  readonly #signal: AbortSignal;
  readonly #events: WorkerEvents | undefined;
  readonly #checkpointEvery: number;
  readonly #checkpointOf: CheckpointOf;
  readonly #listeners: ((event: StoredEvent) => void)[] = [];
  #state: SessionState;
  #lastCheckpointSeq: number;
  #tail: Promise<unknown> = Promise.resolve();
  /** Appends sent and not yet settled. */
  #inFlight = 0;
  #held: Held | null = null;
  /** The failure of held events sent alone: every later append fails with it. */
  #broken: Error | undefined = undefined;

  constructor(options: {
    store: SessionStore;
    lease: Lease;
    signal: AbortSignal;
    state: SessionState;
    /** Told of commits and stalls (`events.committed`, `append.stalled`, `append.recovered`). */
    events?: WorkerEvents;
    checkpointEvery?: number;
    /** What the checkpoint holds; default: the folded state alone (format 1). */
    checkpointOf?: CheckpointOf;
  }) {
    this.#store = options.store;
    this.#lease = options.lease;
    this.#signal = options.signal;
    this.#events = options.events;
    this.#state = options.state;
    this.#lastCheckpointSeq = options.state.seq;
    this.#checkpointEvery = options.checkpointEvery ?? 64;
    this.#checkpointOf = options.checkpointOf ?? ((state) => state as unknown as JsonValue);
  }

  get state(): SessionState {
    return this.#state;
  }

  get lease(): Lease {
    return this.#lease;
  }

  /** Called with every committed event, in seq order. */
  onCommitted(listener: (event: StoredEvent) => void): void {
    this.#listeners.push(listener);
  }

  append(events: NewEvent[], extra: AppendExtra = {}): Promise<void> {
    this.#inFlight++;
    const run = this.#tail.then(() => this.#appendNow(events, extra));
    this.#tail = run.catch(() => undefined);
    return run.finally(() => this.#inFlight--);
  }

  /**
   * Folds `events` into the state at once and commits them with the loop's next append, or alone
   * once `holdForNextMs` has passed — for a call's result, whose commit the next model call need
   * not wait for (DESIGN §4: until it commits, a worker that dies re-runs the call by its effect
   * class, as during any commit). Returns null when held; when appends are still in flight it
   * appends as `append` does, and returns that promise to await. A held append that fails alone
   * fails every later append, and `flush`.
   */
  appendWithNext(
    events: NewEvent[],
    extra: { effects?: EffectChange[]; checkpoint?: boolean } = {},
  ): Promise<void> | null {
    if (this.#inFlight > 0 || this.#held !== null || this.#broken !== undefined)
      return this.append(events, extra);
    const before = this.#state;
    this.#state = foldAhead(before, this.#lease.sessionId, events);
    // The listeners (the transcript) see them now: the next model call is built on them.
    const appending = asAppended(this.#lease.sessionId, before.seq, events);
    for (const e of appending) for (const listener of this.#listeners) listener(e);
    const timer = setTimeout(() => void this.#sendHeld(), holdForNextMs);
    this.#held = {
      events,
      effects: extra.effects ?? [],
      checkpoint: extra.checkpoint === true,
      before,
      timer,
    };
    return null;
  }

  /** Commits what is held and waits for every append sent; throws a held append's failure. */
  async flush(): Promise<void> {
    if (this.#held !== null) await this.#sendHeld();
    await this.#tail;
    if (this.#broken !== undefined) throw this.#broken;
  }

  /** Sends the held events alone (their time is up, or the run ends); a failure breaks the writer. */
  #sendHeld(): Promise<void> {
    this.#inFlight++;
    const run = this.#tail.then(() => this.#appendNow(null, {}));
    this.#tail = run.catch((error: unknown) => {
      this.#broken ??= asError(error);
    });
    return this.#tail.finally(() => this.#inFlight--) as Promise<void>;
  }

  /** `events` null: only what is held, if anything still is. */
  async #appendNow(events: NewEvent[] | null, extra: AppendExtra): Promise<void> {
    if (this.#broken !== undefined) throw this.#broken;
    const sessionId = this.#lease.sessionId;
    const held = this.#held;
    this.#held = null;
    if (held !== null) clearTimeout(held.timer);
    if (events === null && held === null) return;
    const own = events ?? [];
    // Held events lead the append; the state already holds them, and so do the listeners.
    const appending = asAppended(sessionId, this.#state.seq, own);
    let next = this.#state;
    for (const e of appending) next = applyEvent(next, e);
    const { checkpoint, ...rest } = extra;
    const request: AppendRequest = {
      ...rest,
      fence: this.#lease,
      expectedSeq: (held?.before ?? this.#state).seq,
      events: held === null ? own : [...held.events, ...own],
    };
    if (held !== null && held.effects.length > 0)
      request.effects = [...held.effects, ...(rest.effects ?? [])];
    const due = next.seq - this.#lastCheckpointSeq >= this.#checkpointEvery;
    if (checkpoint === 'always' || ((checkpoint === true || held?.checkpoint === true) && due)) {
      request.checkpoint = { seq: next.seq, state: this.#checkpointOf(next, appending) };
    }
    let stored: StoredEvent[];
    try {
      stored = await this.#commit(request);
    } catch (error) {
      // Held events are in the state already: they commit alone, or nothing may follow them.
      if (held !== null && events !== null) await this.#commitHeldAlone(held);
      else if (held !== null) this.#broken ??= asError(error);
      throw error;
    }
    this.#state = next;
    if (request.checkpoint) this.#lastCheckpointSeq = next.seq;
    this.#tell(stored, held === null ? 0 : held.events.length);
  }

  /**
   * The append that carried held events failed for its own part (e.g. an event too large): the
   * held ones commit without it, so the caller can append what it does about its failure.
   */
  async #commitHeldAlone(held: Held): Promise<void> {
    try {
      const { effects } = held;
      const stored = await this.#commit({
        fence: this.#lease,
        expectedSeq: held.before.seq,
        events: held.events,
        ...(effects.length > 0 ? { effects } : {}),
      });
      this.#tell(stored, held.events.length);
    } catch (error) {
      this.#broken ??= asError(error);
    }
  }

  async #commit(request: AppendRequest): Promise<StoredEvent[]> {
    const sessionId = this.#lease.sessionId;
    const told = this.#events;
    const { events } = await appendDurably(this.#store, request, {
      signal: this.#signal,
      onStall: (error) => told?.emit('append.stalled', { sessionId, error }),
      onRecovered: () => told?.emit('append.recovered', { sessionId }),
    });
    return events;
  }

  /** Listeners hear of the events not held (they heard of those when held); workers of all. */
  #tell(stored: StoredEvent[], heldCount: number): void {
    for (const e of stored.slice(heldCount)) for (const listener of this.#listeners) listener(e);
    if (stored.length > 0)
      this.#events?.emit('events.committed', { sessionId: this.#lease.sessionId, events: stored });
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
