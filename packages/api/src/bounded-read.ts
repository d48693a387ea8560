import type { SessionId, SessionStore, StoredEvent } from '@longrun/core';

export interface BoundedReadLimits {
  /** Events to return at most. */
  maxEvents: number;
  /**
   * Characters of rendered events to return at most; the first event is returned whatever its
   * size, so a reader always moves on.
   */
  maxChars: number;
  /** Events to ask the store for first: a reader that reads again passes the last `nextPage`. */
  firstPage?: number;
}

export interface BoundedRead {
  events: StoredEvent[];
  /** `render(event)` of each event, in the same order. */
  rendered: string[];
  /** The log has nothing after the last event returned (a read came back short). */
  reachedEnd: boolean;
  /** About how many events of this log fit in `maxChars`: the `firstPage` of a next read. */
  nextPage: number;
}

/**
 * Events read per store call at first, unless told; each later call asks for at most twice as
 * many as the one before (a log's first events are small, later ones can be a megabyte each, so
 * the sizes seen so far are no promise), and for no more than seem to fit in what is left.
 */
const defaultFirstPage = 4;
const maxPage = 128;

/**
 * A session's events after `afterSeq`, in seq order, rendered, bounded by count and by the size
 * of what they render to. The store reads by count, and one event can be a megabyte: reading a
 * fixed 500 at a time held hundreds of megabytes for one reader of a large log. So the first
 * store call is small, and each next one grows from it (see `defaultFirstPage`).
 */
export async function readEventsBounded(
  store: SessionStore,
  id: SessionId,
  afterSeq: number,
  limits: BoundedReadLimits,
  render: (event: StoredEvent) => string,
): Promise<BoundedRead> {
  const out = { events: [] as StoredEvent[], rendered: [] as string[] };
  let chars = 0;
  let after = afterSeq;
  let page = Math.max(1, Math.min(limits.firstPage ?? defaultFirstPage, limits.maxEvents));
  let seenChars = 0;
  let seen = 0;
  const done = (reachedEnd: boolean): BoundedRead => {
    const perEvent = Math.max(1, seenChars / Math.max(1, seen));
    const fit = Math.floor(limits.maxChars / perEvent);
    const nextPage = Math.max(1, Math.min(maxPage, fit, 2 * page));
    return { ...out, reachedEnd, nextPage };
  };
  while (out.events.length < limits.maxEvents) {
    const events = await store.readEvents(id, after, page);
    for (const event of events) {
      const text = render(event);
      seenChars += text.length;
      seen++;
      if (out.events.length > 0 && chars + text.length > limits.maxChars) return done(false);
      out.events.push(event);
      out.rendered.push(text);
      chars += text.length;
      after = event.seq;
    }
    if (events.length < page) return done(true);
    // As many as fit in what is left, at the size seen so far; none fit: this read is done.
    const fits = Math.floor((limits.maxChars - chars) / Math.max(1, seenChars / seen));
    if (fits < 1) return done(false);
    page = Math.min(maxPage, fits, 2 * page, limits.maxEvents - out.events.length);
  }
  return done(false);
}
