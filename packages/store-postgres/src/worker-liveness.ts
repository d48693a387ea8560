import pg from 'pg';
import { LongrunError, type WorkerId, type WorkerRegistration } from '@longrun/core';
import type { Statements } from './sql.ts';

export interface LivenessConfig {
  clientConfig: pg.ClientConfig;
  sql: Statements;
  /** The injected time, or null for the server's clock. */
  nowParam: () => number | null;
  translate: (error: unknown, doing: string) => LongrunError;
  /** Attempts to re-take the lock after the connection drops, and the first backoff between them. */
  reconnectAttempts: number;
  reconnectBackoffMs: number;
}

/**
 * A worker's presence in the store: a dedicated connection (never a pooled one, whose session
 * state other callers would share) holding the session-level advisory lock (namespace, lock_key).
 * The server releases the lock the moment the connection ends, which is what lets another worker
 * take over a `kill -9`'d worker's sessions without waiting for their leases to expire.
 *
 * If the connection drops while the process lives, it reconnects and re-takes the lock, with
 * bounded retries and exponential backoff; only when that fails is `onLost` called. In the gap
 * the worker's sessions are claimable, and fencing stops its writes if someone claimed them.
 */
export class WorkerLiveness implements WorkerRegistration {
  readonly workerId: WorkerId;
  readonly #config: LivenessConfig;
  readonly #onLost: ((error: Error) => void) | undefined;
  #client: pg.Client | null = null;
  #closed = false;
  #reconnecting = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    workerId: WorkerId,
    config: LivenessConfig,
    onLost: ((error: Error) => void) | undefined,
  ) {
    this.workerId = workerId;
    this.#config = config;
    this.#onLost = onLost;
  }

  /** Registers the worker and takes its lock; fails if another live connection holds it. */
  async start(): Promise<void> {
    this.#client = await this.#connectAndLock();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const client = this.#client;
    this.#client = null;
    // Ending the connection releases the session-level lock; no unlock round trip needed.
    if (client !== null) await client.end().catch(() => {});
  }

  async #connectAndLock(): Promise<pg.Client> {
    const client = new pg.Client(this.#config.clientConfig);
    // Attached before connect: an 'error' event with no listener would crash the process.
    client.on('error', (error) => this.#dropped(client, error));
    client.on('end', () => this.#dropped(client, new Error('the liveness connection ended')));
    try {
      await client.connect();
      const registered = await client.query(this.#config.sql.registerWorker, [
        this.#config.nowParam(),
        this.workerId,
      ]);
      const locked = registered.rows[0] as { locked: boolean };
      if (locked.locked !== true) {
        throw new LongrunError(
          'INVALID_STATE',
          `worker ${this.workerId} is already registered by another live connection; give each worker process its own id`,
          { retryable: true },
        );
      }
      // Housekeeping only: a failure here leaves a few stale rows for the next registration.
      await client.query(this.#config.sql.pruneWorkers).catch(() => {});
      return client;
    } catch (error) {
      this.#client = null;
      await client.end().catch(() => {});
      throw this.#config.translate(error, `registering worker ${this.workerId}`);
    }
  }

  #dropped(client: pg.Client, error: Error): void {
    if (this.#closed || this.#reconnecting || client !== this.#client) return;
    this.#client = null;
    this.#reconnecting = true;
    client.end().catch(() => {});
    this.#retry(1, error);
  }

  #retry(attempt: number, lastError: unknown): void {
    if (this.#closed) return;
    if (attempt > this.#config.reconnectAttempts) {
      this.#reconnecting = false;
      const error = new LongrunError(
        'STORE_UNAVAILABLE',
        `worker ${this.workerId} lost its liveness lock and could not re-take it after ${this.#config.reconnectAttempts} attempts; its sessions may be claimed by other workers`,
        { cause: lastError },
      );
      this.#onLost?.(error);
      return;
    }
    const delayMs = attempt === 1 ? 0 : this.#config.reconnectBackoffMs * 2 ** (attempt - 2);
    this.#timer = setTimeout(() => {
      this.#connectAndLock().then(
        (client) => {
          this.#reconnecting = false;
          if (this.#closed) void client.end().catch(() => {});
          else this.#client = client;
        },
        (error: unknown) => this.#retry(attempt + 1, error),
      );
    }, delayMs);
  }
}
