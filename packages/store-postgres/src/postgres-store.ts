import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import {
  AppendCommitTally,
  LongrunError,
  checkClaimFilter,
  checkCount,
  checkFence,
  checkLeaseMs,
  checkName,
  checkWake,
  isRetryable,
  replySpinMs,
  checkListQuery,
  checkSessionIds,
  encodeAppend,
  encodeCreateSession,
  encodeCheckpoint,
  encodePayload,
  sessionId as toSessionId,
  workerId as toWorkerId,
  type AppendCommits,
  type AppendRequest,
  type AppendResult,
  type Checkpoint,
  type CheckpointWrite,
  type EncodedCheckpoint,
  type Clock,
  type ClaimFilter,
  type CreateSessionInput,
  type DurabilityReport,
  type EffectRecord,
  type JsonValue,
  type Lease,
  type LeaseFence,
  type ListSessionsQuery,
  type SessionId,
  type SessionCounts,
  type SessionRecord,
  type SessionStore,
  type Signal,
  type SignalWake,
  type StoredEvent,
  type WorkerId,
  type WorkerLivenessEvents,
  type WorkerRegistration,
  type EncodedEvent,
} from '@longrun/core';
import { packJson } from '@longrun/core/packed-json';
import { AppendBatcher, type AppendBatching } from './append-batcher.ts';
import { CheckpointVacuum } from './checkpoint-vacuum.ts';
import { DeadWorkerSweep } from './dead-worker-sweep.ts';
import { LivenessObserver } from './liveness-observer.ts';
import { PostgresLiveChannel } from './postgres-live-channel.ts';
import { ownIdentity } from './process-identity.ts';
import { openPool, type OpenedPool } from './connection.ts';
import type { PostgresDurabilityOptions } from './durability.ts';
import { migratePostgres } from './migrate.ts';
import {
  num,
  toCheckpoint,
  toEffect,
  toEvent,
  toLease,
  toSession,
  toSessionCounts,
  toSignal,
  type Row,
} from './rows.ts';
import { schemaName, type SchemaName } from './schema-name.ts';
import { approximateBytes, sendAppends, type QueuedAppend, type RunWrite } from './send-appends.ts';
import { checkpointPartsArgs, checkpointPartsParams, statements, type Statements } from './sql.ts';
import {
  isConnectionError,
  translatePgError,
  wasNeverSent,
  type ServerTarget,
} from './translate-error.ts';
import { WorkerLiveness } from './worker-liveness.ts';
import type { PostgresAccess } from './postgres-access.ts';
import { PostgresApiKeys } from './postgres-api-keys.ts';
import { PostgresBlobStore } from './postgres-blob-store.ts';
import { PostgresSchedules } from './postgres-schedules.ts';
import { PostgresWebhooks } from './postgres-webhooks.ts';
import { PostgresTenantSpend } from './postgres-tenant-spend.ts';

export interface PostgresStoreOptions extends PostgresDurabilityOptions {
  /** postgres://user:password@host:5432/database; query parameters are passed to pg. */
  url: string;
  /** Schema that holds every longrun table and function; created if missing. Default `longrun`. */
  schema?: string;
  /** Time for lease expiry and timers. Default: the PostgreSQL server's clock, shared by every host. */
  clock?: Clock;
  /** Pooled connections per store (the worker liveness connections come on top). Default 10. */
  poolSize?: number;
  /** Shown in pg_stat_activity. Default `longrun`. */
  applicationName?: string;
  /** How long to wait for a connection before STORE_UNAVAILABLE, in milliseconds. Default 5000. */
  connectTimeoutMs?: number;
  /** Group commit of appends; see AppendBatching for the defaults. */
  appendBatching?: AppendBatching;
  /**
   * How long a registered worker counts as alive after each heartbeat, milliseconds (default
   * 5000, at least 500). A worker that cannot renew it stops its side effects after half of it;
   * a dead worker's sessions are taken over after at most this long (at once on its own host).
   */
  workerLivenessMs?: number;
  /** A query without an answer for this long fails and its connection is dropped (default 30 s). */
  queryTimeoutMs?: number;
  /**
   * How long `open` keeps trying while the server cannot be reached, milliseconds (default 0:
   * fail at once with STORE_UNAVAILABLE). A worker or API node passes Infinity to wait out an
   * outage at start-up; `onWaiting` is told of each failed attempt.
   */
  waitForServerMs?: number;
  onWaiting?: (error: LongrunError, attempt: number, retryInMs: number) => void;
  /** Where the store reports what happens to its connections (reconnects, liveness). */
  log?: (message: string) => void;
}

