import { setTimeout as sleep } from 'node:timers/promises';
import { EventSourceParserStream } from 'eventsource-parser/stream';
import {
  LongrunError,
  errorCodes,
  sessionId,
  terminalStatuses,
  type BudgetChange,
  type ErrorCode,
  type JsonValue,
  type SessionId,
  type StoredEvent,
} from '@longrun/core';
import type { DecisionOptions, SessionInfo, StartInput, StartOptions } from './client-types.ts';
import { agentInput, type Transport } from './session-handle.ts';

export interface HttpTransportOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:7070`. */
  url: string;
  /** An API key (`longrun keys create`); left out for a server run without keys. */
  apiKey?: string;
  /** Consecutive failed stream connections before `events()` gives up (default 10). */
  maxReconnects?: number;
}

/**
 * A longrun server's HTTP API (docs/http-api.md). Events come from the resumable SSE stream: a
 * connection that drops is opened again with Last-Event-ID, so no event is missed or repeated.
 */
export class HttpTransport implements Transport {
  readonly #base: URL;
  readonly #apiKey: string | undefined;
  readonly #maxReconnects: number;

  constructor(options: HttpTransportOptions) {
    try {
      this.#base = new URL(options.url);
    } catch (error) {
      throw new LongrunError(
        'INVALID_ARGUMENT',
        `cannot parse the server URL ${JSON.stringify(options.url)}`,
        { cause: error },
      );
    }
    this.#apiKey = options.apiKey;
    this.#maxReconnects = options.maxReconnects ?? 10;
  }

  async create(agent: string, input: StartInput, options: StartOptions): Promise<SessionInfo> {
    const data = agentInput(input) as { task: string; input?: JsonValue };
    const body = {
      agent,
      message: data.task,
      ...(data.input === undefined ? {} : { input: data.input }),
      // The server refuses a tenant other than the key's before it creates anything.
      ...(options.tenant === undefined ? {} : { tenant: options.tenant }),
      ...(options.budget === undefined ? {} : { budget: options.budget }),
    };
    const headers: Record<string, string> =
      options.idempotencyKey === undefined ? {} : { 'idempotency-key': options.idempotencyKey };
    const { session } = await this.#call<{ session: SessionInfo }>(
      'POST',
      '/v1/sessions',
      body,
      headers,
    );
    return pick(session);
  }

  async session(id: string): Promise<SessionInfo> {
    const { session } = await this.#call<{ session: SessionInfo }>(
      'GET',
      `/v1/sessions/${enc(sessionId(id))}`,
    );
    return pick(session);
  }

  async *follow(
    id: SessionId,
    options: { after: number; untilEnd: boolean; signal?: AbortSignal },
  ): AsyncIterable<StoredEvent> {
    let after = options.after;
    let failures = 0;
    const stopped = (): boolean => options.signal?.aborted === true;
    while (!stopped()) {
      try {
        for await (const e of this.#stream(id, after, options)) {
          after = e.seq;
          failures = 0;
          yield e;
        }
      } catch (error) {
        if (stopped()) return;
        // A refusal (404, 401) will not change by asking again; a dropped connection may.
        if (error instanceof LongrunError && !error.retryable) throw error;
        failures += 1;
        if (failures > this.#maxReconnects) throw error;
        await sleep(Math.min(100 * 2 ** failures, 5_000), undefined, {
          signal: options.signal,
        }).catch(() => undefined);
        continue;
      }
      // The server ended the stream: at the session's end (untilEnd), or to shed a slow reader.
      if (options.untilEnd) {
        const now = await this.session(id);
        if (terminalStatuses.includes(now.status) && now.headSeq <= after) return;
      }
    }
  }

  /** One connection of the SSE stream: its durable events (frames with an id), in seq order. */
  async *#stream(
    id: SessionId,
    after: number,
    options: { untilEnd: boolean; signal?: AbortSignal },
  ): AsyncIterable<StoredEvent> {
    const url = new URL(`/v1/sessions/${enc(id)}/stream`, this.#base);
    url.searchParams.set('follow', options.untilEnd ? 'false' : 'true');
    const response = await this.#fetch(url, {
      headers: { ...this.#auth(), accept: 'text/event-stream', 'last-event-id': String(after) },
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (!response.ok || response.body === null) throw await errorOf(response);
    const frames = response.body
      .pipeThrough(new TextDecoderStream())
      .pipeThrough(new EventSourceParserStream());
    for await (const frame of frames) {
      if (frame.id === undefined) continue; // state, live deltas: not durable events
      const e = JSON.parse(frame.data) as StoredEvent;
      if (e.seq > after) yield e;
    }
  }

  async signal(id: SessionId, name: string, payload: JsonValue): Promise<void> {
    await this.#call('POST', `/v1/sessions/${enc(id)}/signals/${enc(name)}`, payload);
  }

  async message(id: SessionId, text: string): Promise<void> {
    await this.#call('POST', `/v1/sessions/${enc(id)}/messages`, { text });
  }

  async decide(
    id: SessionId,
    decision: 'approve' | 'deny',
    options: DecisionOptions,
  ): Promise<void> {
    const approvalId = options.approvalId ?? (await this.#onlyPendingApproval(id));
    await this.#call('POST', `/v1/sessions/${enc(id)}/approvals/${enc(approvalId)}`, {
      decision,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
      ...(options.scope === undefined ? {} : { scope: options.scope }),
    });
  }

  async budget(id: SessionId, change: BudgetChange, reason: string | null): Promise<void> {
    await this.#call('POST', `/v1/sessions/${enc(id)}/budget`, {
      budget: change,
      ...(reason === null ? {} : { reason }),
    });
  }

  async cancel(id: SessionId, reason: string | null): Promise<void> {
    await this.#call('POST', `/v1/sessions/${enc(id)}/cancel`, reason === null ? {} : { reason });
  }

  /** The one approval the session waits for; NOT_FOUND naming them when there is not exactly one. */
  async #onlyPendingApproval(id: SessionId): Promise<string> {
    const { approvals } = await this.#call<{
      approvals: { approvalId: string; sessionId: string }[];
    }>('GET', '/v1/approvals?limit=200');
    const pending = approvals.filter((a) => a.sessionId === id).map((a) => a.approvalId);
    if (pending.length === 1 && pending[0] !== undefined) return pending[0];
    throw new LongrunError(
      'NOT_FOUND',
      `session ${id} has ${pending.length === 0 ? 'no pending approval' : `${pending.length} pending approvals (${pending.join(', ')}); give approvalId`}`,
    );
  }

  /** One request to the API; its JSON answer (undefined for a 204), or its typed error. */
  call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    return this.#call<T>(method, path, body);
  }

  async #call<T>(
    method: 'GET' | 'POST' | 'DELETE',
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<T> {
    const response = await this.#fetch(new URL(path, this.#base), {
      method,
      headers: {
        ...this.#auth(),
        ...headers,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    return (await response.json()) as T;
  }

  async #fetch(url: URL, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      if (init.signal?.aborted === true) throw error;
      throw new LongrunError(
        'STORE_UNAVAILABLE',
        `the longrun server at ${this.#base.origin} does not answer: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  #auth(): Record<string, string> {
    return this.#apiKey === undefined ? {} : { authorization: `Bearer ${this.#apiKey}` };
  }
}

/** The API's typed error body as the LongrunError it stands for. */
async function errorOf(response: Response): Promise<LongrunError> {
  const text = await response.text().catch(() => '');
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    error = undefined;
  }
  const code: ErrorCode =
    error?.code !== undefined && error.code in errorCodes
      ? (error.code as ErrorCode)
      : response.status >= 500
        ? 'STORE_UNAVAILABLE'
        : 'INTERNAL';
  return new LongrunError(
    code,
    error?.message ?? `HTTP ${response.status}: ${text.slice(0, 200)}`,
    {
      details: { status: response.status },
    },
  );
}

function pick(s: SessionInfo): SessionInfo {
  return {
    id: sessionId(s.id),
    tenantId: s.tenantId,
    agent: s.agent,
    status: s.status,
    statusReason: s.statusReason,
    headSeq: s.headSeq,
  };
}

const enc = encodeURIComponent;
