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
  effectiveStatus,
  encodeAppend,
  encodePayload,
  newSessionId,
  sessionId as toSessionId,
  systemClock,
  workerId as toWorkerId,
  type AppendRequest,
  type AppendResult,
  type Checkpoint,
  type Clock,
  type CreateSessionInput,
  type DurabilityReport,
  type EffectRecord,
  type EncodedAppend,
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
import { sql } from './sql.ts';
import { applyDurability, type SqliteDurabilityOptions } from './durability.ts';

export interface SqliteStoreOptions extends SqliteDurabilityOptions {
  /** Path of the database file; its directory is created if missing. */
  path: string;
  /** Time for lease expiry and timers. SQLite has no clock of its own: it is this process's. */
  clock?: Clock;
  /** How long a write waits for another process's lock before it fails, in milliseconds. */
  busyTimeoutMs?: number;
}

interface PendingAppend {
  request: AppendRequest;
  encoded: EncodedAppend;
  resolve: (result: AppendResult) => void;
  reject: (error: unknown) => void;
}

/**
 * The embedded session store: one SQLite file, WAL, every commit fsync'd (synchronous=FULL).
 *
 * Appends are group-committed: appends issued before the event loop's next check phase (typically
 * by many sessions of one worker) share one transaction and one fsync, each inside its own savepoint
 * so that one stale fence rolls back only its own writes. Each is acknowledged after the commit.
 */
export class SqliteStore implements SessionStore {
  readonly kind = 'sqlite';
  readonly capabilities = { connectionScopedLiveness: false, multiHost: false };
  readonly path: string;
  readonly #db: DatabaseSync;
  readonly #clock: Clock;
  readonly #durability: DurabilityReport;
  readonly #statements = new Map<string, StatementSync>();
  #pending: PendingAppend[] = [];
  #closed = false;