interface Internals extends OpenedPool {
  schema: SchemaName;
}

/** Reads are retried on a dropped connection; writes only when pg proves it never sent them. */
type Retry = 'read' | 'write';

const maxAttempts = 3;

/**
 * Every event's data of at least 64 characters is written packed (schema 15; every packed row is
 * read) when that saves an eighth: Postgres compresses only values over ~2 kB (TOAST), so it kept
 * an event of a few hundred bytes whole. Packing costs ~8 µs for a model's response of ~500
 * characters and ~2 µs for a tool's start or result (fixed-deflate.ts; zlib took 40-90 µs, which
 * is why this store once wrote most events as text).
 */
function storedData(e: EncodedEvent): string | Uint8Array {
  return packJson(e.data);
}

/**
 * The scale-out session store on PostgreSQL. Every multi-statement write is a plpgsql function
 * (see migrations.ts) so that it costs one round trip and runs as one transaction; appends are
 * group-committed, many sessions' in one round trip (append-batcher.ts); claims use FOR UPDATE
 * SKIP LOCKED; a registered worker's liveness is a session-level advisory lock.
 * (About 500 lines: one short method per port operation, and opening with waits; the logic
 * lives in SQL and the liveness in worker-liveness.ts.)
 */
export class PostgresStore implements SessionStore {
  readonly kind = 'postgres';
  readonly capabilities = { connectionScopedLiveness: true, multiHost: true };
  readonly schema: string;
  readonly apiKeys: PostgresApiKeys;
  readonly blobs: PostgresBlobStore;
  readonly schedules: PostgresSchedules;
  readonly webhooks: PostgresWebhooks;
  readonly tenantSpend: PostgresTenantSpend;
  readonly #pool: pg.Pool;
  readonly #schema: SchemaName;
  readonly #sql: Statements;
  readonly #target: ServerTarget;
  readonly #livenessConfig: pg.ClientConfig;
  readonly #clock: Clock | undefined;
  readonly #durability: DurabilityReport;
  readonly #workers = new Set<WorkerLiveness>();
  readonly #livenessMs: number;
  readonly #identity = ownIdentity();
  readonly #sweep: DeadWorkerSweep | null;
  readonly #observer: LivenessObserver;
  #live: PostgresLiveChannel | null = null;
  readonly #log: ((message: string) => void) | undefined;
  readonly #appends: AppendBatcher<QueuedAppend, AppendResult>;
  readonly #appendTally = new AppendCommitTally();
  readonly #checkpointVacuum: CheckpointVacuum;
  #closed = false;

