import { randomUUID } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import {
  LongrunError,
  checkCount,
  checkFence,
  checkLeaseMs,
  checkName,
  checkWake,
  checkListQuery,
  checkSessionIds,
  encodeCheckpoint,
  replySpinMs,
  encodePayload,
  encodeAppend,
  encodeCreateSession,
  effectiveStatus,
  idempotencyConflict,
  sessionId as toSessionId,
  systemClock,
  workerId as toWorkerId,
  type AppendCommits,
  type AppendRequest,
  type AppendResult,
  type Checkpoint,
  type CheckpointWrite,
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
  type StatusChange,
  type StoredEvent,
  type WorkerId,
  type WorkerRegistration,
} from '@longrun/core';
import { toCheckpoint, toEffect, toEvent, toSession, toSessionCounts, toSignal } from './rows.ts';
import { translateSqliteError } from './translate-error.ts';
import { sql } from './sql.ts';
import { agentsParam } from './claim-filter.ts';
import type { SqliteDurabilityOptions } from './durability.ts';
import type { SqliteAccess } from './sqlite-access.ts';
import { SqliteApiKeys } from './sqlite-api-keys.ts';
import { SqliteBlobStore } from './sqlite-blob-store.ts';
import { SqliteSchedules } from './sqlite-schedules.ts';
import type { LeaseReading } from './sqlite-session-writes.ts';
import type { WriteArgs, WriteName, WriteResult } from './sqlite-writes.ts';
import {
  InlineWriter,
  ThreadWriter,
  type CommittingOn,
  type SqliteWriter,
} from './sqlite-writer.ts';
import { openWriterConnection } from './writer-connection.ts';
import { sessionMissing, statementCache, type WriterDb } from './writer-db.ts';
import type { WriterOptions } from './writer-protocol.ts';
import { SqliteWebhooks } from './sqlite-webhooks.ts';
import { SqliteTenantSpend } from './sqlite-tenant-spend.ts';
import { WorkerLock } from './worker-lock.ts';
import { leaseClockFor, type LeaseClock } from './lease-clock.ts';
import { FileStorageReserve } from './storage-reserve.ts';

export interface SqliteStoreOptions extends SqliteDurabilityOptions {
  /** Path of the database file; its directory is created if missing. */
  path: string;
  /** Time for lease expiry and timers. SQLite has no clock of its own: it is this process's. */
  clock?: Clock;
  /** How long a write waits for another process's lock before it fails, in milliseconds. */
  busyTimeoutMs?: number;
  /**
   * For how long after a write the event loop is kept awake for its answer, in milliseconds
   * (core's ReplySpin): 0 to 100, 0 turns it off. Default: `LONGRUN_REPLY_SPIN_MS`, else 1.
   */
  replySpinMs?: number;
}

/**
 * The embedded session store: one SQLite file, WAL, every commit fsync'd (synchronous=FULL).
 * Every write goes to the writer thread (sqlite-writer.ts), which owns the connection that writes
 * and group-commits what queued up during its last commit (group-commit.ts), so commits and
 * fsyncs never block this thread's event loop. Reads run here, on the store's own connection:
 * WAL lets them proceed beside the writer, and a write is answered only after its commit, so a
 * read made after a write resolved sees it. (An in-memory database, which no second connection
 * can see, commits on its one connection here instead.)
 */
export class SqliteStore implements SessionStore {
  readonly kind = 'sqlite';
  readonly capabilities = { connectionScopedLiveness: false, multiHost: false };
  readonly path: string;
  readonly apiKeys: SqliteApiKeys;
  readonly blobs: SqliteBlobStore;
  readonly schedules: SqliteSchedules;
  readonly webhooks: SqliteWebhooks;
  readonly tenantSpend: SqliteTenantSpend;
  /** Room for the writes that park sessions when the disk fills (none for an in-memory store). */
  readonly storageReserve?: FileStorageReserve;
  readonly #db: DatabaseSync;
  readonly #reads: WriterDb;
  readonly #writer: SqliteWriter;
  readonly #clock: Clock;
  readonly #durability: DurabilityReport;
  readonly #leaseClock: LeaseClock;
  #closed = false;

  private constructor(
    options: SqliteStoreOptions,
    reader: DatabaseSync,
    writer: SqliteWriter,
    durability: DurabilityReport,
  ) {
    this.path = options.path;
    this.#db = reader;
    this.#reads = statementCache(reader);
    this.#writer = writer;
    this.#clock = options.clock ?? systemClock;
    this.#leaseClock = leaseClockFor(options.clock);
    this.#durability = durability;
    const access: SqliteAccess = {
      run: (doing, work) => this.#run(doing, work),
      stmt: (text) => this.#reads.stmt(text),
      write: (name, args) => this.#write(name, args),
      nowMs: () => this.#clock.nowMs(),
    };
    this.apiKeys = new SqliteApiKeys(access);
    this.blobs = new SqliteBlobStore(access);
    this.schedules = new SqliteSchedules(access);
    this.webhooks = new SqliteWebhooks(access);
    this.tenantSpend = new SqliteTenantSpend(access);
    if (options.path !== ':memory:') {
      this.storageReserve = new FileStorageReserve(options.path);
      this.storageReserve.restore();
    }
  }

