import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  workerId,
  type AppendRequest,
  type Lease,
  type NewEvent,
  type SessionId,
  type SessionStore,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';

/** A SQLite store in a fresh file, for one test file. */
export async function sqliteStore(): Promise<{
  store: SessionStore;
  drop: () => Promise<void>;
}> {
  const dir = mkdtempSync(join(tmpdir(), 'longrun-api-'));
  const store = await SqliteStore.open({ path: join(dir, 'longrun.db') });
  return {
    store,
    drop: async () => {
      await store.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Writes to a session's log the way a worker does: under a lease, at the expected seq. For tests
 * that need a log in a given shape without running an agent.
 */
export class LogWriter {
  readonly #store: SessionStore;
  #lease: Lease;
  #head: number;

  private constructor(store: SessionStore, lease: Lease) {
    this.#store = store;
    this.#lease = lease;
    this.#head = lease.headSeq;
  }

  static async claim(
    store: SessionStore,
    id: SessionId,
    owner = 'test-writer',
  ): Promise<LogWriter> {
    const lease = await store.claim(id, workerId(owner), 60_000);
    if (lease === null) throw new Error(`session ${id} is not claimable`);
    return new LogWriter(store, lease);
  }

  get head(): number {
    return this.#head;
  }

  async append(
    events: NewEvent[],
    extra: Omit<AppendRequest, 'fence' | 'expectedSeq' | 'events'> = {},
  ): Promise<number> {
    const result = await this.#store.append({
      fence: this.#lease,
      expectedSeq: this.#head,
      events,
      ...extra,
    });
    this.#head = result.headSeq;
    return result.headSeq;
  }
}

export interface SseFrame {
  id?: string;
  event?: string;
  data?: string;
  retry?: string;
  comment?: string;
}

/**
 * Splits SSE text into frames (blank-line separated), keeping every field. A frame not yet ended
 * by its blank line (cut by a disconnect) is not a frame: a client does not dispatch it.
 */
export function parseFrames(text: string): SseFrame[] {
  return text
    .slice(0, text.lastIndexOf('\n\n') + 2)
    .split('\n\n')
    .filter((block) => block !== '')
    .map((block) => {
      const frame: SseFrame = {};
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) frame.comment = line.slice(1).trim();
        else {
          const at = line.indexOf(':');
          const field = line.slice(0, at) as keyof SseFrame;
          frame[field] = line.slice(at + 2);
        }
      }
      return frame;
    });
}

/** The body's reader, typed: Node's types leave a response body's chunks as `any`. */
export function bodyReader(response: Response): ReadableStreamDefaultReader<Uint8Array> {
  if (response.body === null) throw new Error('the response has no body');
  return (response.body as ReadableStream<Uint8Array>).getReader();
}

/**
 * Reads an SSE response body as text until `done(text)` is true or `timeoutMs` passes, then
 * cancels the body (as a client disconnecting does). Returns all the text read.
 */
export async function readStream(
  response: Response,
  done: (text: string) => boolean,
  timeoutMs = 10_000,
): Promise<string> {
  const reader = bodyReader(response);
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + timeoutMs;
  try {
    while (!done(text)) {
      const left = deadline - Date.now();
      if (left <= 0)
        throw new Error(`stream condition not met in ${timeoutMs} ms; got:\n${text.slice(-2_000)}`);
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        reader.read(),
        new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), left))),
      ]);
      clearTimeout(timer);
      if (chunk === 'timeout') continue;
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return text;
}

/** Polls `check` until it returns a value (not undefined/null), for at most `withinMs`. */
export async function eventually<T>(
  check: () => T | null | undefined | Promise<T | null | undefined>,
  withinMs = 10_000,
  everyMs = 10,
): Promise<T> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const value = await check();
    if (value !== null && value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface CallOptions {
  body?: unknown;
  key?: string;
  headers?: Record<string, string>;
}

/** One request through the app, no socket; the body (if any) is sent as JSON. */
export async function call<T = unknown>(
  api: { fetch(request: Request): Promise<Response> },
  method: string,
  path: string,
  options: CallOptions = {},
): Promise<{ status: number; body: T; headers: Headers }> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.key !== undefined) headers.authorization = `Bearer ${options.key}`;
  let body: string | undefined;
  if (options.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
  }
  const response = await api.fetch(
    new Request(`http://127.0.0.1${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body }),
    }),
  );
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: kept as text
  }
  return { status: response.status, body: parsed as T, headers: response.headers };
}
