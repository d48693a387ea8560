import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { StoredEvent } from '@longrun/core';
import type { InProcessLiveDeltas } from './live-deltas.ts';

/**
 * Live streams across processes on PostgreSQL (DESIGN §10: "live streams cross nodes the same
 * way"): workers publish each model delta, and a wake-up per commit, with NOTIFY on a channel
 * per longrun schema; API nodes LISTEN, feed the deltas to their readers and read a session's
 * new events at once instead of at the next poll. Best effort by design: a notification lost
 * to a dropped connection costs only latency — the durable log (and `model.streamed`) still
 * has everything, and the poll still runs.
 *
 * `pg` is imported when a channel opens, so a SQLite process never loads it.
 */

/** Notifications on the channel: a delta, a commit (and the step whose attempt it ended), an end. */
type Note =
  | { k: 'd'; s: string; st: number; a: number; o: number; t: string }
  | { k: 'a'; s: string; end: number | null }
  | { k: 'e'; s: string };

/** NOTIFY payloads must stay under 8000 bytes; 1000 UTF-16 units escape to at most ~6000. */
const maxChunkChars = 1_000;
const flushMs = 5;

/** The channel of a schema: one per longrun schema, a valid unquoted identifier. */
export function liveChannelName(schema: string): string {
  return `lr_live_${createHash('sha256').update(schema).digest('hex').slice(0, 16)}`;
}

/** A postgres:// store URL as a connection URL and the schema its `?schema=` names. */
export function splitStoreUrl(storeUrl: string): { url: string; schema: string } {
  const url = new URL(storeUrl);
  const schema = url.searchParams.get('schema') ?? 'longrun';
  url.searchParams.delete('schema');
  return { url: url.toString(), schema };
}

/**
 * A connection for the live channel. `onLost` is attached before connecting: an idle connection
 * whose server restarts emits 'error', and without a listener Node would end the process.
 */
async function connect(
  url: string,
  name: string,
  onLost: (error: Error) => void,
): Promise<pg.Client> {
  const { default: pgModule } = await import('pg');
  const client = new pgModule.Client({
    connectionString: url,
    application_name: name,
    connectionTimeoutMillis: 5_000,
    keepAlive: true,
  });
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

export interface LiveChannelOptions {
  /** postgres://… (a `?schema=` parameter picks the schema, as for the store). */
  storeUrl: string;
  log?: (message: string) => void;
}

/** The worker side: publishes what `hooks()` is told. */
export class PostgresLivePublisher {
  readonly #o: LiveChannelOptions;
  readonly #channel: string;
  readonly #url: string;
  #client: Promise<pg.Client> | null = null;
  #sending: Promise<void> = Promise.resolve();
  readonly #lengths = new Map<string, { step: number; attempt: number; length: number }>();
  readonly #pending = new Map<string, Extract<Note, { k: 'd' }>>();
  #timer: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(options: LiveChannelOptions) {
    this.#o = options;
    const { url, schema } = splitStoreUrl(options.storeUrl);
    this.#url = url;
    this.#channel = liveChannelName(schema);
  }

  /** Worker hooks (AgentHooks shape) that publish deltas, commits and session ends. */
  hooks() {
    return {
      onTextDelta: (s: string, step: number, attempt: number, text: string) =>
        this.#delta(s, step, attempt, text),
      onAppended: (events: readonly StoredEvent[]) => this.#appended(events),
      onSessionEnded: (s: string) => {
        this.#lengths.delete(s);
        this.#flush(s);
        this.#send({ k: 'e', s });
      },
    };
  }

  /** Sends what is pending, then closes the connection. */
  async close(): Promise<void> {
    for (const s of [...this.#pending.keys()]) this.#flush(s);
    this.#closed = true;
    await this.#sending;
    const client = await this.#client?.catch(() => null);
    await client?.end().catch(() => undefined);
  }

  #delta(s: string, step: number, attempt: number, text: string): void {
    let at = this.#lengths.get(s);
    if (at === undefined || at.step !== step || at.attempt !== attempt) {
      at = { step, attempt, length: 0 };
      this.#lengths.set(s, at);
    }
    const pending = this.#pending.get(s);
    if (pending !== undefined && (pending.st !== step || pending.a !== attempt)) this.#flush(s);
    const merged = this.#pending.get(s);
    if (merged === undefined)
      this.#pending.set(s, { k: 'd', s, st: step, a: attempt, o: at.length, t: text });
    else merged.t += text;
    at.length += text.length;
    this.#timer ??= setTimeout(() => {
      this.#timer = null;
      for (const id of [...this.#pending.keys()]) this.#flush(id);
    }, flushMs);
  }

  #appended(events: readonly StoredEvent[]): void {
    const first = events[0];
    if (first === undefined) return;
    this.#flush(first.sessionId);
    let end: number | null = null;
    for (const e of events)
      if (e.type === 'model.responded' || e.type === 'model.failed') end = e.data.step;
    if (end !== null) this.#lengths.delete(first.sessionId);
    this.#send({ k: 'a', s: first.sessionId, end });
  }

  #flush(s: string): void {
    const pending = this.#pending.get(s);
    if (pending === undefined) return;
    this.#pending.delete(s);
    for (let i = 0; i < pending.t.length; i += maxChunkChars)
      this.#send({ ...pending, o: pending.o + i, t: pending.t.slice(i, i + maxChunkChars) });
  }

  /** Sends in order on one connection; a failure drops the note and reconnects next time. */
  #send(note: Note): void {
    if (this.#closed) return;
    const payload = JSON.stringify(note);
    this.#sending = this.#sending.then(async () => {
      try {
        if (this.#client === null) {
          const opening = connect(this.#url, 'longrun-live-publisher', () => {
            // A dropped idle connection: the next note reconnects.
            if (this.#client === opening) this.#client = null;
          });
          this.#client = opening;
        }
        const client = await this.#client;
        await client.query('SELECT pg_notify($1, $2)', [this.#channel, payload]);
      } catch (error) {
        this.#o.log?.(`live channel: ${(error as Error).message}; deltas go by the log meanwhile`);
        const broken = await this.#client?.catch(() => null);
        this.#client = null;
        await broken?.end().catch(() => undefined);
      }
    });
  }
}

