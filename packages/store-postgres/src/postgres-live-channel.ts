import { createHash } from 'node:crypto';
import pg from 'pg';
import type { LiveChannel, LiveNote, LongrunError } from '@longrun/core';

/**
 * The live channel on PostgreSQL (DESIGN §10: "live streams cross nodes the same way"): NOTIFY on
 * one channel per longrun schema, LISTEN on a connection of its own that reconnects for as long
 * as an outage lasts. Best effort by design (see LiveChannel): a note lost to a dropped
 * connection costs latency only. Notes are sent in order on one connection; a delta longer than
 * a NOTIFY payload allows is sent in pieces with their offsets.
 */

/** On the wire: a delta, a commit (and the step whose attempt it ended), an end. */
type WireNote =
  | { k: 'd'; s: string; st: number; a: number; o: number; t: string }
  | { k: 'a'; s: string; end: number | null }
  | { k: 'e'; s: string };

/** NOTIFY payloads must stay under 8000 bytes; 1000 UTF-16 units escape to at most ~6000. */
const maxChunkChars = 1_000;

/** The channel of a schema: one per longrun schema, a valid unquoted identifier. */
export function liveChannelName(schema: string): string {
  return `lr_live_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
}

export interface PostgresLiveChannelConfig {
  clientConfig: pg.ClientConfig;
  /** The longrun schema: its processes share the channel. */
  schema: string;
  translate: (error: unknown, doing: string) => LongrunError;
  log?: (message: string) => void;
}

export class PostgresLiveChannel implements LiveChannel {
  readonly #c: PostgresLiveChannelConfig;
  readonly #channel: string;
  readonly #listeners = new Set<(note: LiveNote) => void>();
  #publisher: Promise<pg.Client> | null = null;
  #sending: Promise<void> = Promise.resolve();
  #listener: pg.Client | null = null;
  #listening: Promise<void> | null = null;
  #reconnect: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(config: PostgresLiveChannelConfig) {
    this.#c = config;
    this.#channel = liveChannelName(config.schema);
  }

  publish(note: LiveNote): void {
    if (this.#closed) return;
    if (note.kind === 'delta') {
      for (let i = 0; i < note.text.length; i += maxChunkChars) {
        const t = note.text.slice(i, i + maxChunkChars);
        this.#send({
          k: 'd',
          s: note.sessionId,
          st: note.step,
          a: note.attempt,
          o: note.offset + i,
          t,
        });
      }
    } else if (note.kind === 'committed') {
      this.#send({ k: 'a', s: note.sessionId, end: note.endedStep });
    } else {
      this.#send({ k: 'e', s: note.sessionId });
    }
  }

  async subscribe(listener: (note: LiveNote) => void): Promise<() => void> {
    this.#listeners.add(listener);
    if (this.#listener === null && this.#reconnect === null && !this.#closed) {
      this.#listening ??= this.#listen()
        .catch((error: unknown) =>
          this.#retry(this.#c.translate(error, 'listening for live notes')),
        )
        .finally(() => (this.#listening = null));
      await this.#listening;
    }
    return () => void this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#reconnect !== null) clearTimeout(this.#reconnect);
    await this.#sending;
    await this.#listening;
    const publisher = await this.#publisher?.catch(() => null);
    await Promise.all([
      publisher?.end().catch(() => undefined),
      this.#listener?.end().catch(() => undefined),
    ]);
    this.#listener = null;
  }

  /** A connection; `onLost` is attached before connecting (an unheard 'error' ends the process). */
  async #connect(name: string, onLost: (error: Error) => void): Promise<pg.Client> {
    const client = new pg.Client({ ...this.#c.clientConfig, application_name: name });
    client.on('error', onLost);
    client.on('end', () => onLost(new Error('connection ended')));
    try {
      await client.connect();
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    return client;
  }

  /** Sends in order on one connection; a failure drops the note and reconnects next time. */
  #send(note: WireNote): void {
    const payload = JSON.stringify(note);
    this.#sending = this.#sending.then(async () => {
      try {
        if (this.#publisher === null) {
          const opening = this.#connect('longrun-live-publisher', () => {
            // A dropped idle connection: the next note reconnects.
            if (this.#publisher === opening) this.#publisher = null;
          });
          this.#publisher = opening;
        }
        const client = await this.#publisher;
        await client.query('SELECT pg_notify($1, $2)', [this.#channel, payload]);
      } catch (error) {
        const reason = this.#c.translate(error, 'publishing a live note').message;
        this.#c.log?.(`live channel: ${reason}; readers get it from the log meanwhile`);
        const broken = await this.#publisher?.catch(() => null);
        this.#publisher = null;
        await broken?.end().catch(() => undefined);
      }
    });
  }

  async #listen(): Promise<void> {
    let listening: pg.Client | null = null;
    const client = await this.#connect('longrun-live-listener', (error) => {
      if (listening !== null) this.#lost(listening, error);
    });
    client.on('notification', (message) => this.#receive(message.payload));
    try {
      await client.query(`LISTEN ${this.#channel}`);
    } catch (error) {
      client.end().catch(() => undefined);
      throw error;
    }
    if (this.#closed) return void client.end().catch(() => undefined);
    listening = client;
    this.#listener = client;
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#closed || this.#listener !== client) return;
    this.#listener = null;
    client.end().catch(() => undefined);
    this.#retry(this.#c.translate(error, 'listening for live notes'));
  }

  /** Listens again with backoff for as long as the outage lasts. */
  #retry(error: LongrunError): void {
    if (this.#closed) return;
    this.#c.log?.(`live channel: ${error.message}; reconnecting (readers poll the log meanwhile)`);
    const attempt = (delayMs: number): void => {
      this.#reconnect = setTimeout(() => {
        this.#reconnect = null;
        if (this.#closed) return;
        this.#listen().catch(() => attempt(Math.min(delayMs * 2, 5_000)));
      }, delayMs);
    };
    attempt(100);
  }

  #receive(payload: string | undefined): void {
    const note = decode(payload);
    if (note === null) return;
    for (const listener of this.#listeners) listener(note);
  }
}

/** A wire note as a LiveNote, or null for anything else on the channel. */
function decode(payload: string | undefined): LiveNote | null {
  let wire: WireNote;
  try {
    wire = JSON.parse(payload ?? '') as WireNote;
  } catch {
    return null;
  }
  if (typeof wire !== 'object' || wire === null || typeof wire.s !== 'string') return null;
  if (wire.k === 'd' && typeof wire.t === 'string') {
    const { st, a, o } = wire;
    if (![st, a, o].every((n) => Number.isInteger(n) && n >= 0)) return null;
    return { kind: 'delta', sessionId: wire.s, step: st, attempt: a, offset: o, text: wire.t };
  }
  if (wire.k === 'a') {
    const endedStep = typeof wire.end === 'number' ? wire.end : null;
    return { kind: 'committed', sessionId: wire.s, endedStep };
  }
  if (wire.k === 'e') return { kind: 'ended', sessionId: wire.s };
  return null;
}
