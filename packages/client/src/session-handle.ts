import type { BudgetChange, JsonValue, SessionId, StoredEvent } from '@longrun/core';
import {
  SessionEndedError,
  terminalEventTypes,
  type DecisionOptions,
  type EventsOptions,
  type SessionHandle,
  type SessionInfo,
  type StartInput,
  type StartOptions,
} from './client-types.ts';

/**
 * What a client needs from where sessions live: a store (store-transport.ts) or a longrun
 * server (http-transport.ts). The handle's behaviour is written once, over this.
 */
export interface Transport {
  create(agent: string, input: StartInput, options: StartOptions): Promise<SessionInfo>;
  session(id: string): Promise<SessionInfo>;
  /** Durable events after `after` in seq order, ending as EventsOptions.untilEnd says. */
  follow(
    id: SessionId,
    options: Required<Omit<EventsOptions, 'signal'>> & EventsOptions,
  ): AsyncIterable<StoredEvent>;
  signal(id: SessionId, name: string, payload: JsonValue): Promise<void>;
  message(id: SessionId, text: string): Promise<void>;
  decide(id: SessionId, decision: 'approve' | 'deny', options: DecisionOptions): Promise<void>;
  cancel(id: SessionId, reason: string | null): Promise<void>;
  budget(id: SessionId, change: BudgetChange, reason: string | null): Promise<void>;
}

export class TransportSessionHandle implements SessionHandle {
  readonly id: SessionId;
  readonly #t: Transport;

  constructor(transport: Transport, id: SessionId) {
    this.#t = transport;
    this.id = id;
  }

  describe(): Promise<SessionInfo> {
    return this.#t.session(this.id);
  }

  /**
   * Follows the log from the event before the head (so an ended session answers at once) to the
   * session's end; the outcome is its last terminal event.
   */
  async result(options: { signal?: AbortSignal } = {}): Promise<JsonValue> {
    const { headSeq } = await this.describe();
    let last: StoredEvent | null = null;
    for await (const e of this.events({ after: Math.max(0, headSeq - 1), ...options })) {
      if (terminalEventTypes.has(e.type)) last = e;
    }
    options.signal?.throwIfAborted();
    switch (last?.type) {
      case 'session.completed':
        return last.data.output;
      case 'session.failed':
        throw new SessionEndedError(this.id, 'failed', last.data, last.data.message);
      case 'session.cancelled':
        throw new SessionEndedError(
          this.id,
          'cancelled',
          null,
          `cancelled by ${last.data.by}${last.data.reason === null ? '' : `: ${last.data.reason}`}`,
        );
      default:
        throw new SessionEndedError(this.id, 'failed', null, 'it ended with no terminal event');
    }
  }

  events(options: EventsOptions = {}): AsyncIterable<StoredEvent> {
    return this.#t.follow(this.id, {
      ...options,
      after: options.after ?? 0,
      untilEnd: options.untilEnd ?? true,
    });
  }

  signal(name: string, payload: JsonValue = null): Promise<void> {
    return this.#t.signal(this.id, name, payload);
  }

  sendMessage(text: string): Promise<void> {
    return this.#t.message(this.id, text);
  }

  approve(options: DecisionOptions = {}): Promise<void> {
    return this.#t.decide(this.id, 'approve', options);
  }

  deny(options: DecisionOptions = {}): Promise<void> {
    return this.#t.decide(this.id, 'deny', options);
  }

  cancel(options: { reason?: string } = {}): Promise<void> {
    return this.#t.cancel(this.id, options.reason ?? null);
  }

  changeBudget(change: BudgetChange, options: { reason?: string } = {}): Promise<void> {
    return this.#t.budget(this.id, change, options.reason ?? null);
  }
}

/** The session's first input, as the harness reads it: `{ task }` or `{ task, input }`. */
export function agentInput(input: StartInput): JsonValue {
  if (typeof input === 'string') return { task: input };
  return input.input === undefined
    ? { task: input.task }
    : { task: input.task, input: input.input };
}
