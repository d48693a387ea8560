import {
  LongrunError,
  type Budget,
  type BudgetChange,
  type ApprovalScope,
  type JsonValue,
  type SessionId,
  type SessionStatus,
  type StoredEvent,
} from '@longrun/core';
import type { ScheduleClient } from './schedule-client.ts';

/** What a client knows of a session: the same fields over a store and over HTTP. */
export interface SessionInfo {
  id: SessionId;
  tenantId: string;
  agent: string;
  status: SessionStatus;
  /** Why it is paused, failed or waiting, in words a person can act on. */
  statusReason: string | null;
  /** Seq of its last durable event. */
  headSeq: number;
}

/** What a session starts with: its task (the first user message), and extra input if any. */
export type StartInput = string | { task: string; input?: JsonValue };

export interface StartOptions {
  /**
   * The session's tenant. Over a store: any tenant (default `default`). Over HTTP the tenant is
   * the API key's: the server refuses a different one (INVALID_ARGUMENT) before creating anything.
   */
  tenant?: string;
  /** Makes the start safe to retry: the same key and input give the same session. */
  idempotencyKey?: string;
  /** The session's budget; the agent's own fills in the limits left out (see core's `Budget`). */
  budget?: Budget;
}

export interface EventsOptions {
  /** Start after this seq (default 0: from the first event). */
  after?: number;
  /**
   * true (default): end once the session has ended (completed, failed or cancelled) and every
   * event up to its end was given. false: follow for as long as the caller iterates.
   */
  untilEnd?: boolean;
  /** Stops the iteration (it then ends without an error). */
  signal?: AbortSignal;
}

export interface DecisionOptions {
  /** Which approval; may be left out when exactly one is pending. */
  approvalId?: string;
  reason?: string;
  /**
   * With approve: how far the grant reaches — `call` (default) this call only; `arguments` also
   * every later call of the tool with the same arguments in the session; `tool` every later call
   * of the tool in the session.
   */
  scope?: ApprovalScope;
}

/** A started session: follow it, talk to it, wait for its result. */
export interface SessionHandle {
  readonly id: SessionId;
  /** The session as it is now. */
  describe(): Promise<SessionInfo>;
  /**
   * Resolves with the session's output once it completes; rejects with SessionEndedError when it
   * fails or is cancelled. A completed session reopened by a message resolves with its latest output.
   */
  result(options?: { signal?: AbortSignal }): Promise<JsonValue>;
  /** Its durable events in seq order, each once; over HTTP from the resumable SSE stream. */
  events(options?: EventsOptions): AsyncIterable<StoredEvent>;
  /** Delivers a signal of the agent's own (wakes the session if it waits for it). */
  signal(name: string, payload?: JsonValue): Promise<void>;
  /** A follow-up message: a new turn, also for a completed session. */
  sendMessage(text: string): Promise<void>;
  approve(options?: DecisionOptions): Promise<void>;
  deny(options?: DecisionOptions): Promise<void>;
  /** Asks for the session to be cancelled; a worker records it at its next step boundary. */
  cancel(options?: { reason?: string }): Promise<void>;
  /**
   * Changes the budget (a number sets a limit, null removes it) and resumes the session if it
   * was paused for BUDGET_EXCEEDED.
   */
  changeBudget(change: BudgetChange, options?: { reason?: string }): Promise<void>;
}

/** The same interface against a store directly and against a longrun server over HTTP. */
export interface LongrunClient {
  /** Creates a session of `agent` and returns its handle; a worker that runs the agent runs it. */
  start(agent: string, input: StartInput, options?: StartOptions): Promise<SessionHandle>;
  /** The handle of an existing session (NOT_FOUND if there is none, or it is another tenant's). */
  get(id: string): Promise<SessionHandle>;
  /** Cron schedules that start sessions of an agent. */
  readonly schedules: ScheduleClient;
}

/**
 * A session that ended without an output: it failed (`failure` holds its code and message) or was
 * cancelled. `code` is INVALID_STATE: there is no result to give.
 */
export class SessionEndedError extends LongrunError {
  readonly sessionId: SessionId;
  readonly status: 'failed' | 'cancelled';
  readonly failure: { code: string; message: string } | null;

  constructor(
    sessionId: SessionId,
    status: 'failed' | 'cancelled',
    failure: { code: string; message: string } | null,
    detail: string,
  ) {
    super('INVALID_STATE', `session ${sessionId} ${status}: ${detail}`, {
      details: { sessionId, status, ...(failure === null ? {} : { failure }) },
    });
    this.sessionId = sessionId;
    this.status = status;
    this.failure = failure;
  }
}

export const terminalEventTypes: ReadonlySet<string> = new Set([
  'session.completed',
  'session.failed',
  'session.cancelled',
]);
