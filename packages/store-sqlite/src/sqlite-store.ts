import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  LongrunError,
  checkCount,
  checkFence,
  checkLeaseMs,
  checkName,
  checkWake,
  checkListQuery,
  checkSessionIds,
  encodePayload,
  encodeAppend,
  encodeCreateSession,
  idempotencyConflict,
  sessionId as toSessionId,
  systemClock,
  workerId as toWorkerId,
  type AppendRequest,
  type AppendResult,
  type Checkpoint,
  type Clock,
  type ClaimFilter,
  type CreateSessionInput,
  type DurabilityReport,
  type EncodedCreateSession,
  type EffectRecord,
  type JsonValue,
  type Lease,
  type LeaseFence,
  type ListSessionsQuery,
  type SessionId,
  type SessionRecord,
  type SessionStore,
  type Signal,
  type SignalWake,
  type StoredEvent,
  type WorkerId,
  type WorkerRegistration,
} from '@longrun/core';
import { migrateSqlite } from './migrate.ts';
import { toCheckpoint, toEffect, toEvent, toSession, toSignal } from './rows.ts';
import { translateSqliteError } from './translate-error.ts';
import { agentsParam, sql } from './sql.ts';
import { applyDurability, type SqliteDurabilityOptions } from './durability.ts';
import type { SqliteAccess } from './sqlite-access.ts';
import { SqliteApiKeys } from './sqlite-api-keys.ts';
import { SqliteBlobStore } from './sqlite-blob-store.ts';
import { SqliteSchedules } from './sqlite-schedules.ts';
import { SqliteAppendBatch } from './sqlite-append-batch.ts';
import { WorkerLock } from './worker-lock.ts';
import { leaseClockFor, type LeaseClock } from './lease-clock.ts';

export interface SqliteStoreOptions extends SqliteDurabilityOptions {
  /** Path of the database file; its directory is created if missing. */
  path: string;
  /** Time for lease expiry and timers. SQLite has no clock of its own: it is this process's. */
  clock?: Clock;
  /** How long a write waits for another process's lock before it fails, in milliseconds. */
  busyTimeoutMs?: number;
}

/**
 * The embedded session store: one SQLite file, WAL, every commit fsync'd (synchronous=FULL).
 * Appends are group-committed (sqlite-append-batch.ts).
 */
export class SqliteStore implements SessionStore {
  readonly kind = 'sqlite';
  readonly capabilities = { connectionScopedLiveness: false, multiHost: false };
  readonly path: string;
  readonly apiKeys: SqliteApiKeys;
  readonly blobs: SqliteBlobStore;
  readonly schedules: SqliteSchedules;
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #durability: DurabilityReport;
  readonly #statements = new Map<string, StatementSync>();
  readonly #appends: SqliteAppendBatch;
  readonly #leaseClock: LeaseClock;
  #closed = false;

