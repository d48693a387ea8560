import type { StoredEvent } from '@longrun/core';
import type { LiveDelta } from './live-deltas.ts';
import type { SessionViewData } from './schemas.ts';

export type FeedItem =
  | { kind: 'event'; event: StoredEvent; frame?: string }
  | { kind: 'state'; view: SessionViewData }
  | { kind: 'delta'; delta: LiveDelta };

export type NextItem = FeedItem | 'timeout' | 'overflow' | 'closed';

/**
 * One stream reader's queue of items to send, bounded: a reader that falls `capacity` items
 * behind is marked overflowed and dropped (it reconnects with Last-Event-ID and catches up from
 * the log), so a slow client cannot grow the server's memory.
 */
export class Mailbox {
  readonly #capacity: number;
  #items: FeedItem[] = [];
  #head = 0;
  #overflowed = false;
  #closed = false;
  #waiter: (() => void) | null = null;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  get open(): boolean {
    return !this.#closed && !this.#overflowed;
  }

  /** Queues an item; false (and the mailbox is overflowed) when it is full. */
  push(item: FeedItem): boolean {
    if (!this.open) return false;
    if (this.size >= this.#capacity) {
      this.#overflowed = true;
      this.#items = [];
      this.#head = 0;
    } else this.#items.push(item);
    this.#wakeWaiter();
    return !this.#overflowed;
  }

  close(): void {
    this.#closed = true;
    this.#items = [];
    this.#head = 0;
    this.#wakeWaiter();
  }

  /** The next item without waiting, or null. */
  take(): FeedItem | null {
    if (this.size === 0) return null;
    const item = this.#items[this.#head] as FeedItem;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** The next item, waiting at most `timeoutMs`. */
  async next(timeoutMs: number): Promise<NextItem> {
    for (;;) {
      if (this.#overflowed) return 'overflow';
      if (this.#closed) return 'closed';
      const item = this.take();
      if (item !== null) return item;
      const woken = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          this.#waiter = null;
          resolve(false);
        }, timeoutMs);
        this.#waiter = () => {
          clearTimeout(timer);
          this.#waiter = null;
          resolve(true);
        };
      });
      if (!woken) return 'timeout';
    }
  }

  #wakeWaiter(): void {
    this.#waiter?.();
  }
}
