import { LongrunError, OnePerTurn, ReplySpin, checkCount, replySpinMs } from '@longrun/core';

/** How appends are grouped into batches (one round trip and one commit each). */
export interface AppendBatching {
  /**
   * Batches out at once, each on its own pooled connection: the next batch need not wait for a
   * slow one, and PostgreSQL works on several batches on several cores. Default 2.
   */
  maxInFlight?: number;
  /**
   * Appends per batch. Default 64: each append of a batch commits a subtransaction, and past 64
   * of them in one transaction PostgreSQL's snapshots overflow their subtransaction cache, which
   * slows every other connection's visibility checks while the batch runs.
   */
  maxItems?: number;
  /** Encoded bytes per batch; a single larger append still goes, alone. Default 1 MiB. */
  maxBytes?: number;
  /**
   * When several slots are free, the waiting appends are spread over them, but not into batches
   * smaller than this. Default 8.
   */
  splitMinItems?: number;
  /**
   * For how long after a batch went out the event loop is kept awake for its answer, in
   * milliseconds (core's ReplySpin): 0 to 100, 0 turns it off. Default: `LONGRUN_REPLY_SPIN_MS`,
   * else 1.
   */
  replySpinMs?: number;
}

/** What one item of a batch came to: its value, or the error its caller gets. */
export type BatchOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown };

/**
 * Sends a batch and returns one outcome per item, in item order. Rejecting rejects every item
 * with that error (e.g. the connection dropped: nobody knows which items committed).
 */
export type SendBatch<T, R> = (items: T[]) => Promise<BatchOutcome<R>[]>;

interface Queued<T, R> {
  key: string;
  item: T;
  bytes: number;
  resolve: (value: R) => void;
  reject: (error: unknown) => void;
}

/**
 * Group commit for appends. An append is queued; when fewer than maxInFlight batches are out, the
 * queue is sent on process.nextTick. A tick queued while promise callbacks run fires only once
 * they all have, so the appends of one burst (every session woken by the same reply) share a
 * batch, and a lone caller waits for nothing: pg itself defers sending to a tick. (setImmediate
 * gathered the same batches in the bench and cost a lone session a check phase.) While the limit
 * is reached appends accumulate, and each returning batch sends what did.
 *
 * Order: items with the same key (a session) are applied in the order they were submitted. A key
 * with an item in flight is held back from new batches until that batch returns, and items
 * behind a held-back item of their key wait with it. Within a batch items are sorted by key
 * (stably), so batches that touch the same rows, e.g. another worker's stale appends, lock them
 * in one global order and cannot deadlock one another.
 */
export class AppendBatcher<T, R> {
  readonly #send: SendBatch<T, R>;
  readonly #maxInFlight: number;
  readonly #maxItems: number;
  readonly #maxBytes: number;
  readonly #splitMinItems: number;
  #queue: Queued<T, R>[] = [];
  /** Keys with an item in a batch that has not returned. */
  readonly #busyKeys = new Set<string>();
  #inFlight = 0;
  #scheduled = false;
  #idleWaiters: (() => void)[] = [];
  /** Outcomes of returned batches not yet given to their callers (see OnePerTurn). */
  readonly #unsettled = new OnePerTurn();
  readonly #spin: ReplySpin;

  constructor(send: SendBatch<T, R>, options: AppendBatching = {}) {
    this.#send = send;
    this.#spin = new ReplySpin(replySpinMs(options.replySpinMs), () => this.#inFlight > 0);
    const check = (name: keyof AppendBatching, fallback: number): number =>
      checkCount(`appendBatching.${name}`, options[name] ?? fallback, 1);
    this.#maxInFlight = check('maxInFlight', 2);
    this.#maxItems = check('maxItems', 64);
    this.#maxBytes = check('maxBytes', 1 << 20);
    this.#splitMinItems = check('splitMinItems', 8);
  }

  /** Queues one item; settles with its own outcome once its batch has returned. */
  submit(key: string, item: T, bytes: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#queue.push({ key, item, bytes, resolve, reject });
      this.#schedule();
    });
  }

  /** Resolves once every item submitted so far has been sent and has settled. */
  drain(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#schedule();
    });
  }

  #idle(): boolean {
    return this.#queue.length === 0 && this.#inFlight === 0 && this.#unsettled.empty;
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= this.#maxInFlight || this.#queue.length === 0) return;
    this.#scheduled = true;
    process.nextTick(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    // A burst (every session of a worker answering at once) is split over the free slots, so the
    // server works on it on several cores while this process prepares the next one.
    const free = this.#maxInFlight - this.#inFlight;
    const share = Math.max(this.#splitMinItems, Math.ceil(this.#queue.length / free));
    while (this.#inFlight < this.#maxInFlight) {
      const batch = this.#take(share);
      if (batch.length === 0) return;
      void this.#run(batch);
    }
  }

  /**
   * Removes the next batch from the queue, in submission order, skipping held-back keys. `share`
   * limits how many appends a split batch takes, but a session already in the batch brings its
   * later appends along (up to the hard caps): split apart, they would wait a round trip each.
   */
  #take(share: number): Queued<T, R>[] {
    const batch: Queued<T, R>[] = [];
    const rest: Queued<T, R>[] = [];
    const keys = new Set<string>();
    const heldBack = new Set<string>();
    let bytes = 0;
    for (const q of this.#queue) {
      const fits =
        batch.length < this.#maxItems &&
        (batch.length === 0 || bytes + q.bytes <= this.#maxBytes) &&
        (batch.length < share || keys.has(q.key));
      if (!fits || heldBack.has(q.key) || this.#busyKeys.has(q.key)) {
        heldBack.add(q.key);
        rest.push(q);
      } else {
        batch.push(q);
        keys.add(q.key);
        bytes += q.bytes;
      }
    }
    this.#queue = rest;
    return batch.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async #run(batch: Queued<T, R>[]): Promise<void> {
    this.#inFlight++;
    this.#spin.sent();
    const sentAt = performance.now();
    for (const q of batch) this.#busyKeys.add(q.key);
    let outcomes: BatchOutcome<R>[] | undefined;
    let failure: unknown;
    try {
      outcomes = await this.#send(batch.map((q) => q.item));
      this.#spin.answered(performance.now() - sentAt);
      if (outcomes.length !== batch.length) {
        const counts = `${batch.length} appends, ${outcomes.length} outcomes`;
        throw new LongrunError('INTERNAL', `a batch of appends came back short (${counts})`);
      }
    } catch (error) {
      failure = error;
    }
    this.#inFlight--;
    for (const q of batch) this.#busyKeys.delete(q.key);
    // One caller per turn: the sessions of a batch do not all run their next step in one task.
    this.#unsettled.push(
      ...batch.map((q, i) => () => {
        const outcome = outcomes?.[i];
        if (failure !== undefined || outcome === undefined) q.reject(failure);
        else if (outcome.ok) q.resolve(outcome.value);
        else q.reject(outcome.error);
      }),
      () => {
        if (this.#idle()) for (const wake of this.#idleWaiters.splice(0)) wake();
      },
    );
    this.#schedule();
  }
}
