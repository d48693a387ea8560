// Follows one session's SSE stream with EventSource, which reconnects by itself and resumes with
// Last-Event-ID. When the server refuses the connection outright (EventSource then gives up),
// this opens a new one from the last applied seq, with backoff.
import type { EventType } from '@longrun/core';
import type { ModelDelta, SessionView, StoredEvent } from './api-types.ts';

const durableTypes = [
  'session.created',
  'user.messaged',
  'model.requested',
  'model.streamed',
  'model.failed',
  'model.responded',
  'gate.decided',
  'policy.decided',
  'approval.requested',
  'approval.granted',
  'approval.denied',
  'tool.started',
  'tool.completed',
  'tool.interrupted',
  'tool.resumed',
  'wait.started',
  'wait.resolved',
  'workspace.snapshotted',
  'outcome.evaluated',
  'context.compacted',
  'session.completed',
  'session.failed',
  'session.cancelled',
  'session.resumed',
  'budget.set',
  'budget.reserved',
  'budget.settled',
] as const satisfies readonly EventType[];
// Fails to compile when @longrun/core gains an event type this list does not listen for.
type Unlisted = Exclude<EventType, (typeof durableTypes)[number]>;
const everyTypeListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyTypeListed;

/** `stopped`: the page gave up on the stream (e.g. the session does not exist). */
export type StreamStatus = 'connecting' | 'live' | 'reconnecting' | 'stopped';

export interface StreamHandlers {
  event(e: StoredEvent): void;
  delta(d: ModelDelta): void;
  state(session: SessionView): void;
  status(status: StreamStatus): void;
}

export interface SessionStreamOptions {
  /** The stream URL resuming after `afterSeq` (read again on every new connection: the key may change). */
  url(afterSeq: number): string;
  /** Seq of the last event applied. */
  lastSeq(): number;
  /** Called when the server refused the stream, so the page can find out why (e.g. a 401). */
  onRefused(): void;
  handlers: StreamHandlers;
}

const firstRetryMs = 1_000;
const longestRetryMs = 15_000;

export class SessionStream {
  readonly #options: SessionStreamOptions;
  #source: EventSource | null = null;
  #retryMs = firstRetryMs;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #closed = false;

  constructor(options: SessionStreamOptions) {
    this.#options = options;
  }

  start(): void {
    this.#connect();
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#source?.close();
    this.#source = null;
  }

  #connect(): void {
    if (this.#closed) return;
    const { handlers } = this.#options;
    handlers.status('connecting');
    const source = new EventSource(this.#options.url(this.#options.lastSeq()));
    this.#source = source;
    source.onopen = () => {
      this.#retryMs = firstRetryMs;
      handlers.status('live');
    };
    source.onerror = () => {
      handlers.status('reconnecting');
      if (source.readyState !== EventSource.CLOSED) return; // EventSource retries by itself
      source.close();
      this.#options.onRefused();
      this.#timer = setTimeout(() => this.#connect(), this.#retryMs);
      this.#retryMs = Math.min(this.#retryMs * 2, longestRetryMs);
    };
    for (const type of durableTypes) {
      source.addEventListener(type, (m) => receive(m, (e: StoredEvent) => handlers.event(e)));
    }
    source.addEventListener('model.delta', (m) => receive(m, (d: ModelDelta) => handlers.delta(d)));
    source.addEventListener('session.state', (m) =>
      receive(m, (s: SessionView) => handlers.state(s)),
    );
  }
}

function receive<T>(message: MessageEvent<unknown>, handle: (value: T) => void): void {
  if (typeof message.data !== 'string') return;
  let value: T;
  try {
    value = JSON.parse(message.data) as T;
  } catch {
    console.warn(`longrun: ignored a malformed ${message.type} frame`);
    return;
  }
  handle(value);
}