  /**
   * Opens (creating if needed) the database file, enforces durability, migrates the schema and
   * starts the writer thread (writes made before it is ready are committed here).
   */
  static async open(options: SqliteStoreOptions): Promise<SqliteStore> {
    if (typeof options?.path !== 'string' || options.path.length === 0) {
      throw new LongrunError(
        'INVALID_ARGUMENT',
        'SQLite store needs a file path, e.g. ./.longrun/longrun.db',
      );
    }
    const spinMs = replySpinMs(options.replySpinMs);
    const writerOptions: WriterOptions = {
      path: options.path,
      busyTimeoutMs: options.busyTimeoutMs ?? 5000,
      nowMs: (options.clock ?? systemClock).nowMs(),
      ...(options.allowUnsafeDurability === undefined
        ? {}
        : { allowUnsafeDurability: options.allowUnsafeDurability }),
    };
    let opened: ReturnType<typeof openWriterConnection>;
    try {
      opened = openWriterConnection(writerOptions, { migrate: true });
    } catch (error) {
      throw translateSqliteError(error, `opening SQLite database ${options.path}`);
    }
    const { connection, durability } = opened;
    const writer =
      options.path === ':memory:'
        ? new InlineWriter(connection)
        : new ThreadWriter(writerOptions, connection, spinMs);
    return new SqliteStore(options, connection, writer, durability);
  }

  async migrate(): Promise<void> {
    return this.#write('migrate', { nowMs: this.#clock.nowMs() });
  }

  durability(): DurabilityReport {
    return this.#durability;
  }

  async nowMs(): Promise<number> {
    return this.#clock.nowMs();
  }

  /**
   * Where commits and their fsyncs run, once that is settled: `writer-thread` (the event loop
   * never waits for a commit) or `event-loop` (an in-memory database, or no thread could start,
   * e.g. under Node's permission model without --allow-worker). The writes made while the thread
   * starts (tens of milliseconds after open) are committed on the event loop; a process for which
   * no commit may stall the loop (a slow disk) awaits this before it serves.
   */
  async committingOn(): Promise<CommittingOn> {
    return this.#writer.committingOn();
  }

  /**
   * Appends committed since the store opened, and the commits (each one fsync) that carried
   * them.
   */
  appendCommits(): AppendCommits {
    return this.#writer.appendCommits();
  }

  async ping(): Promise<void> {
    this.#run('checking the store', () => this.#reads.stmt('SELECT 1').get());
  }

