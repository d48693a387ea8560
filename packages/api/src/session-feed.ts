import {
  maxSessionsPerRead,
  type SessionId,
  type SessionRecord,
  type SessionStore,
} from '@longrun/core';
import type { Mailbox } from './mailbox.ts';
import type { SessionViewData } from './schemas.ts';
import type { SessionViews } from './session-views.ts';
import { sseFrames } from './sse-frames.ts';

export interface FeedHubOptions {
  store: SessionStore;
  views: SessionViews;
  /** How often the watched sessions' records are read (one read for all of them), milliseconds. */
  pollMs: number;
  log?: (message: string) => void;
}

const pageSize = 500;
const maxBackoffMs = 2_000;

export function stateKey(view: SessionViewData): string {
  return JSON.stringify([view.status, view.statusReason, view.waitingFor, view.pendingApprovals]);
}

/** Whether the session's log or its state moved from `before` to `now` (compared every poll). */
function moved(before: SessionRecord | null, now: SessionRecord): boolean {
  return (
    before === null ||
    before.headSeq !== now.headSeq ||
    before.status !== now.status ||
    before.statusReason !== now.statusReason ||
    before.waitingFor !== now.waitingFor ||
    before.updatedAtMs !== now.updatedAtMs
  );
}

/**
 * One reader of the store for every watched session, however many sessions and stream clients.
 * Every `pollMs` while anything is watched, the hub reads the records of all watched sessions in
 * one `getSessions` call (per 1,000) and wakes only the feeds whose session moved: a new head seq,
 * status, reason or wait. A woken feed reads the new events once and fans each out to every
 * subscriber's bounded mailbox, and sends a state item when the status, its reason, the wait or
 * the pending approvals changed (`stateKey`; subscribers drop repeats). An idle watched session
 * costs no read of its own. `appended` (this process wrote, or a NOTIFY said another did) wakes
 * a feed at once. A feed with no subscribers is forgotten.
 *
 * Across processes this is the only path on SQLite: the reader sees durable events within
 * `pollMs` of their commit, and model tokens as the coalesced `model.streamed` events.
 */
export class FeedHub {
  readonly #o: FeedHubOptions;
  readonly #feeds = new Map<string, SessionFeed>();
  #closed = false;
  #watching = false;
  #watchReads = 0;
  readonly #alarm = new Alarm();

  constructor(options: FeedHubOptions) {
    this.#o = options;
  }

  /**
   * Adds a subscriber to the session's feed. A new feed starts reading after `headSeq` (the
   * caller reads the log before that itself); an existing one goes on where it is. Events a
   * subscriber already has, or a gap before its first item, are the subscriber's to handle.
   * `tenantId` is the session's, for the tenant's own figures (`tenantStats`).
   */
  subscribe(id: SessionId, tenantId: string, headSeq: number, mailbox: Mailbox): () => void {
    if (this.#closed) {
      mailbox.close();
      return () => undefined;
    }
    let feed = this.#feeds.get(id);
    if (feed === undefined) {
      const created = new SessionFeed(id, tenantId, headSeq, this.#o, () => {
        if (this.#feeds.get(id) === created) this.#feeds.delete(id);
      });
      this.#feeds.set(id, created);
      feed = created;
    }
    const unsubscribe = feed.add(mailbox);
    if (!this.#watching) {
      this.#watching = true;
      void this.#watch();
    }
    return unsubscribe;
  }

  /** The session moved (this process appended, or another said so): read it now. */
  appended(id: string): void {
    this.#feeds.get(id)?.wake(null);
  }

  /** Ends every feed and closes every subscriber's mailbox (their streams end). */
  close(): void {
    this.#closed = true;
    for (const feed of this.#feeds.values()) feed.close();
    this.#feeds.clear();
    this.#alarm.ring();
  }

  /** `reads`: store reads made for streams (watching and feeds), since the hub started. */
  get stats(): { feeds: number; subscribers: number; reads: number } {
    let subscribers = 0;
    let reads = this.#watchReads;
    for (const feed of this.#feeds.values()) {
      subscribers += feed.subscribers;
      reads += feed.reads;
    }
    return { feeds: this.#feeds.size, subscribers, reads };
  }

  /**
   * The feeds and subscribers of one tenant's sessions: what a tenant's API key is shown. The
   * server-wide `stats` would tell one tenant how many streams the others have open.
   */
  tenantStats(tenantId: string): { feeds: number; subscribers: number } {
    let feeds = 0;
    let subscribers = 0;
    for (const feed of this.#feeds.values()) {
      if (feed.tenantId !== tenantId) continue;
      feeds++;
      subscribers += feed.subscribers;
    }
    return { feeds, subscribers };
  }

  async #watch(): Promise<void> {
    let failures = 0;
    while (!this.#closed && this.#feeds.size > 0) {
      await this.#alarm.wait(Math.min(this.#o.pollMs * 2 ** failures, maxBackoffMs));
      try {
        await this.#observeAll();
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1) this.#o.log?.(`stream watcher: ${(error as Error).message}; retrying`);
      }
    }
    this.#watching = false;
  }

