import {
  LongrunError,
  applyEvent,
  fold,
  isLongrunError,
  isRetryable,
  newAppendId,
  type AppendResult,
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
import { appendDurably, asStored } from './durable-append.ts';
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
 * (committed with it, not yet told to the `onApplied` listeners).
 */
export type CheckpointOf = (
  state: SessionState,
  appending: readonly StoredEvent[],
) => CheckpointContent;

/**
 * How many appends one session may have in flight at once (ahead appends behind the first). A
 * tool call waits for its start to commit, so the agent loop rarely has more than two; the
 * window bounds appends nobody waits for. A worker running many sessions gives each a smaller
 * one (aheadWindowFor): group commit already shares their fsyncs there, and more in flight each
 * made longer turns of the event loop (32 peer sessions on Postgres with a window of 2: +20 %
 * steps/s, but the loop's p99 delay ~4.4 → ~5.3 ms).
 */
export const defaultAheadWindow = 8;

/** The window of each of `sessions` sessions a worker runs: 32 appends in flight in all, 1 to 8 each. */
export function aheadWindowFor(sessions: number): number {
  return Math.max(1, Math.min(defaultAheadWindow, Math.floor(32 / Math.max(1, sessions))));
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // Nobody need wait on an ahead append's commit: its failure reaches the next append instead.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

/** One append, from the call that asked for it to its commit. */
interface Entry {
  events: NewEvent[];
  extra: AppendExtra;
  /** Sent without waiting for the appends before it to commit (appendAhead). */
  ahead: boolean;
  /** May wait to be sent with the next append asked for in this turn of the event loop. */
  withNext: boolean;
  /** Resolved once sent: the state includes it. */
  sent: Deferred;
  committed: Deferred;
  /** Set when sent. */
  request?: AppendRequest;
  next?: SessionState;
  appending?: StoredEvent[];
  content?: CheckpointContent | undefined;
  /** The checkpoint position before it was sent, restored if it fails. */
  checkpointSeqBefore?: number;
  /** Sent, but not yet given to the store (withNext): resolved when it is. */
  held?: Deferred | undefined;
  /** The store's answer to the first send; absent when it must be sent again, in order. */
  reply?: Promise<AppendResult> | undefined;
  /** Later ahead appends that went in this one's request, and settle with it. */
  joined: Entry[];
}

/** Events in one request at most when ahead appends are joined. */
const joinedEventsMax = 64;

/** Only these extras let two appends be sent as one. */
function joinableExtra(extra: AppendExtra): boolean {
  for (const key in extra) if (key !== 'effects' && key !== 'checkpoint') return false;
  return true;
}

/**
 * The one writer of a claimed session: appends under the lease (riding out transient store
 * failures), folds what it appended into the state, and tells listeners about the events.
 *
 * Appends are applied in the order they are asked for, so a background flush (coalesced model
 * deltas) and the loop's own appends never race for the same seq. `append` sends once every
 * earlier append has committed and settles with its own commit, which nothing later is sent
 * before. `appendAhead` sends at once, behind the appends still in flight (both stores apply one
 * session's appends in the order they were sent), and lets the loop go on: a step's JavaScript
 * and the store's commits overlap. One asked `withNext` is given to the store with the next
 * ahead append of the same turn of the event loop, as one commit (a tool's result with the next
 * model response), or alone at the end of the turn.
 *
 * Only what may be done again after a crash may run on state an ahead append has not committed
 * (DESIGN §4: a model call); a tool call waits for `settled`, so its start is in the log before
 * it runs. An ahead append that fails for good breaks the writer: every later append fails with
 * its error, and the next run reads the log.
 */
export class SessionWriter {
  readonly #store: SessionStore;
  readonly #lease: Lease;
  readonly #signal: AbortSignal;
  readonly #events: WorkerEvents | undefined;
  readonly #checkpointEvery: number;
  readonly #checkpointOf: CheckpointOf;
  readonly #aheadWindow: () => number;
  readonly #listeners: ((event: StoredEvent) => void)[] = [];
  /** What the log holds once every sent append has committed. */
  #state: SessionState;
  #lastCheckpointSeq: number;
  /** Appends not yet committed, in order; the first `#sentCount` of them have been sent. */
  readonly #queue: Entry[] = [];
  #sentCount = 0;
  /** A send of the queue's first failed: the appends are sent again one at a time. */
  #resending = false;
  #draining = false;
  #stalled = false;
  #broken: { error: Error } | null = null;

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
    /** Appends in flight at most (see defaultAheadWindow), asked before each is sent. */
    aheadWindow?: () => number;
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
    this.#aheadWindow = options.aheadWindow ?? (() => defaultAheadWindow);
  }

  /** The state the log holds once the appends sent so far have committed. */
  get state(): SessionState {
    return this.#state;
  }

  get lease(): Lease {
    return this.#lease;
  }

  /**
   * Called with the events folded into `state`, in seq order: an ahead append's when it is sent,
   * any other's when it commits.
   */
  onApplied(listener: (event: StoredEvent) => void): void {
    this.#listeners.push(listener);
  }

  /** Appends once every earlier append has committed; settles when this one has. */
  append(events: NewEvent[], extra: AppendExtra = {}): Promise<void> {
    return this.#enqueue(events, extra, false, false).committed.promise;
  }

  /**
   * Appends without waiting for the appends before it; settles once it is sent (`state`
   * includes it) and fewer than a window of appends are in flight. Fails with the error of an
   * earlier ahead append that failed for good. `withNext`: it may wait, until the end of this
   * turn of the event loop, to be committed with the next ahead append.
   */
  appendAhead(
    events: NewEvent[],
    extra: AppendExtra = {},
    options: { withNext?: boolean } = {},
  ): Promise<void> {
    // An append of no events is known by no seq of its own (see #foundCommitted): it waits.
    if (events.length === 0) return this.append(events, extra);
    return this.#enqueue(events, extra, true, options.withNext === true).sent.promise;
  }

  /** Settles once every append asked for so far has committed, or with the error that broke it. */
  settled(): Promise<void> {
    if (this.#broken !== null) return Promise.reject(this.#broken.error);
    const last = this.#queue.at(-1);
    if (last === undefined) return Promise.resolve();
    if (last.held !== undefined) this.#release(last);
    return last.committed.promise;
  }

  #enqueue(events: NewEvent[], extra: AppendExtra, ahead: boolean, withNext: boolean): Entry {
    const entry: Entry = {
      events,
      extra,
      ahead,
      withNext,
      sent: deferred(),
      committed: deferred(),
      joined: [],
    };
    if (this.#broken !== null) {
      entry.sent.reject(this.#broken.error);
      entry.committed.reject(this.#broken.error);
      return entry;
    }
    this.#queue.push(entry);
    this.#pump();
    return entry;
  }

  /**
   * Sends what may go now: the next append, if it is an ahead one behind ahead ones only (and
   * the window has room), or any append once nothing is in flight. An ahead append behind a held
   * one joins its request.
   */
  #pump(): void {
    while (this.#sentCount < this.#queue.length && !this.#resending) {
      const entry = this.#queue[this.#sentCount] as Entry;
      const last = this.#sentCount > 0 ? (this.#queue[this.#sentCount - 1] as Entry) : undefined;
      if (last?.held !== undefined) {
        if (this.#joinable(last, entry)) {
          this.#join(last, entry);
          continue;
        }
        this.#release(last);
      }
      if (this.#sentCount > 0) {
        const behindAhead = entry.ahead && (this.#queue[0] as Entry).ahead;
        if (!behindAhead || this.#sentCount >= this.#aheadWindow()) break;
      }
      this.#send(entry);
      this.#sentCount++;
    }
    if (!this.#draining && this.#sentCount > 0) void this.#drain();
  }

  /** `events` folded after the state, with the checkpoint the append carries if one is due. */
  #fold(
    events: NewEvent[],
    checkpoint: AppendExtra['checkpoint'],
  ): {
    appending: StoredEvent[];
    next: SessionState;
    content: CheckpointContent | undefined;
    write: CheckpointWrite | undefined;
  } {
    const appending = asAppended(this.#lease.sessionId, this.#state.seq, events);
    let next = this.#state;
    for (const e of appending) next = applyEvent(next, e);
    const due = next.seq - this.#lastCheckpointSeq >= this.#checkpointEvery;
    // One checkpoint in flight at a time: its parts plan stands on the last one committed.
    let carrying = false;
    for (let i = 0; i < this.#sentCount && !carrying; i++)
      carrying = (this.#queue[i] as Entry).content !== undefined;
    if (!(checkpoint === 'always' || (checkpoint === true && due && !carrying)))
      return { appending, next, content: undefined, write: undefined };
    const content = this.#checkpointOf(next, appending);
    this.#lastCheckpointSeq = next.seq;
    const write: CheckpointWrite = {
      seq: next.seq,
      state: content.state,
      ...(content.parts === undefined ? {} : { parts: content.parts }),
    };
    return { appending, next, content, write };
  }

  #send(entry: Entry): void {
    const { checkpoint, ...rest } = entry.extra;
    entry.checkpointSeqBefore = this.#lastCheckpointSeq;
    const expectedSeq = this.#state.seq;
    const { appending, next, content, write } = this.#fold(entry.events, checkpoint);
    const request: AppendRequest = {
      ...rest,
      fence: this.#lease,
      expectedSeq,
      events: entry.events,
      appendId: rest.appendId ?? newAppendId(),
      ...(write === undefined ? {} : { checkpoint: write }),
    };
    Object.assign(entry, { request, next, appending, content });
    if (entry.ahead) {
      this.#state = next;
      this.#tell(appending);
    }
    const last = this.#sentCount === this.#queue.length - 1;
    if (entry.withNext && last && content === undefined && joinableExtra(entry.extra)) {
      const held = deferred();
      entry.held = held;
      setImmediate(() => this.#release(entry));
    } else this.#give(entry);
    entry.sent.resolve();
  }

  /** An ahead append that may go in the held one's request. */
  #joinable(held: Entry, entry: Entry): boolean {
    return (
      entry.ahead &&
      held.content === undefined &&
      joinableExtra(entry.extra) &&
      (held.request as AppendRequest).events.length + entry.events.length <= joinedEventsMax
    );
  }

  /** Sends `entry` in the held append's request: one commit for both. */
  #join(held: Entry, entry: Entry): void {
    const request = held.request as AppendRequest;
    const { appending, next, content, write } = this.#fold(entry.events, entry.extra.checkpoint);
    request.events = request.events.concat(entry.events);
    const effects = [...(request.effects ?? []), ...(entry.extra.effects ?? [])];
    if (effects.length > 0) request.effects = effects;
    if (write !== undefined) {
      request.checkpoint = write;
      held.content = content;
    }
    this.#state = next;
    this.#tell(appending);
    this.#queue.splice(this.#sentCount, 1);
    held.joined.push(entry);
    entry.sent.resolve();
    const last = this.#sentCount === this.#queue.length;
    if (!(entry.withNext && last && content === undefined)) this.#release(held);
  }

  /** Gives a held append to the store. */
  #release(entry: Entry): void {
    const held = entry.held;
    if (held === undefined) return;
    entry.held = undefined;
    this.#give(entry);
    held.resolve();
  }

  #give(entry: Entry): void {
    const request = entry.request as AppendRequest;
    try {
      entry.reply = this.#store.append(request);
    } catch (error) {
      entry.reply = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    entry.reply.catch(() => undefined);
  }

  /** Settles the sent appends in order, sending one again (and those after it) if it failed. */
  async #drain(): Promise<void> {
    this.#draining = true;
    try {
      while (this.#sentCount > 0) {
        const entry = this.#queue[0] as Entry;
        let result: AppendResult;
        try {
          result = await this.#outcome(entry);
        } catch (error) {
          this.#fail(entry, error);
          continue;
        }
        this.#commit(entry, result);
      }
    } finally {
      this.#draining = false;
    }
  }

  /**
   * The store's answer to an append. A transient failure (a dropped connection) may hide a
   * commit, and the appends sent behind it failed or will: once they have all answered, each is
   * sent again in order with its append id (durable-append.ts).
   */
  async #outcome(entry: Entry): Promise<AppendResult> {
    if (entry.held !== undefined) await entry.held.promise;
    const request = entry.request as AppendRequest;
    const sessionId = this.#lease.sessionId;
    if (entry.reply !== undefined) {
      try {
        return await entry.reply;
      } catch (error) {
        if (!isRetryable(error)) throw error;
        this.#stalled = true;
        this.#events?.emit('append.stalled', { sessionId, error: error as LongrunError });
        this.#resending = true;
        const behind = this.#queue.slice(1, this.#sentCount);
        for (const e of behind) {
          // A held one is sent in its turn below, not at the end of the event loop's turn.
          const held = e.held;
          e.held = undefined;
          held?.resolve();
        }
        await Promise.allSettled(behind.flatMap((e) => (e.reply === undefined ? [] : [e.reply])));
        for (const e of behind) e.reply = undefined;
      }
    }
    try {
      const { result } = await appendDurably(this.#store, request, {
        signal: this.#signal,
        onStall: (error) => this.#events?.emit('append.stalled', { sessionId, error }),
      });
      return result;
    } catch (error) {
      if (!isLongrunError(error, 'SEQ_CONFLICT')) throw error;
      const found = await this.#foundCommitted(request);
      if (found === null) throw error;
      return found;
    }
  }

  /**
   * An append sent again whose first send committed, with more of this run's appends after it:
   * a store knows only a session's last append id, so it answers SEQ_CONFLICT. Nobody else
   * appends under this lease's epoch, so events of that epoch at the append's seqs are its own.
   */
  async #foundCommitted(request: AppendRequest): Promise<AppendResult | null> {
    const count = request.events.length;
    if (count === 0) return null;
    const stored = await this.#store.readEvents(this.#lease.sessionId, request.expectedSeq, count);
    const own =
      stored.length === count &&
      stored.every(
        (e, i) =>
          e.seq === request.expectedSeq + 1 + i &&
          e.epoch === this.#lease.epoch &&
          e.type === request.events[i]?.type,
      );
    if (!own) return null;
    return { headSeq: request.expectedSeq + count, atMs: (stored[0] as StoredEvent).atMs };
  }

  #commit(entry: Entry, result: AppendResult): void {
    const request = entry.request as AppendRequest;
    this.#queue.shift();
    this.#sentCount--;
    if (
      this.#resending &&
      this.#queue.slice(0, this.#sentCount).every((e) => e.reply !== undefined)
    ) {
      this.#resending = false;
    }
    if (this.#stalled && !this.#resending) {
      this.#stalled = false;
      this.#events?.emit('append.recovered', { sessionId: this.#lease.sessionId });
    }
    const stored = asStored(request, result);
    if (!entry.ahead) {
      this.#state = entry.next as SessionState;
      this.#tell(stored);
    }
    entry.content?.committed?.();
    if (stored.length > 0)
      this.#events?.emit('events.committed', { sessionId: this.#lease.sessionId, events: stored });
    for (const joined of entry.joined) joined.committed.resolve();
    entry.committed.resolve();
    this.#pump();
  }

  /**
   * An append failed for good. One sent alone (`append`) is forgotten, as if never asked for;
   * an ahead one was already in the state and in the listeners' view, and broke the writer.
   */
  #fail(entry: Entry, error: unknown): void {
    if (!entry.ahead) {
      this.#queue.shift();
      this.#sentCount--;
      this.#lastCheckpointSeq = entry.checkpointSeqBefore as number;
      entry.committed.reject(error);
      this.#pump();
      return;
    }
    this.#broken = { error: error instanceof Error ? error : new Error(String(error)) };
    for (const e of this.#queue.splice(0)) {
      for (const joined of [e, ...e.joined]) {
        joined.sent.reject(error);
        joined.committed.reject(error);
      }
      const held = e.held;
      e.held = undefined;
      held?.resolve();
    }
    this.#sentCount = 0;
  }

  #tell(events: readonly StoredEvent[]): void {
    for (const e of events) for (const listener of this.#listeners) listener(e);
  }
}
