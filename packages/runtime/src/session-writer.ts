import {
  applyEvent,
  fold,
  type SessionId,
  type AppendRequest,
  type CheckpointWrite,
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

/** What a checkpoint holds: its state, the parts it adds, and whom to tell once it committed. */
export interface CheckpointContent {
  state: JsonValue;
  parts?: CheckpointWrite['parts'];
  committed?: () => void;
}

/**
 * The checkpoint written at `state`: `appending` are the events of the append that carries it
 * (committed with it, not yet seen by the `onCommitted` listeners).
 */
export type CheckpointOf = (
  state: SessionState,
  appending: readonly StoredEvent[],
) => CheckpointContent;

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
    this.#checkpointOf =
      options.checkpointOf ?? ((state) => ({ state: state as unknown as JsonValue }));
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
    const run = this.#tail.then(() => this.#appendNow(events, extra));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #appendNow(events: NewEvent[], extra: AppendExtra): Promise<void> {
    const sessionId = this.#lease.sessionId;
    const expectedSeq = this.#state.seq;
    let next = this.#state;
    const appending = asAppended(sessionId, expectedSeq, events);
    for (const e of appending) next = applyEvent(next, e);
    const { checkpoint, ...rest } = extra;
    const request: AppendRequest = { ...rest, fence: this.#lease, expectedSeq, events };
    const due = next.seq - this.#lastCheckpointSeq >= this.#checkpointEvery;
    let content: CheckpointContent | undefined;
    if (checkpoint === 'always' || (checkpoint === true && due)) {
      content = this.#checkpointOf(next, appending);
      request.checkpoint = {
        seq: next.seq,
        state: content.state,
        ...(content.parts === undefined ? {} : { parts: content.parts }),
      };
    }
    const told = this.#events;
    const { events: stored } = await appendDurably(this.#store, request, {
      signal: this.#signal,
      onStall: (error) => told?.emit('append.stalled', { sessionId, error }),
      onRecovered: () => told?.emit('append.recovered', { sessionId }),
    });
    this.#state = next;
    if (request.checkpoint) this.#lastCheckpointSeq = next.seq;
    content?.committed?.();
    for (const e of stored) for (const listener of this.#listeners) listener(e);
    if (stored.length > 0) told?.emit('events.committed', { sessionId, events: stored });
  }
}