  private constructor(options: SqliteStoreOptions, db: DatabaseSync, durability: DurabilityReport) {
    this.path = options.path;
    this.#db = db;
    this.#clock = options.clock ?? systemClock;
    this.#durability = durability;
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

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
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
    const id = input.id === undefined ? newSessionId() : toSessionId(input.id);
    const agent = checkName('agent', input.agent);
    const data = encodePayload({ agent, input: input.input }, 'session input');
    return this.#tx('creating a session', () => {
      const now = this.#clock.nowMs();
      const inserted = this.#stmt(sql.insertSession).run(id, agent, now, now);
      if (inserted.changes === 0) {
        throw new LongrunError(
          'INVALID_STATE',
          `session ${id} already exists; create it without an id or pick another`,
        );
      }
      this.#stmt(sql.insertEvent).run(id, 1, 'session.created', 1, data, now, 0);
      return this.#session(id);
    });
  }

  async getSession(id: SessionId): Promise<SessionRecord> {
    const checked = toSessionId(id);
    return this.#run('reading a session', () => this.#session(checked));
  }

  async listSessions(query: ListSessionsQuery = {}): Promise<SessionRecord[]> {
    const limit = Math.min(checkCount('limit', query.limit ?? 100, 1), 1000);
    const after = query.afterId === undefined ? null : toSessionId(query.afterId);
    return this.#run('listing sessions', () =>
      this.#stmt(sql.listSessions)
        .all(query.status ?? null, after, after, limit)
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
    return new Promise((resolve, reject) => {
      this.#pending.push({ request, encoded, resolve, reject });
      if (this.#pending.length === 1) setImmediate(() => this.#flush());
    });
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

  async registerWorker(workerId: WorkerId): Promise<WorkerRegistration> {
    // One process owns an embedded SQLite file; a restarted process reclaims its own sessions.
    return { workerId: toWorkerId(workerId), close: async () => {} };
  }

  async claimNext(owner: WorkerId, leaseMs: number): Promise<Lease | null> {
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    return this.#tx('claiming a session', () => {
      const now = this.#clock.nowMs();
      const row = this.#stmt(sql.nextClaimable).get(now, now);
      return row === undefined ? null : this.#claimRow(row.id as string, o, leaseMs, now);
    });
  }

  async claim(id: SessionId, owner: WorkerId, leaseMs: number): Promise<Lease | null> {
    const checked = toSessionId(id);
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    return this.#tx('claiming a session', () => {
      const now = this.#clock.nowMs();
      const row = this.#stmt(sql.claimableById).get(now, now, checked);
      return row === undefined ? null : this.#claimRow(checked, o, leaseMs, now);
    });
  }

  async reclaimOwned(owner: WorkerId, leaseMs: number): Promise<Lease[]> {
    const o = toWorkerId(owner);
    checkLeaseMs(leaseMs);
    return this.#tx('reclaiming sessions', () => {
      const now = this.#clock.nowMs();
      return this.#stmt(sql.ownedUnfinished)
        .all(o)
        .map((row) => this.#claimRow(row.id as string, o, leaseMs, now));
    });
  }

  async renewLease(fence: LeaseFence, leaseMs: number): Promise<Lease> {
    const f = checkFence(fence);
    checkLeaseMs(leaseMs);
    return this.#tx('renewing a lease', () => {
      const now = this.#clock.nowMs();
      const done = this.#stmt(sql.renewLease).run(
        now + leaseMs,
        now,
        f.sessionId,
        f.epoch,
        f.owner,
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

  #flush(): void {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    const outcomes: (AppendResult | AppendFailure)[] = [];
    try {
      this.#db.exec('BEGIN IMMEDIATE');
      for (const item of batch) {
        this.#db.exec('SAVEPOINT append');
        try {
          outcomes.push(
            this.#applyAppend(item.request.fence, item.request.expectedSeq, item.encoded),
          );
          this.#db.exec('RELEASE append');
        } catch (error) {
          this.#db.exec('ROLLBACK TO append');
          this.#db.exec('RELEASE append');
          outcomes.push(new AppendFailure(error));
        }
      }
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#rollbackQuietly();
      const failure = translateSqliteError(error, 'appending events');
      for (const item of batch) item.reject(failure);
      return;
    }
    batch.forEach((item, i) => {
      const outcome = outcomes[i];
      if (outcome instanceof AppendFailure)
        item.reject(translateSqliteError(outcome.error, 'appending events'));
      else item.resolve(outcome as AppendResult);
    });
  }

  #applyAppend(fence: LeaseFence, expectedSeq: number, a: EncodedAppend): AppendResult {
    const now = this.#clock.nowMs();
    const moved = this.#stmt(sql.advanceHead).run(
      a.newHeadSeq,
      now,
      fence.sessionId,
      fence.epoch,
      fence.owner,
      expectedSeq,
    );
    if (moved.changes === 0) {
      const session = this.#fenced(fence);
      throw new LongrunError(
        'SEQ_CONFLICT',
        `session ${fence.sessionId} is at seq ${session.headSeq}, not ${expectedSeq}; re-read the log and decide again`,
        { details: { headSeq: session.headSeq } },
      );
    }
    a.events.forEach((e, i) => {
      this.#stmt(sql.insertEvent).run(
        fence.sessionId,
        expectedSeq + 1 + i,
        e.type,
        e.v,
        e.data,
        now,
        fence.epoch,
      );
    });
    for (const e of a.effects) {
      this.#stmt(sql.upsertEffect).run(
        fence.sessionId,
        e.step,
        e.callIndex,
        e.tool,
        e.effect,
        e.idempotencyKey,
        e.status,
        now,
      );
    }
    if (a.checkpoint)
      this.#stmt(sql.upsertCheckpoint).run(
        fence.sessionId,
        a.checkpoint.seq,
        a.checkpoint.state,
        now,
      );
    for (const signalId of a.consumeSignals) {
      if (this.#stmt(sql.consumeSignal).run(now, signalId, fence.sessionId).changes === 0) {
        throw new LongrunError(
          'INVALID_STATE',
          `signal ${signalId} is not pending for session ${fence.sessionId}`,
        );
      }
    }
    if (a.status) {
      const pending =
        a.status.waitingFor != null &&
        this.#stmt(sql.pendingSignals).get(fence.sessionId, a.status.waitingFor) !== undefined;
      const s = effectiveStatus(a.status, pending);
      this.#stmt(sql.setStatus).run(
        s.status,
        s.reason ?? null,
        s.wakeAtMs ?? null,
        s.waitingFor ?? null,
        fence.sessionId,
      );
    }
    if (a.releaseLease)
      this.#stmt(sql.releaseLease).run(now, fence.sessionId, fence.epoch, fence.owner);
    return { headSeq: a.newHeadSeq, atMs: now };
  }

  #claimRow(id: string, owner: WorkerId, leaseMs: number, now: number): Lease {
    const row = this.#stmt(sql.claim).get(owner, now + leaseMs, now, id) as Record<string, number>;
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
      this.#flush();
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

class AppendFailure {
  readonly error: unknown;
  constructor(error: unknown) {
    this.error = error;
  }
}
