import {
  terminalStatuses,
  type SessionRecord,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import type { ApiKeyWatch } from './api-key-watch.ts';
import { readEventsBounded } from './bounded-read.ts';
import type { LiveDeltaSource } from './live-deltas.ts';
import { Mailbox, type FeedItem } from './mailbox.ts';
import type { SessionViewData } from './schemas.ts';
import { stateKey, type FeedHub } from './session-feed.ts';
import { sseFrames } from './sse-frames.ts';
import type { SessionViews } from './session-views.ts';
import type { SessionLineage } from './session-lineage.ts';
import type { StreamCaps } from './stream-caps.ts';
import type { BufferHolder, StreamBuffers } from './stream-buffers.ts';

export interface StreamDeps {
  store: SessionStore;
  hub: FeedHub;
  views: SessionViews;
  live: LiveDeltaSource | undefined;
  heartbeatMs: number;
  /** The reconnect delay the client is told (`retry:`), milliseconds. */
  retryMs: number;
  /** Items a reader may fall behind before it is dropped. */
  mailboxCapacity: number;
  /** Whether the reader's API key is still good (a revoked key's streams end). */
  keys: ApiKeyWatch;
  /** Streams open per key, per tenant and server-wide, capped. */
  caps: StreamCaps;
  /** Bytes read ahead for clients, bounded server-wide. */
  buffers: StreamBuffers;
}

/** Catch-up reads at most this many events, or frames of about `catchUpChars`, at a time. */
const catchUpEvents = 500;
/** 256 KiB: what a stream whose client stopped reading holds (it was 1 MiB). */
const catchUpChars = 256 * 1024;
/**
 * Frames joined into one chunk at most (one frame larger than this is a chunk of its own), so
 * one pull does not build an unbounded string, and frames wait here until the client read the
 * chunk before: nothing more is read from the store for a client that does not read.
 */
const chunkChars = 64 * 1024;
/**
 * What one stream hands the socket at a time, at most (a larger chunk goes in pieces, one per
 * pull): the socket's own buffer size, so a client that stops reading leaves at most this much
 * in flight — it is not under the bytes bound (`StreamBuffers`), only the socket's close frees it.
 */
const chunkBytes = 16 * 1024;
const terminalEvents = new Set(['session.completed', 'session.failed', 'session.cancelled']);

const encoder = new TextEncoder();

/**
 * One reader's stream of a session: `retry`, the session's state, every durable event after
 * `afterSeq` in seq order (each once: by seq, never by time), then live items as they come —
 * events from the session's feed, state changes, live token deltas — with a keepalive comment
 * when nothing was sent for `heartbeatMs`. Pull-based: nothing is read or queued beyond what the
 * client takes, except the bounded mailbox and one catch-up read (about `catchUpChars`). A reader
 * going away only unsubscribes: it never touches the session. A stream opened with an API key
 * ends once the key is revoked (checked before anything more is sent; `ApiKeyWatch` paces it).
 */
export class SessionStream implements BufferHolder {
  readonly #d: StreamDeps;
  readonly #record: SessionRecord;
  readonly #follow: boolean;
  readonly #mailbox: Mailbox;
  /** The reader's API key id; null on a server without keys. */
  readonly #keyId: string | null;
  #sent: number;
  #catchingUp = true;
  /** Events the next catch-up read asks for first (from the sizes of the last one). */
  #catchUpPage: number | undefined;
  #lastState: string | null = null;
  #pending: string[] = [];
  /** The rest of an encoded chunk larger than `chunkBytes`, sent a piece per pull. */
  #outgoing: Uint8Array | null = null;
  #done = false;
  /** Frees this stream's place under the stream caps; once, when its response ended. */
  #release: (() => void) | null = null;
  #cleanup: (() => void)[] = [];

  /** A child session's parent and root, on every event frame; null for a root session. */
  readonly #lineage: SessionLineage | null;

  constructor(
    deps: StreamDeps,
    record: SessionRecord,
    afterSeq: number,
    follow: boolean,
    lineage: SessionLineage | null,
    keyId: string | null,
  ) {
    this.#d = deps;
    this.#keyId = keyId;
    this.#record = record;
    this.#lineage = lineage;
    this.#sent = afterSeq;
    this.#follow = follow;
    this.#mailbox = new Mailbox(deps.mailboxCapacity);
  }

  /** Subscribes, reads the session's state for the first frame, and returns the response. */
  async open(): Promise<Response> {
    const { hub, live, store, views } = this.#d;
    const id = this.#record.id;
    this.#release = this.#d.caps.acquire({ keyId: this.#keyId, tenantId: this.#record.tenantId });
    this.#cleanup.push(
      hub.subscribe(id, this.#record.tenantId, this.#record.headSeq, this.#mailbox),
    );
    if (live !== undefined) {
      this.#cleanup.push(
        live.subscribe(id, (delta) => this.#mailbox.push({ kind: 'delta', delta })),
      );
    }
    let view: SessionViewData;
    try {
      view = await views.view(await store.getSession(id));
    } catch (error) {
      this.#close();
      this.#ended();
      throw error;
    }
    this.#lastState = stateKey(view);
    this.#pending.push(sseFrames.retry(this.#d.retryMs), sseFrames.state(view));
    const body = new ReadableStream<Uint8Array>(
      {
        pull: (controller) => this.#pull(controller),
        cancel: () => {
          this.evict();
          this.#ended();
        },
      },
      { highWaterMark: 0 },
    );
    return new Response(body, {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        'x-accel-buffering': 'no',
      },
    });
  }

  /**
   * Gives up what was read ahead and ends the stream to make room for others (`StreamBuffers`):
   * its client, once it reads again, finds the end and resumes with Last-Event-ID.
   */
  evict(): void {
    this.#pending = [];
    this.#outgoing = null;
    this.#close();
  }

  /** The response ended (or was never made): its cap place and buffers are free. */
  #ended(): void {
    this.#release?.();
    this.#release = null;
    this.#d.buffers.forget(this);
  }

  #close(): void {
    if (this.#done) return;
    this.#done = true;
    for (const undo of this.#cleanup) undo();
    this.#cleanup = [];
    this.#mailbox.close();
  }

  async #pull(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    // The client took the last chunk: it is no longer in flight.
    this.#hold(0, true);
    if (this.#outgoing !== null) return this.#send(controller, this.#outgoing);
    try {
      while (!this.#done && this.#pending.length === 0) await this.#produce();
      // Before every chunk: a revoked key's stream sends nothing more, not even what was read.
      if (this.#pending.length > 0 && !(await this.#keyGood())) this.#revoked();
    } catch {
      // A store failure mid-stream ends the stream, unsent frames too (the key check may be what
      // failed); the client resumes with Last-Event-ID.
      this.#pending = [];
      this.#close();
    }
    const chunk = this.#takeChunk();
    if (chunk !== null) this.#send(controller, encoder.encode(chunk));
    else if (this.#done) {
      controller.close();
      this.#ended();
    }
  }

  /** Hands at most `chunkBytes` of `bytes` to the socket; the rest waits for the next pull. */
  #send(controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array): void {
    const piece = bytes.byteLength > chunkBytes ? bytes.slice(0, chunkBytes) : bytes;
    this.#outgoing = piece === bytes ? null : bytes.subarray(chunkBytes);
    controller.enqueue(piece);
    this.#hold(piece.byteLength, false);
  }

  /** Tells the buffers what this stream holds now: read ahead, and `inFlight` bytes sent. */
  #hold(inFlight: number, pulled: boolean): void {
    // The whole encoded chunk stays in memory until its last piece is sent, not only the rest.
    let pending = this.#outgoing?.buffer.byteLength ?? 0;
    for (const frame of this.#pending) pending += frame.length;
    this.#d.buffers.hold(this, pending, inFlight, pulled);
  }

  /** The first pending frames, about `chunkChars` of them (at least one); null when none. */
  #takeChunk(): string | null {
    let count = 0;
    let chars = 0;
    for (const frame of this.#pending) {
      if (count > 0 && chars + frame.length > chunkChars) break;
      chars += frame.length;
      count++;
    }
    if (count === 0) return null;
    const chunk = this.#pending.slice(0, count).join('');
    this.#pending = this.#pending.slice(count);
    return chunk;
  }

  /** Adds frames to `pending`, or marks the stream done. */
  async #produce(): Promise<void> {
    if (this.#catchingUp) return this.#catchUp();
    const item = await this.#mailbox.next(this.#d.heartbeatMs);
    if (item === 'timeout') return void this.#pending.push(sseFrames.keepalive);
    if (item === 'overflow' || item === 'closed') return this.#close();
    this.#frame(item);
    // Join what is already queued into the same chunk.
    let size = 0;
    for (let next = this.#mailbox.take(); next !== null; next = this.#mailbox.take()) {
      this.#frame(next);
      size += this.#pending.at(-1)?.length ?? 0;
      if (this.#catchingUp || this.#done || size > chunkChars) break;
    }
  }

  async #keyGood(): Promise<boolean> {
    return this.#keyId === null || this.#d.keys.good(this.#keyId);
  }

  /** The key was revoked: nothing more is sent, not even what is pending. */
  #revoked(): void {
    this.#pending = [];
    this.#close();
  }

  async #catchUp(): Promise<void> {
    // The read below holds up to `catchUpChars` for this client: wait for room under the bound.
    await this.#d.buffers.room(this, catchUpChars, () => this.#done);
    if (this.#done) return;
    const limits = {
      maxEvents: catchUpEvents,
      maxChars: catchUpChars,
      ...(this.#catchUpPage === undefined ? {} : { firstPage: this.#catchUpPage }),
    };
    const read = await readEventsBounded(this.#d.store, this.#record.id, this.#sent, limits, (e) =>
      sseFrames.event(e, this.#lineage),
    );
    this.#catchUpPage = read.nextPage;
    read.events.forEach((e, i) => this.#sendEvent(e, read.rendered[i]));
    // What was read replaces what was set aside for it (nothing is in flight during a pull).
    this.#hold(0, false);
    if (read.reachedEnd) {
      this.#catchingUp = false;
      if (!this.#follow && !this.#done) {
        const now = await this.#d.store.getSession(this.#record.id);
        if (terminalStatuses.includes(now.status) && now.headSeq <= this.#sent) this.#close();
      }
    }
  }

  #frame(item: FeedItem): void {
    switch (item.kind) {
      case 'event':
        if (item.event.seq <= this.#sent) return;
        // A gap (the feed started after this reader's position): read it from the log.
        if (item.event.seq > this.#sent + 1) return void (this.#catchingUp = true);
        // The feed's shared frame is a root session's; a child's carries its lineage.
        return this.#sendEvent(item.event, this.#lineage === null ? item.frame : undefined);
      case 'state': {
        const key = stateKey(item.view);
        if (key === this.#lastState) return;
        this.#lastState = key;
        return void this.#pending.push(sseFrames.state(item.view));
      }
      case 'delta':
        return void this.#pending.push(sseFrames.delta(item.delta));
    }
  }

  /** `frame`: the event's frame with this stream's lineage, when made already. */
  #sendEvent(e: StoredEvent, frame?: string): void {
    if (this.#done) return;
    this.#pending.push(frame ?? sseFrames.event(e, this.#lineage));
    this.#sent = e.seq;
    if (!this.#follow && terminalEvents.has(e.type)) this.#close();
  }
}