  private constructor(options: SqliteStoreOptions, db: DatabaseSync, durability: DurabilityReport) {
    this.path = options.path;
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
    this.#leaseClock = leaseClockFor(options.clock);
    this.#durability = durability;
    const access: SqliteAccess = {
      run: (doing, work) => this.#run(doing, work),
      tx: (doing, work) => this.#tx(doing, work),
      stmt: (text) => this.#stmt(text),
      nowMs: () => this.#clock.nowMs(),
      insertSession: (session, now) => this.#insertSession(session, now),
    };
    this.#appends = new SqliteAppendBatch({
      ...access,
      exec: (text) => this.#db.exec(text),
      rollback: () => this.#rollbackQuietly(),
      fenced: (fence) => this.#fenced(fence),
    });
    this.apiKeys = new SqliteApiKeys(access);
    this.blobs = new SqliteBlobStore(access);
    this.schedules = new SqliteSchedules(access);
  }

  /** Opens (creating if needed) the database file, enforces durability and migrates the schema. */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new LongrunError(
        'INVALID_ARGUMENT',
        'SQLite store needs a file path, e.g. ./.longrun/longrun.db',
      );
    }
    let db: DatabaseSync;
    try {
      if (options.path !== ':memory:') mkdirSync(dirname(options.path), { recursive: true });
      db = new DatabaseSync(options.path, { timeout: options.busyTimeoutMs ?? 5000 });
    } catch (error) {
      throw new LongrunError(
        'STORE_UNAVAILABLE',
        `cannot open SQLite database ${options.path}: ${(error as Error).message}. Check that its directory exists and this process may write it.`,
        { cause: error, retryable: false },
      );
    }
    try {
      const durability = applyDurability(db, options);
      const store = new SqliteStore(options, db, durability);
      await store.migrate();
      return store;
    } catch (error) {
      db.close();
      throw translateSqliteError(error, `opening SQLite database ${options.path}`);
    }
  }

  async migrate(): Promise<void> {
    this.#run('migrating the schema', () => migrateSqlite(this.#db, this.#clock.nowMs()));
  }

  durability(): DurabilityReport {
    return this.#durability;
  }

  async nowMs(): Promise<number> {
    return this.#clock.nowMs();
  }

  async ping(): Promise<void> {
    this.#run('checking the store', () => this.#stmt('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#appends.flush();
    this.#closed = true;
    this.#db.close();
  }

  /** Runs a SQLite integrity check; returns the problems found (empty when healthy). */
  integrityCheck(): string[] {
    const rows = this.#db.prepare('PRAGMA integrity_check').all() as { integrity_check: string }[];
    return rows.map((r) => r.integrity_check).filter((r) => r !== 'ok');
  }

  /** Bytes the database occupies after its WAL is checkpointed into the main file. */
  sizeBytes(): number {
    this.#db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
    const row = this.#db
      .prepare('SELECT page_count * page_size AS bytes FROM pragma_page_count, pragma_page_size')
      .get();
    return (row as { bytes: number }).bytes;
  }

  async createSession(input: CreateSessionInput): Promise<SessionRecord> {
    const { id, tenantId, agent, data, idempotency } = encodeCreateSession(input);
    return this.#tx('creating a session', () => {
      const now = this.#clock.nowMs();
      if (idempotency !== null) {
        const earlier = this.#stmt(sql.findIdempotencyKey).get(tenantId, idempotency.key);
        if (earlier !== undefined) {
          if (earlier.request_hash !== idempotency.requestHash) {
            throw idempotencyConflict(idempotency.key);
          }
          return this.#session(toSessionId(earlier.session_id));
        }
        this.#stmt(sql.insertIdempotencyKey).run(
          tenantId,
          idempotency.key,
          idempotency.requestHash,
          id,
          now,
        );
      }
      return this.#insertSession({ id, tenantId, agent, data }, now);
    });
  }

  async getSession(id: SessionId): Promise<SessionRecord> {
    const checked = toSessionId(id);
    return this.#run('reading a session', () => this.#session(checked));
  }

  async getSessions(ids: readonly SessionId[]): Promise<SessionRecord[]> {
    const checked = checkSessionIds(ids);
    if (checked.length === 0) return [];
    return this.#run('reading sessions', () =>
      this.#stmt(sql.getSessions)
        .all(JSON.stringify(checked))
        .map((row) => toSession(row)),
    );
  }

  async listSessions(query: ListSessionsQuery = {}): Promise<SessionRecord[]> {
    const q = checkListQuery(query);
    return this.#run('listing sessions', () =>
      this.#stmt(q.newestFirst ? sql.listSessionsNewest : sql.listSessions)
        .all(q.status, q.tenantId, q.agent, q.afterId, q.limit, q.waitingForPrefix)
        .map((row) => toSession(row)),
    );
  }

  async readEvents(id: SessionId, afterSeq = 0, limit = 10_000): Promise<StoredEvent[]> {
    const checked = toSessionId(id);
    checkCount('afterSeq', afterSeq);
    checkCount('limit', limit, 1);
    return this.#run('reading events', () =>
      this.#stmt(sql.readEvents).all(checked, afterSeq, limit).map(toEvent),
    );
  }

  async latestCheckpoint(id: SessionId): Promise<Checkpoint | null> {
    const checked = toSessionId(id);
    return this.#run('reading a checkpoint', () => {
      const row = this.#stmt(sql.readCheckpoint).get(checked);
      return row === undefined ? null : toCheckpoint(row);
    });
  }

  async listEffects(id: SessionId): Promise<EffectRecord[]> {
    const checked = toSessionId(id);
    return this.#run('reading effect records', () =>
      this.#stmt(sql.listEffects).all(checked).map(toEffect),
    );
  }

  async pendingSignals(id: SessionId, name: string): Promise<Signal[]> {
    const checked = toSessionId(id);
    checkName('signal name', name);
    return this.#run('reading signals', () =>
      this.#stmt(sql.pendingSignals).all(checked, name).map(toSignal),
    );
  }

  // An async function runs synchronously up to its first await: the append is queued during the
  // call, so appends issued one after another keep their order in the batch.
  async append(request: AppendRequest): Promise<AppendResult> {
    const encoded = encodeAppend(request);
    if (this.#closed) throw new LongrunError('STORE_UNAVAILABLE', 'the SQLite store is closed');
    return this.#appends.enqueue(request, encoded);
  }

  async saveCheckpoint(
    fence: LeaseFence,
    checkpoint: { seq: number; state: JsonValue },
  ): Promise<void> {
    const f = checkFence(fence);
    const seq = checkCount('checkpoint.seq', checkpoint.seq, 1);
    const state = encodePayload(checkpoint.state, 'checkpoint.state');
    this.#tx('saving a checkpoint', () => {
      const session = this.#fenced(f);
      if (seq > session.headSeq) {
        throw new LongrunError(
          'INVALID_ARGUMENT',
          `checkpoint seq ${seq} is past the session's head seq ${session.headSeq}`,
        );
      }
      this.#stmt(sql.upsertCheckpoint).run(f.sessionId, seq, state, this.#clock.nowMs());
    });
  }

  /**
   * A restarted process reclaims its own sessions at once, so a worker id may be held by one
   * live process only (WorkerLock); a second is refused with INVALID_STATE.
   */
  async registerWorker(workerId: WorkerId): Promise<WorkerRegistration> {
    const id = toWorkerId(workerId);
    const lock = this.path === ':memory:' ? null : WorkerLock.take(this.path, id);
    return {
      workerId: id,
      assuredUntil: () => Number.POSITIVE_INFINITY,
      close: async () => lock?.release(),
    };
  }

  async claimNext(owner: WorkerId, leaseMs: number, filter?: ClaimFilter): Promise<Lease | null> {
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    const agents = agentsParam(filter);
    return this.#tx('claiming a session', () => {
      const now = this.#clock.nowMs();
      const row = this.#stmt(sql.nextClaimable).get(now, now, ...this.#leaseNow(), agents);
      return row === undefined ? null : this.#claimRow(row.id as string, o, leaseMs, now);
    });
  }

  async claim(id: SessionId, owner: WorkerId, leaseMs: number): Promise<Lease | null> {
    const checked = toSessionId(id);
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    return this.#tx('claiming a session', () => {
      const now = this.#clock.nowMs();
      const row = this.#stmt(sql.claimableById).get(now, now, ...this.#leaseNow(), checked);
      return row === undefined ? null : this.#claimRow(checked, o, leaseMs, now);
    });
  }

  async reclaimOwned(owner: WorkerId, leaseMs: number, filter?: ClaimFilter): Promise<Lease[]> {
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    const agents = agentsParam(filter);
    return this.#tx('reclaiming sessions', () => {
      const now = this.#clock.nowMs();
      return this.#stmt(sql.ownedUnfinished)
        .all(o, agents)
        .map((row) => this.#claimRow(row.id as string, o, leaseMs, now));
    });
  }

  async renewLease(fence: LeaseFence, leaseMs: number): Promise<Lease> {
    const f = checkFence(fence);
    checkLeaseMs(leaseMs);
    return this.#tx('renewing a lease', () => {
      const now = this.#clock.nowMs();
      const [boot, leaseNow] = this.#leaseNow();
      const done = this.#stmt(sql.renewLease).run(
        now + leaseMs,
        now,
        f.sessionId,
        f.epoch,
        f.owner,
        boot,
        leaseNow + leaseMs,
      );
      if (done.changes === 0) this.#fenced(f);
      const s = this.#session(f.sessionId);
      return { ...f, expiresAtMs: now + leaseMs, headSeq: s.headSeq };
    });
  }

  async releaseLease(fence: LeaseFence): Promise<void> {
    const f = checkFence(fence);
    this.#tx('releasing a lease', () => {
      this.#stmt(sql.releaseLease).run(this.#clock.nowMs(), f.sessionId, f.epoch, f.owner);
    });
  }

  async sendSignal(
    id: SessionId,
    name: string,
    payload: JsonValue,
    options: { wake?: SignalWake } = {},
  ): Promise<Signal> {
    const checked = toSessionId(id);
    checkName('signal name', name);
    const wake = checkWake(options.wake);
    const encoded = encodePayload(payload, 'signal payload');
    return this.#tx('sending a signal', () => {
      const now = this.#clock.nowMs();
      this.#session(checked);
      const signalId = `sig_${randomUUID().replaceAll('-', '')}`;
      this.#stmt(sql.insertSignal).run(signalId, checked, name, encoded, now);
      this.#stmt(sql.wakeForSignal).run(now, checked, name, wake);
      return { id: signalId, sessionId: checked, name, payload, createdAtMs: now };
    });
  }

  // ---- internals ----

  /** The lease clock's boot and time, as the claim rule and lease writes take them. */
  #leaseNow(): [string, number] {
    return [this.#leaseClock.bootId, this.#leaseClock.nowMs()];
  }

  #insertSession(
    { id, tenantId, agent, data }: Omit<EncodedCreateSession, 'idempotency'>,
    now: number,
  ): SessionRecord {
    const inserted = this.#stmt(sql.insertSession).run(id, tenantId, agent, now, now);
    if (inserted.changes === 0) {
      throw new LongrunError(
        'INVALID_STATE',
        `session ${id} already exists; create it without an id or pick another`,
      );
    }
    this.#stmt(sql.insertEvent).run(id, 1, 'session.created', 1, data, now, 0);
    return this.#session(id);
  }

  #claimRow(id: string, owner: WorkerId, leaseMs: number, now: number): Lease {
    const [boot, leaseNow] = this.#leaseNow();
    const row = this.#stmt(sql.claim).get(
      owner,
      now + leaseMs,
      now,
      id,
      boot,
      leaseNow + leaseMs,
    ) as Record<string, number>;
    return {
      sessionId: toSessionId(id),
      owner,
      epoch: row.lease_epoch as number,
      expiresAtMs: now + leaseMs,
      headSeq: row.head_seq as number,
    };
  }

  /** Throws NOT_FOUND or LEASE_LOST unless the fence is current; returns the session. */
  #fenced(fence: LeaseFence): SessionRecord {
    const session = this.#session(fence.sessionId);
    if (session.leaseEpoch !== fence.epoch || session.leaseOwner !== fence.owner) {
      throw new LongrunError(
        'LEASE_LOST',
        `lease epoch ${fence.epoch} of ${fence.owner} on session ${fence.sessionId} is stale (now epoch ${session.leaseEpoch}, owner ${session.leaseOwner ?? 'none'}); stop working on it`,
      );
    }
    return session;
  }

  #session(id: SessionId): SessionRecord {
    const row = this.#stmt(sql.getSession).get(id);
    if (row === undefined) throw new LongrunError('NOT_FOUND', `session ${id} does not exist`);
    return toSession(row);
  }

  #stmt(text: string): StatementSync {
    let statement = this.#statements.get(text);
    if (statement === undefined) {
      statement = this.#db.prepare(text);
      this.#statements.set(text, statement);
    }
    return statement;
  }

  #run<T>(doing: string, work: () => T): T {
    if (this.#closed) throw new LongrunError('STORE_UNAVAILABLE', 'the SQLite store is closed');
    try {
      return work();
    } catch (error) {
      throw translateSqliteError(error, doing);
    }
  }

  #tx<T>(doing: string, work: () => T): T {
    return this.#run(doing, () => {
      this.#appends.flush();
      this.#db.exec('BEGIN IMMEDIATE');
      try {
        const result = work();
        this.#db.exec('COMMIT');
        return result;
      } catch (error) {
        this.#rollbackQuietly();
        throw error;
      }
    });
  }

  #rollbackQuietly(): void {
    if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
  }
}