  async #observeAll(): Promise<void> {
    const ids = [...this.#feeds.keys()] as SessionId[];
    for (let i = 0; i < ids.length; i += maxSessionsPerRead) {
      this.#watchReads++;
      const records = await this.#o.store.getSessions(ids.slice(i, i + maxSessionsPerRead));
      for (const record of records) this.#feeds.get(record.id)?.observe(record);
    }
  }
}

class SessionFeed {
  readonly #id: SessionId;
  readonly tenantId: string;
  readonly #o: FeedHubOptions;
  readonly #onIdle: () => void;
  readonly #mailboxes = new Set<Mailbox>();
  #lastSeq: number;
  #lastState: string | null = null;
  /** The last record seen: shown by a catch-up, or handed over by the hub. */
  #seen: SessionRecord | null = null;
  /** The newest record the hub handed over and this feed has not yet used; null: read it. */
  #record: SessionRecord | null = null;
  #running = false;
  #closed = false;
  readonly #alarm = new Alarm();
  reads = 0;

  constructor(
    id: SessionId,
    tenantId: string,
    headSeq: number,
    options: FeedHubOptions,
    onIdle: () => void,
  ) {
    this.#id = id;
    this.tenantId = tenantId;
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
      // The first pass always reads and sends the state: a change between a subscriber's own
      // first view and this feed's start would otherwise be missed.
      this.#alarm.ring();
      void this.#run();
    }
    return () => {
      this.#mailboxes.delete(mailbox);
      this.wake(this.#record);
    };
  }

  /** The hub read this session's record: wake the feed when the session moved. */
  observe(record: SessionRecord): void {
    if (!moved(this.#seen, record)) return;
    this.#seen = record;
    this.wake(record);
  }

  /** Wakes the feed; `record` is what it should show, or null to read the record itself. */
  wake(record: SessionRecord | null): void {
    this.#record = record;
    this.#alarm.ring();
  }

  close(): void {
    this.#closed = true;
    for (const mailbox of this.#mailboxes) mailbox.close();
    this.#mailboxes.clear();
    this.#alarm.ring();
  }

  async #run(): Promise<void> {
    let failures = 0;
    while (!this.#closed && this.#mailboxes.size > 0) {
      // After a failure, retry with a backoff; otherwise sleep until the session moves.
      await this.#alarm.wait(
        failures > 0 ? Math.min(this.#o.pollMs * 2 ** failures, maxBackoffMs) : null,
      );
      if (this.#closed || this.#mailboxes.size === 0) break;
      try {
        await this.#catchUp();
        failures = 0;
      } catch (error) {
        failures++;
        if (failures === 1)
          this.#o.log?.(`stream feed of ${this.#id}: ${(error as Error).message}; retrying`);
      }
    }
    this.#running = false;
    if (!this.#closed) this.#onIdle();
  }

  /** Reads every event after the last one sent, then the state. */
  async #catchUp(): Promise<void> {
    const record = this.#record;
    this.#record = null;
    for (;;) {
      this.reads++;
      const events = await this.#o.store.readEvents(this.#id, this.#lastSeq, pageSize);
      for (const event of events) {
        this.#lastSeq = event.seq;
        // Framed once here, not once per reader.
        this.#fanOut({ kind: 'event', event, frame: sseFrames.event(event) });
      }
      if (events.length < pageSize) break;
    }
    let current = record;
    if (current === null || current.headSeq < this.#lastSeq) {
      this.reads++;
      current = await this.#o.store.getSession(this.#id);
    }
    // The hub's next look at this record wakes the feed only if it moved past what is shown now.
    this.#seen = current;
    const view = await this.#o.views.view(current);
    const key = stateKey(view);
    if (key !== this.#lastState) this.#fanOut({ kind: 'state', view });
    this.#lastState = key;
  }

  #fanOut(item: Parameters<Mailbox['push']>[0]): void {
    for (const mailbox of this.#mailboxes) {
      if (!mailbox.push(item)) this.#mailboxes.delete(mailbox);
    }
  }
}

/** A wait that `ring()` ends early. A ring while nobody waits ends the next wait at once. */
class Alarm {
  #rang = false;
  #ring: (() => void) | null = null;

  /** Resolves after `ms` (never by itself when null), or at a ring. */
  wait(ms: number | null): Promise<void> {
    if (this.#rang) {
      this.#rang = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        clearTimeout(timer);
        this.#ring = null;
        this.#rang = false;
        resolve();
      };
      if (ms !== null) timer = setTimeout(done, ms);
      this.#ring = done;
    });
  }

  ring(): void {
    if (this.#ring === null) this.#rang = true;
    else this.#ring();
  }
}