  private constructor(options: PostgresStoreOptions, internals: Internals) {
    this.#pool = internals.pool;
    this.#schema = internals.schema;
    this.schema = internals.schema.name;
    this.#sql = statements(internals.schema);
    this.#target = internals.target;
    this.#livenessConfig = internals.livenessConfig;
    this.#clock = options.clock;
    this.#durability = internals.durability;
    this.#livenessMs = checkCount('workerLivenessMs', options.workerLivenessMs ?? 5_000, 500);
    this.#log = options.log;
    // Not through #write, which refuses once closed: close() drains the appends it accepted.
    // Each append statement is a transaction of its own: it commits the appends it reports.
    const write: RunWrite = async (name, values) => {
      const rows = await this.#query('appending events', name, values, 'write');
      this.#appendTally.committed(
        name === 'appendBatch' ? rows.filter((row) => row.error_code === null).length : 1,
      );
      return rows;
    };
    const access: PostgresAccess = {
      read: (doing, name, values) => this.#read(doing, name, values),
      write: (doing, name, values) => this.#write(doing, name, values),
      nowParam: () => this.#nowParam(),
    };
    this.apiKeys = new PostgresApiKeys(access);
    this.blobs = new PostgresBlobStore(access);
    this.schedules = new PostgresSchedules(access);
    this.webhooks = new PostgresWebhooks(access);
    this.tenantSpend = new PostgresTenantSpend(access);
    this.#sweep = this.#identity === null ? null : new DeadWorkerSweep(this.#identity, access);
    const clock = options.clock;
    this.#observer = new LivenessObserver(access, {
      ...(clock === undefined ? {} : { nowMs: () => clock.nowMs() }),
      defaultLivenessMs: this.#livenessMs,
      isOwn: (id) => [...this.#workers].some((w) => w.workerId === id),
      ...(options.log ? { log: options.log } : {}),
    });
    this.#checkpointVacuum = new CheckpointVacuum(internals.pool, internals.schema, options.log);
    this.#appends = new AppendBatcher(
      (items: QueuedAppend[]) => sendAppends(items, write, this.#target),
      options.appendBatching,
    );
  }

  /**
   * Connects, enforces durability, and creates or upgrades the schema; while the server cannot
   * be reached, tries again for `waitForServerMs` with backoff.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const schema = schemaName(options.schema);
    // Refused before a connection is opened (the batcher reads it again, the same way).
    replySpinMs(options.appendBatching?.replySpinMs);
    const waitMs = options.waitForServerMs ?? 0;
    const startedAt = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await PostgresStore.#openOnce(options, schema);
      } catch (error) {
        const retryInMs = Math.min(2_000, 100 * 2 ** Math.min(attempt, 5));
        const elapsedMs = performance.now() - startedAt;
        if (!isRetryable(error) || elapsedMs + retryInMs > waitMs) throw error;
        options.onWaiting?.(error as LongrunError, attempt, retryInMs);
        await new Promise((resolve) => setTimeout(resolve, retryInMs));
      }
    }
  }

  static async #openOnce(
    options: PostgresStoreOptions,
    schema: SchemaName,
  ): Promise<PostgresStore> {
    const opened = await openPool({
      ...options,
      poolSize: checkCount('poolSize', options.poolSize ?? 10, 1),
      applicationName: options.applicationName ?? 'longrun',
      connectTimeoutMs: checkCount('connectTimeoutMs', options.connectTimeoutMs ?? 5000, 1),
      queryTimeoutMs: checkCount('queryTimeoutMs', options.queryTimeoutMs ?? 30_000, 1),
    });
    const store = new PostgresStore(options, { ...opened, schema });
    try {
      await store.migrate();
      return store;
    } catch (error) {
      await store.close();
      throw error;
    }
  }

  async migrate(): Promise<void> {
    this.#assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (error) {
      throw this.#translate(error, 'migrating the schema');
    }
    let failure: unknown;
    try {
      await migratePostgres(client, this.#schema, this.#nowParam());
    } catch (error) {
      failure = error;
      throw this.#translate(error, 'migrating the schema');
    } finally {
      // A connection that failed mid-migration is discarded rather than reused.
      client.release(failure !== undefined && isConnectionError(failure));
    }
  }

  durability(): DurabilityReport {
    return this.#durability;
  }

  async nowMs(): Promise<number> {
    if (this.#clock !== undefined) return this.#clock.nowMs();
    const rows = await this.#read('reading the clock', 'nowMs', [null]);
    return num((rows[0] as Row).ms, 'now');
  }

  async ping(): Promise<void> {
    await this.#read('checking the store', 'nowMs', [null]);
  }

  liveChannel(): PostgresLiveChannel {
    this.#assertOpen();
    this.#live ??= new PostgresLiveChannel({
      clientConfig: this.#livenessConfig,
      schema: this.#schema.name,
      translate: (error, doing) => this.#translate(error, doing),
      ...(this.#log ? { log: this.#log } : {}),
    });
    return this.#live;
  }

  /**
   * Appends committed since the store opened, and the statements (each a transaction) that
   * carried them.
   */
  appendCommits(): AppendCommits {
    return this.#appendTally.counts();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Appends already accepted are still sent; new ones are refused.
    await this.#appends.drain();
    await this.#checkpointVacuum.stop();
    await this.#sweep?.stop();
    await this.#observer.stop();
    await this.#live?.close();
    await Promise.all([...this.#workers].map((w) => w.close()));
    await this.#pool.end().catch(() => {});
  }

  async createSession(input: CreateSessionInput): Promise<SessionRecord> {
    const c = encodeCreateSession(input);
    const rows =
      c.heldBy === null
        ? await this.#write('creating a session', 'createSession', [
            this.#nowParam(),
            c.id,
            c.tenantId,
            c.agent,
            c.data,
            c.idempotency?.key ?? null,
            c.idempotency?.requestHash ?? null,
          ])
        : await this.#write('creating a session', 'createHeldSession', [
            this.#nowParam(),
            c.id,
            c.tenantId,
            c.agent,
            c.data,
            c.heldBy.owner,
            c.heldBy.leaseMs,
          ]);
    const row = rows[0];
    if (row === undefined)
      throw new LongrunError('INTERNAL', `create_session returned no row for ${c.id}`);
    return toSession(row);
  }

  async getSession(id: SessionId): Promise<SessionRecord> {
    const checked = toSessionId(id);
    const row = (await this.#read('reading a session', 'getSession', [checked]))[0];
    if (row === undefined) throw new LongrunError('NOT_FOUND', `session ${checked} does not exist`);
    return toSession(row);
  }

  async getSessions(ids: readonly SessionId[]): Promise<SessionRecord[]> {
    const checked = checkSessionIds(ids);
    if (checked.length === 0) return [];
    return (await this.#read('reading sessions', 'getSessions', [checked])).map(toSession);
  }

  async listSessions(query: ListSessionsQuery = {}): Promise<SessionRecord[]> {
    const q = checkListQuery(query);
    const rows = await this.#read(
      'listing sessions',
      q.newestFirst ? 'listSessionsNewest' : 'listSessions',
      [q.status, q.tenantId, q.agent, q.afterId, q.limit, q.waitingForPrefix],
    );
    return rows.map(toSession);
  }

  async countSessions(): Promise<SessionCounts> {
    return toSessionCounts(
      await this.#read('counting sessions', 'countSessions', [this.#nowParam()]),
    );
  }

  async readEvents(id: SessionId, afterSeq = 0, limit = 10_000): Promise<StoredEvent[]> {
    const checked = toSessionId(id);
    checkCount('afterSeq', afterSeq);
    checkCount('limit', limit, 1);
    return (await this.#read('reading events', 'readEvents', [checked, afterSeq, limit])).map(
      toEvent,
    );
  }

  async latestCheckpoint(id: SessionId): Promise<Checkpoint | null> {
    const checked = toSessionId(id);
    return toCheckpoint(
      checked,
      await this.#read('reading a checkpoint', 'readCheckpoint', [checked]),
    );
  }

  async listEffects(id: SessionId): Promise<EffectRecord[]> {
    return (await this.#read('reading effect records', 'listEffects', [toSessionId(id)])).map(
      toEffect,
    );
  }

  async pendingSignals(id: SessionId, name: string): Promise<Signal[]> {
    const checked = toSessionId(id);
    checkName('signal name', name);
    return (await this.#read('reading signals', 'pendingSignals', [checked, name])).map(toSignal);
  }

  /**
   * Checks and encodes now (bad input rejects before anything is queued), then joins the next
   * group commit; settles as this append alone would have, once its batch has committed.
   */
  async append(request: AppendRequest): Promise<AppendResult> {
    // Synchronous up to the queue, so that appends called in one turn share a batch.
    const encoded = encodeAppend(request);
    this.#assertOpen();
    const fence = checkFence(request.fence);
    const queued = {
      nowMs: this.#nowParam(),
      fence,
      expectedSeq: request.expectedSeq,
      encoded,
      packed: encoded.events.map(storedData),
    };
    const result = await this.#appends.submit(fence.sessionId, queued, approximateBytes(encoded));
    if (encoded.checkpoint) this.#checkpointVacuum.written(checkpointChars(encoded.checkpoint));
    return result;
  }

  async saveCheckpoint(fence: LeaseFence, checkpoint: CheckpointWrite): Promise<void> {
    const f = checkFence(fence);
    // The head is checked by save_checkpoint, in the transaction that writes it.
    const c = encodeCheckpoint(checkpoint, Number.MAX_SAFE_INTEGER);
    const parts = checkpointPartsParams(checkpointPartsArgs(c));
    const values = [this.#nowParam(), f.sessionId, f.owner, f.epoch, c.seq, c.state, ...parts];
    await this.#write('saving a checkpoint', 'saveCheckpoint', values);
    this.#checkpointVacuum.written(checkpointChars(c));
  }

  async registerWorker(
    workerId: WorkerId,
    events?: WorkerLivenessEvents,
  ): Promise<WorkerRegistration> {
    this.#assertOpen();
    const worker = new WorkerLiveness(
      toWorkerId(workerId),
      {
        clientConfig: this.#livenessConfig,
        sql: this.#sql,
        nowParam: () => this.#nowParam(),
        translate: (error, doing) => this.#translate(error, doing),
        livenessMs: this.#livenessMs,
        identity: this.#identity,
        ...(this.#log ? { log: this.#log } : {}),
      },
      events,
    );
    await worker.start();
    this.#workers.add(worker);
    this.#sweep?.start();
    this.#observer.start();
    return {
      workerId: worker.workerId,
      assuredUntil: () => worker.assuredUntil(),
      close: async () => {
        this.#workers.delete(worker);
        await worker.close();
      },
    };
  }

  async claimNext(owner: WorkerId, leaseMs: number, filter?: ClaimFilter): Promise<Lease | null> {
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    const agents = checkClaimFilter(filter);
    this.#observer.start();
    const rows = await this.#write('claiming a session', 'claimNext', [
      this.#nowParam(),
      o,
      leaseMs,
      agents,
    ]);
    return rows[0] === undefined ? null : toLease(rows[0], o);
  }

  async claim(id: SessionId, owner: WorkerId, leaseMs: number): Promise<Lease | null> {
    const checked = toSessionId(id);
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    this.#observer.start();
    const rows = await this.#write('claiming a session', 'claimById', [
      this.#nowParam(),
      o,
      leaseMs,
      checked,
    ]);
    return rows[0] === undefined ? null : toLease(rows[0], o);
  }

  async reclaimOwned(owner: WorkerId, leaseMs: number, filter?: ClaimFilter): Promise<Lease[]> {
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    const agents = checkClaimFilter(filter);
    const rows = await this.#write('reclaiming sessions', 'reclaimOwned', [
      this.#nowParam(),
      o,
      leaseMs,
      agents,
    ]);
    return rows.map((row) => toLease(row, o));
  }

  async renewLease(fence: LeaseFence, leaseMs: number): Promise<Lease> {
    const f = checkFence(fence);
    checkLeaseMs(leaseMs);
    const values = [this.#nowParam(), leaseMs, f.sessionId, f.epoch, f.owner];
    const row = (await this.#write('renewing a lease', 'renewLease', values))[0];
    if (row === undefined) {
      // Raises NOT_FOUND or LEASE_LOST, worded as for any fenced write.
      await this.#read('renewing a lease', 'checkFence', [f.sessionId, f.owner, f.epoch]);
      throw new LongrunError(
        'INTERNAL',
        `renewing the lease on ${f.sessionId} changed nothing, yet its fence is current`,
      );
    }
    return {
      ...f,
      expiresAtMs: num(row.lease_expires_at_ms, 'lease_expires_at_ms'),
      headSeq: num(row.head_seq, 'head_seq'),
    };
  }

  async releaseLease(fence: LeaseFence): Promise<void> {
    const f = checkFence(fence);
    await this.#write('releasing a lease', 'releaseLease', [
      this.#nowParam(),
      f.sessionId,
      f.epoch,
      f.owner,
    ]);
  }

  async sendSignal(
    id: SessionId,
    name: string,
    payload: JsonValue,
    options: { wake?: SignalWake; once?: boolean } = {},
  ): Promise<Signal> {
    const checked = toSessionId(id);
    checkName('signal name', name);
    const wake = checkWake(options.wake);
    const encoded = encodePayload(payload, 'signal payload');
    const signalId = `sig_${randomUUID().replaceAll('-', '')}`;
    const values = [this.#nowParam(), signalId, checked, name, encoded, wake];
    const statement = options.once === true ? 'sendSignalOnce' : 'sendSignal';
    const rows = await this.#write('sending a signal', statement, values);
    return {
      id: signalId,
      sessionId: checked,
      name,
      payload,
      createdAtMs: num((rows[0] as Row).created_at_ms, 'created_at_ms'),
    };
  }

  // ---- internals ----

  /** The injected time, or null so that SQL reads the server's clock. */
  #nowParam(): number | null {
    return this.#clock === undefined ? null : this.#clock.nowMs();
  }

  #read(doing: string, name: keyof Statements, values: unknown[]): Promise<Row[]> {
    this.#assertOpen();
    return this.#query(doing, name, values, 'read');
  }

  #write(doing: string, name: keyof Statements, values: unknown[]): Promise<Row[]> {
    this.#assertOpen();
    return this.#query(doing, name, values, 'write');
  }

  /**
   * Runs one named statement (prepared once per pooled connection). A statement pg never sent,
   * e.g. on a pooled connection that had died while idle, is retried on a fresh connection; a
   * read is also retried when the connection dropped mid-flight. A write whose connection dropped
   * is not: it may have committed, and only the caller can tell (by re-reading).
   */
  async #query(
    doing: string,
    name: keyof Statements,
    values: unknown[],
    retry: Retry,
  ): Promise<Row[]> {
    for (let attempt = 1; ; attempt++) {
      try {
        const query = { name: `longrun_${name}`, text: this.#sql[name], values };
        return (await this.#pool.query<Row>(query)).rows;
      } catch (error) {
        const again =
          attempt < maxAttempts &&
          !this.#closed &&
          (wasNeverSent(error) || (retry === 'read' && isConnectionError(error)));
        if (!again) throw this.#translate(error, doing, retry);
      }
    }
  }

  #translate(error: unknown, doing: string, kind: 'read' | 'write' = 'write'): LongrunError {
    return translatePgError(error, doing, this.#target, kind);
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new LongrunError('STORE_UNAVAILABLE', 'the PostgreSQL store is closed', {
        retryable: false,
      });
  }
}

/** The characters a checkpoint write stores: its state and the parts it adds. */
function checkpointChars(checkpoint: EncodedCheckpoint): number {
  let chars = checkpoint.state.length;
  for (const part of checkpoint.parts?.add ?? []) chars += part.value.length;
  return chars;
}
