import type { SessionId, SessionStore } from '@longrun/core';
import type { Mailbox } from './mailbox.ts';
import type { SessionViewData } from './schemas.ts';
import type { SessionViews } from './session-views.ts';
import { sseFrames } from './sse-frames.ts';

export interface FeedHubOptions {
  store: SessionStore;
  views: SessionViews;
  /** How often a watched session's log is read for new events, milliseconds. */
  pollMs: number;
  /** How often a watched session's status is read when its log did not move, milliseconds. */
  statePollMs?: number;
  log?: (message: string) => void;
}

const pageSize = 500;

type FeedConfig = Required<Omit<FeedHubOptions, 'log'>> & Pick<FeedHubOptions, 'log'>;
const maxBackoffMs = 2_000;

export function stateKey(view: SessionViewData): string {
  return JSON.stringify([view.status, view.statusReason, view.waitingFor, view.pendingApprovals]);
}

/**
 * One reader of the store per watched session, however many stream clients watch it. A feed
 * polls `readEvents(id, lastSeq)` every `pollMs` while it has subscribers (and at once when this
 * process says it appended), and fans each event out to every subscriber's bounded mailbox. It
 * also reads the session's record (when events arrived, and every `statePollMs` otherwise) and
 * sends a state item when the status, its reason, the wait or the pending approvals change
 * (`stateKey`; subscribers drop repeats).
 * A feed with no subscribers stops reading and is forgotten.
 *
 * Across processes this is the only path on SQLite: the reader sees durable events within
 * `pollMs` of their commit, and model tokens as the coalesced `model.streamed` events.
 */
export class FeedHub {
  readonly #o: FeedConfig;
  readonly #feeds = new Map<string, SessionFeed>();
  #closed = false;

  constructor(options: FeedHubOptions) {
    this.#o = { statePollMs: 250, ...options };
  }

  /**
   * Adds a subscriber to the session's feed. A new feed starts reading after `headSeq` (the
   * caller reads the log before that itself); an existing one goes on where it is. Events a
   * subscriber already has, or a gap before its first item, are the subscriber's to handle.
   */
  subscribe(id: SessionId, headSeq: number, mailbox: Mailbox): () => void {
    if (this.#closed) {
      mailbox.close();
      return () => undefined;
    }
    let feed = this.#feeds.get(id);
    if (feed === undefined) {
      feed = new SessionFeed(id, headSeq, this.#o, () => this.#feeds.delete(id));
      this.#feeds.set(id, feed);
    }
    return feed.add(mailbox);
  }

  /** This process appended to the session: read it now rather than at the next poll. */
  appended(id: string): void {
    this.#feeds.get(id)?.wake();
  }

  /** Ends every feed and closes every subscriber's mailbox (their streams end). */
  close(): void {
    this.#closed = true;
    for (const feed of this.#feeds.values()) feed.close();
    this.#feeds.clear();
  }

  get stats(): { feeds: number; subscribers: number; reads: number } {
    let subscribers = 0;
    let reads = 0;
    for (const feed of this.#feeds.values()) {
      subscribers += feed.subscribers;
      reads += feed.reads;
    }
    return { feeds: this.#feeds.size, subscribers, reads };
  }
}

class SessionFeed {
  readonly #id: SessionId;
  readonly #o: FeedConfig;
  readonly #onIdle: () => void;
  readonly #mailboxes = new Set<Mailbox>();
  #lastSeq: number;
  #lastState: string | null = null;
  #lastStateAtMs = 0;
  #running = false;
  #closed = false;
  #wake: (() => void) | null = null;
  #woken = false;
  reads = 0;

  constructor(id: SessionId, headSeq: number, options: FeedConfig, onIdle: () => void) {
    this.#id = id;
    this.#lastSeq = headSeq;
    this.#o = options;
    this.#onIdle = onIdle;
  }

  get subscribers(): number {
    return this.#mailboxes.size;
  }

  add(mailbox: Mailbox): () => void {
    this.#mailboxes.add(mailbox);
    if (!this.#running) {
      this.#running = true;
      void this.#run();
    }
    return () => {
      this.#mailboxes.delete(mailbox);
      this.wake();
    };
  }

  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  close(): void {
    this.#closed = true;
    for (const mailbox of this.#mailboxes) mailbox.close();
    this.#mailboxes.clear();
    this.wake();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed && this.#mailboxes.size > 0) {
      let more = false;
      try {
        more = await this.#tick();
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1)
          this.#o.log?.(`stream feed of ${this.#id}: ${(error as Error).message}; retrying`);
      }
      if (!more) await this.#sleep(Math.min(this.#o.pollMs * 2 ** failures, maxBackoffMs));
    }
    this.#running = false;
    if (!this.#closed) this.#onIdle();
  }

  /** One read; true when a full page came back (read again at once). */
  async #tick(): Promise<boolean> {
    this.reads++;
    const events = await this.#o.store.readEvents(this.#id, this.#lastSeq, pageSize);
    for (const event of events) {
      this.#lastSeq = event.seq;
      // Framed once here, not once per reader.
      this.#fanOut({ kind: 'event', event, frame: sseFrames.event(event) });
    }
    const now = performance.now();
    if (events.length > 0 || now - this.#lastStateAtMs >= this.#o.statePollMs) {
      this.#lastStateAtMs = now;
      const view = await this.#o.views.view(await this.#o.store.getSession(this.#id));
      const key = stateKey(view);
      // The first check always goes out: a change between a subscriber's own first view and this
      // read would otherwise be missed. Subscribers drop a state equal to the last they sent.
      if (key !== this.#lastState) this.#fanOut({ kind: 'state', view });
      this.#lastState = key;
    }
    return events.length === pageSize;
  }

  #fanOut(item: Parameters<Mailbox['push']>[0]): void {
    for (const mailbox of this.#mailboxes) {
      if (!mailbox.push(item)) this.#mailboxes.delete(mailbox);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (this.#woken) {
      this.#woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#wake = null;
        this.#woken = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
    });
  }
}