export interface LiveListenerOptions extends LiveChannelOptions {
  /** Receives the deltas; serve it to readers as the API's `live` source. */
  live: InProcessLiveDeltas;
  /** A session's log moved: read it now (`api.appended`). */
  appended: (sessionId: string) => void;
}

/** The API side: listens, and keeps listening across dropped connections. */
export class PostgresLiveListener {
  readonly #o: LiveListenerOptions;
  readonly #channel: string;
  readonly #url: string;
  #client: pg.Client | null = null;
  #closed = false;
  #reconnect: NodeJS.Timeout | null = null;

  private constructor(options: LiveListenerOptions) {
    this.#o = options;
    const { url, schema } = splitStoreUrl(options.storeUrl);
    this.#url = url;
    this.#channel = liveChannelName(schema);
  }

  /**
   * Connects and listens before it returns, so nothing published after is missed; if the server
   * cannot be reached now, it returns anyway and keeps trying (streams poll the log meanwhile).
   */
  static async open(options: LiveListenerOptions): Promise<PostgresLiveListener> {
    const listener = new PostgresLiveListener(options);
    try {
      await listener.#listen();
    } catch (error) {
      listener.#retry(error as Error);
    }
    return listener;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#reconnect !== null) clearTimeout(this.#reconnect);
    await this.#client?.end().catch(() => undefined);
  }

  async #listen(): Promise<void> {
    let listening: pg.Client | null = null;
    const client = await connect(this.#url, 'longrun-live-listener', (error) => {
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
    this.#client = client;
  }

  #lost(client: pg.Client, error: Error): void {
    if (this.#closed || this.#client !== client) return;
    this.#client = null;
    client.end().catch(() => undefined);
    this.#retry(error);
  }

  /** Reconnects with backoff for as long as the outage lasts. */
  #retry(error: Error): void {
    this.#o.log?.(`live channel: ${error.message}; reconnecting (streams poll the log meanwhile)`);
    const attempt = (delayMs: number): void => {
      this.#reconnect = setTimeout(() => {
        if (this.#closed) return;
        this.#listen().catch(() => attempt(Math.min(delayMs * 2, 5_000)));
      }, delayMs);
    };
    attempt(100);
  }

  #receive(payload: string | undefined): void {
    let note: Note;
    try {
      note = JSON.parse(payload ?? '') as Note;
    } catch {
      return; // not ours
    }
    if (typeof note !== 'object' || note === null || typeof note.s !== 'string') return;
    const { live } = this.#o;
    if (note.k === 'd' && typeof note.t === 'string') {
      live.textDeltaAt(note.s, note.st, note.a, note.o, note.t);
    } else if (note.k === 'a') {
      if (typeof note.end === 'number') live.endAttempt(note.s, note.end);
      this.#o.appended(note.s);
    } else if (note.k === 'e') {
      live.ended(note.s);
    }
  }
}