  /** Commits every write already made (each is acknowledged), ends the writer thread, closes. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writer.close();
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
    const encoded = encodeCreateSession(input);
    const { heldBy } = encoded;
    const created = await this.#write('createSession', {
      ...encoded,
      nowMs: this.#clock.nowMs(),
      held: heldBy === null ? null : this.#claimTimes(heldBy.owner, heldBy.leaseMs),
    });
    if ('idempotencyConflict' in created) {
      throw idempotencyConflict(encoded.idempotency?.key ?? '');
    }
    return toSession(created.row);
  }

  async getSession(id: SessionId): Promise<SessionRecord> {
    const checked = toSessionId(id);
    return this.#run('reading a session', () => {
      const row = this.#reads.stmt(sql.getSession).get(checked);
      if (row === undefined) throw new LongrunError('NOT_FOUND', sessionMissing(checked));
      return toSession(row);
    });
  }

  async getSessions(ids: readonly SessionId[]): Promise<SessionRecord[]> {
    const checked = checkSessionIds(ids);
    if (checked.length === 0) return [];
    return this.#run('reading sessions', () =>
      this.#reads
        .stmt(sql.getSessions)
        .all(JSON.stringify(checked))
        .map((row) => toSession(row)),
    );
  }

  async listSessions(query: ListSessionsQuery = {}): Promise<SessionRecord[]> {
    const q = checkListQuery(query);
    return this.#run('listing sessions', () =>
      this.#reads
        .stmt(q.newestFirst ? sql.listSessionsNewest : sql.listSessions)
        .all(q.status, q.tenantId, q.agent, q.afterId, q.limit, q.waitingForPrefix)
        .map((row) => toSession(row)),
    );
  }

  async countSessions(): Promise<SessionCounts> {
    const nowMs = this.#clock.nowMs();
    return this.#run('counting sessions', () =>
      toSessionCounts(this.#reads.stmt(sql.countSessions).all(nowMs)),
    );
  }

  async readEvents(id: SessionId, afterSeq = 0, limit = 10_000): Promise<StoredEvent[]> {
    const checked = toSessionId(id);
    checkCount('afterSeq', afterSeq);
    checkCount('limit', limit, 1);
    return this.#run('reading events', () =>
      this.#reads.stmt(sql.readEvents).all(checked, afterSeq, limit).map(toEvent),
    );
  }

  async latestCheckpoint(id: SessionId): Promise<Checkpoint | null> {
    const checked = toSessionId(id);
    return this.#run('reading a checkpoint', () => {
      const rows = this.#reads.stmt(sql.readCheckpoint).all(checked);
      return toCheckpoint(checked, rows);
    });
  }

  async listEffects(id: SessionId): Promise<EffectRecord[]> {
    const checked = toSessionId(id);
    return this.#run('reading effect records', () =>
      this.#reads.stmt(sql.listEffects).all(checked).map(toEffect),
    );
  }

  async pendingSignals(id: SessionId, name: string): Promise<Signal[]> {
    const checked = toSessionId(id);
    checkName('signal name', name);
    return this.#run('reading signals', () =>
      this.#reads.stmt(sql.pendingSignals).all(checked, name).map(toSignal),
    );
  }

  // An async function runs synchronously up to its first await: the append is sent to the writer
  // during the call, so appends issued one after another keep their order.
  async append(request: AppendRequest): Promise<AppendResult> {
    const { status, ...encoded } = encodeAppend(request);
    return this.#write('append', {
      fence: plainFence(request.fence),
      expectedSeq: request.expectedSeq,
      encoded,
      status: status && {
        ifNotPending: plainStatus(status),
        ifPending: plainStatus(effectiveStatus(status, true)),
      },
      nowMs: this.#clock.nowMs(),
    });
  }

  async saveCheckpoint(fence: LeaseFence, checkpoint: CheckpointWrite): Promise<void> {
    const f = checkFence(fence);
    // The head is checked by the writer, in the transaction that writes it.
    const encoded = encodeCheckpoint(checkpoint, Number.MAX_SAFE_INTEGER);
    return this.#write('saveCheckpoint', {
      fence: plainFence(f),
      checkpoint: encoded,
      nowMs: this.#clock.nowMs(),
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
    return this.#write('claimNext', {
      ...this.#claimTimes(o, leaseMs),
      agents: agentsParam(filter),
    });
  }

  async claim(id: SessionId, owner: WorkerId, leaseMs: number): Promise<Lease | null> {
    const checked = toSessionId(id);
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    return this.#write('claim', { ...this.#claimTimes(o, leaseMs), id: checked });
  }

  async reclaimOwned(owner: WorkerId, leaseMs: number, filter?: ClaimFilter): Promise<Lease[]> {
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    return this.#write('reclaimOwned', {
      ...this.#claimTimes(o, leaseMs),
      agents: agentsParam(filter),
    });
  }

  async renewLease(fence: LeaseFence, leaseMs: number): Promise<Lease> {
    const f = checkFence(fence);
    checkLeaseMs(leaseMs);
    return this.#write('renewLease', {
      fence: plainFence(f),
      leaseMs,
      nowMs: this.#clock.nowMs(),
      lease: this.#leaseNow(),
    });
  }

  async releaseLease(fence: LeaseFence): Promise<void> {
    const f = checkFence(fence);
    return this.#write('releaseLease', { fence: plainFence(f), nowMs: this.#clock.nowMs() });
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
    const now = this.#clock.nowMs();
    await this.#write('sendSignal', {
      signalId,
      sessionId: checked,
      name,
      payload: encoded,
      wake,
      once: options.once === true,
      nowMs: now,
    });
    return { id: signalId, sessionId: checked, name, payload, createdAtMs: now };
  }

  // ---- internals ----

  /** The lease clock's boot and time, as the claim rule and lease writes take them. */
  #leaseNow(): LeaseReading {
    return { bootId: this.#leaseClock.bootId, nowMs: this.#leaseClock.nowMs() };
  }

  #claimTimes(owner: WorkerId, leaseMs: number) {
    return { owner, leaseMs, nowMs: this.#clock.nowMs(), lease: this.#leaseNow() };
  }

  #write<K extends WriteName>(name: K, args: WriteArgs<K>): Promise<WriteResult<K>> {
    if (this.#closed) {
      return Promise.reject(new LongrunError('STORE_UNAVAILABLE', 'the SQLite store is closed'));
    }
    return this.#writer.write(name, args);
  }

  #run<T>(doing: string, work: () => T): T {
    if (this.#closed) throw new LongrunError('STORE_UNAVAILABLE', 'the SQLite store is closed');
    try {
      return work();
    } catch (error) {
      throw translateSqliteError(error, doing);
    }
  }
}

/** The fence's fields only: the caller's object (a Lease, say) may hold more. */
function plainFence(f: LeaseFence): LeaseFence {
  return { sessionId: f.sessionId, owner: f.owner, epoch: f.epoch };
}

/** The status change's fields only, as plain data for the writer thread. */
function plainStatus(change: StatusChange): StatusChange {
  const { status, reason, wakeAtMs, waitingFor } = change;
  return { status, reason, wakeAtMs, waitingFor };
}
