import type { Socket } from 'node:net';

/** What the proxy does with bytes right now; one mode for every connection of a proxy. */
export type FaultMode =
  | { kind: 'pass' }
  /** Each chunk waits a random whole number of ms in [minMs, maxMs] (seeded). */
  | { kind: 'delay'; minMs: number; maxMs: number }
  /** Nothing moves in either direction; everything is held, in order, until the mode changes. */
  | { kind: 'blackhole' };

/** One thing to deliver, in arrival order: bytes, the sender's FIN, or the sender's reset. */
type Item =
  { kind: 'data'; chunk: Buffer; dueAtMs: number } | { kind: 'end' | 'reset'; dueAtMs: number };

/** Above this many held bytes the source is paused (as a full TCP window would stop a sender). */
const pauseAboveBytes = 1 << 20;
const resumeBelowBytes = 1 << 18;

/**
 * One direction of a proxied connection: an ordered queue from a source socket to a destination
 * socket. Invariants: items leave in the order they arrived (so delays never reorder bytes within
 * a direction, and a FIN or reset follows the bytes sent before it); in `blackhole` nothing
 * leaves; in `pass` everything queued leaves at once; in `delay` an item leaves no earlier than its
 * own delay after arrival and never before the item ahead of it. The destination may be attached
 * late (the upstream connection is only opened once the proxy is not black-holing).
 */
export class FaultPipe {
  #source: Socket | null = null;
  readonly #mode: () => FaultMode;
  readonly #random: () => number;
  readonly #onDelivered: (bytes: number) => void;
  readonly #queue: Item[] = [];
  #queuedBytes = 0;
  #dest: Socket | null = null;
  #timer: NodeJS.Timeout | undefined;
  #awaitingDrain = false;
  #lastDueAtMs = 0;
  #discarded = false;

  constructor(mode: () => FaultMode, random: () => number, onDelivered: (bytes: number) => void) {
    this.#mode = mode;
    this.#random = random;
    this.#onDelivered = onDelivered;
  }

  /** Bytes received and not yet handed to the destination. */
  get heldBytes(): number {
    return this.#queuedBytes;
  }

  /** The socket bytes come from; paused while too much of it is held. */
  from(source: Socket): void {
    this.#source = source;
  }

  attach(dest: Socket): void {
    this.#dest = dest;
    this.pump();
  }

  push(chunk: Buffer): void {
    if (this.#discarded) return;
    this.#queue.push({ kind: 'data', chunk, dueAtMs: this.#dueAt() });
    this.#queuedBytes += chunk.length;
    if (this.#queuedBytes > pauseAboveBytes) this.#source?.pause();
    this.pump();
  }

  /** The source sent FIN (`end`) or broke (`reset`); passed on after everything before it. */
  pushClose(kind: 'end' | 'reset'): void {
    if (this.#discarded) return;
    this.#queue.push({ kind, dueAtMs: this.#dueAt() });
    this.pump();
  }

  /** Forgets everything held and drops whatever comes later: nothing is delivered any more. */
  discard(): void {
    this.#discarded = true;
    clearTimeout(this.#timer);
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    this.#dest = null;
  }

  /** Delivers whatever the current mode lets through; call again whenever the mode changes. */
  pump(): void {
    clearTimeout(this.#timer);
    const dest = this.#dest;
    if (dest === null || this.#awaitingDrain || this.#mode().kind === 'blackhole') return;
    while (this.#queue.length > 0) {
      const head = this.#queue[0] as Item;
      const waitMs = head.dueAtMs - performance.now();
      if (this.#mode().kind === 'delay' && waitMs > 0) {
        this.#timer = setTimeout(() => this.pump(), Math.ceil(waitMs));
        return;
      }
      this.#queue.shift();
      this.#deliver(head, dest);
      if (dest.writableNeedDrain) {
        this.#awaitingDrain = true;
        dest.once('drain', () => {
          this.#awaitingDrain = false;
          this.pump();
        });
        return;
      }
    }
  }

  #deliver(item: Item, dest: Socket): void {
    if (item.kind === 'data') {
      this.#queuedBytes -= item.chunk.length;
      if (this.#queuedBytes < resumeBelowBytes && this.#source?.isPaused()) this.#source.resume();
      if (dest.destroyed) return;
      dest.write(item.chunk);
      this.#onDelivered(item.chunk.length);
    } else if (item.kind === 'end') {
      if (!dest.destroyed) dest.end();
    } else if (!dest.destroyed) {
      dest.resetAndDestroy();
    }
  }

  /** When an item arriving now may leave: now in pass/blackhole, now + a seeded delay in delay. */
  #dueAt(): number {
    const now = performance.now();
    const mode = this.#mode();
    if (mode.kind !== 'delay') return now;
    const delayMs = mode.minMs + Math.floor(this.#random() * (mode.maxMs - mode.minMs + 1));
    this.#lastDueAtMs = Math.max(now + delayMs, this.#lastDueAtMs);
    return this.#lastDueAtMs;
  }
}
