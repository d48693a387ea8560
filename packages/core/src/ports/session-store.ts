import type { Budget } from '../budget/budget-spec.ts';
import type { AppendCommits } from '../append-commits.ts';
import type { TenantSpendStore } from './tenant-spend-store.ts';
import type { LiveChannel } from './live-channel.ts';
import type {
  BudgetSetter,
  EffectClass,
  NewEvent,
  ScheduleRef,
  SessionParent,
  StoredEvent,
} from '../events.ts';
import type { SessionId, WorkerId } from '../ids.ts';
import type { JsonValue } from '../json.ts';
import type { ApiKeyStore } from './api-key-store.ts';
import type { BlobStore } from './blob-store.ts';
import type { ScheduleStore } from './schedule-store.ts';
import type { WebhookStore } from './webhook-store.ts';

/** Where a session stands. Whether a worker holds it is the lease's business, not the status's. */
export type SessionStatus =
  'queued' | 'running' | 'waiting' | 'paused' | 'completed' | 'failed' | 'cancelled';

export const terminalStatuses: readonly SessionStatus[] = ['completed', 'failed', 'cancelled'];

/** Sessions by status over every tenant, as `countSessions` reads them (aggregate counts only). */
export interface SessionCounts {
  byStatus: Record<SessionStatus, number>;
  /** Of the `waiting` sessions, those whose timer is due (claimable now, by the store's clock). */
  dueWaits: number;
}

export interface SessionRecord {
  id: SessionId;
  /** Every query by an API caller is scoped to its tenant; `default` without one. */
  tenantId: string;
  agent: string;
  status: SessionStatus;
  /** Why the session is paused, failed or waiting, in words a person can act on. */
  statusReason: string | null;
  /** Seq of the last committed event. */
  headSeq: number;
  leaseOwner: WorkerId | null;
  /** Incremented on every claim; 0 before the first. */
  leaseEpoch: number;
  leaseExpiresAtMs: number | null;
  /** A waiting session becomes claimable at this time (timer waits). */
  wakeAtMs: number | null;
  /** The signal name a waiting session waits for. */
  waitingFor: string | null;
  createdAtMs: number;
  /** The last change of status or lease holder (not of the log: see the last event's `atMs`). */
  updatedAtMs: number;
}

/** What a writer proves it holds. Every write by a worker carries it and is rejected if stale. */
export interface LeaseFence {
  sessionId: SessionId;
  owner: WorkerId;
  epoch: number;
}

export interface Lease extends LeaseFence {
  expiresAtMs: number;
  /** The session's head seq at claim time. */
  headSeq: number;
}

export type EffectStatus = 'started' | 'completed' | 'unknown';

/** The record of one tool call's side effect, keyed by (session, step, call index). */
export interface EffectRecord {
  sessionId: SessionId;
  step: number;
  callIndex: number;
  tool: string;
  effect: EffectClass;
  idempotencyKey: string;
  status: EffectStatus;
  /** Times the call was started; more than 1 means a resumed step re-ran it. */
  attempts: number;
  updatedAtMs: number;
}

/**
 * A change to an effect record, committed with the append that carries it. `started` inserts the
 * record, or counts one more attempt of an existing one; `completed` and `unknown` settle it.
 */
export interface EffectChange {
  step: number;
  callIndex: number;
  tool: string;
  effect: EffectClass;
  idempotencyKey: string;
  status: EffectStatus;
}

/** A status change committed with an append. */
export interface StatusChange {
  status: SessionStatus;
  reason?: string | null;
  /** For `waiting`: when a timer wait makes the session claimable again. */
  wakeAtMs?: number | null;
  /** For `waiting`: the signal that makes the session claimable again. */
  waitingFor?: string | null;
}

export interface AppendRequest {
  fence: LeaseFence;
  /**
   * The writer's id for this append (default: a fresh one). Sending the same request again, after
   * a failure that may have hidden a commit (a dropped connection, a lost acknowledgement), is
   * then safe: if the session's last committed append has this id, the store answers with that
   * append's result instead of SEQ_CONFLICT, and nothing is written twice.
   */
  appendId?: string;
  /** The head seq the writer read; the events get expectedSeq+1, expectedSeq+2, … */
  expectedSeq: number;
  events: NewEvent[];
  effects?: EffectChange[];
  status?: StatusChange;
  /** Replaces the session's checkpoint, in the same transaction. `seq` ≤ the new head. */
  checkpoint?: CheckpointWrite;
  /** Signals the events consumed, marked so they are delivered once. */
  consumeSignals?: string[];
  /** Gives the lease up in the same transaction (the session is waiting or finished). */
  releaseLease?: boolean;
}

export interface AppendResult {
  headSeq: number;
  atMs: number;
}

/**
 * A piece of a session's checkpoint that is written once and then kept beside it (e.g. a sealed
 * run of transcript messages), so that a checkpoint rewritten every few dozen events carries only
 * what changed, not everything the session accumulated. Its index names its content: a part is
 * never rewritten, so one index must always stand for the same value.
 */
export interface CheckpointPart {
  index: number;
  value: JsonValue;
}

/** A checkpoint as an append (or saveCheckpoint) writes it. */
export interface CheckpointWrite {
  seq: number;
  state: JsonValue;
  /**
   * Parts to keep beside the checkpoint, applied only if this checkpoint replaces the stored one
   * (an older seq changes nothing): the session's parts below `keepFrom` are removed, and each of
   * `add` is stored unless the session already has a part of its index (which is kept as it is).
   * Absent: the stored parts stay as they are.
   */
  parts?: { add: CheckpointPart[]; keepFrom: number };
}

export interface Checkpoint {
  sessionId: SessionId;
  seq: number;
  state: JsonValue;
  /** The session's checkpoint parts, by index (read in the same snapshot as `state`). */
  parts: CheckpointPart[];
}

export type SignalWake = 'if-waiting-for-it' | 'interrupt' | 'reopen';

export interface Signal {
  id: string;
  sessionId: SessionId;
  name: string;
  payload: JsonValue;
  createdAtMs: number;
}

export interface DurabilityReport {
  /** True when every acknowledged commit survives a power loss. */
  safe: boolean;
  /** Each setting as the store found it and as it runs now, e.g. `synchronous=FULL`. */
  settings: Record<string, string>;
  /** What was changed or accepted and why, for the start-up report. */
  notes: string[];
}

/** Behaviour that differs between stores, tested as capabilities rather than by store name. */
export interface StoreCapabilities {
  /**
   * A registered worker's liveness is kept in the store (a heartbeat): once it lapses (the
   * process died, its host vanished, it lost the store), its sessions are claimable before their
   * leases expire, and the worker itself stopped its side effects before that moment.
   */
  connectionScopedLiveness: boolean;
  /** Several processes on several hosts can share the store. */
  multiHost: boolean;
}

/**
 * What a store tells a registered worker about its liveness (stores with
 * `connectionScopedLiveness`). The invariant they serve (DESIGN §3, one holder): no other worker
 * can take this worker's sessions before `onDoubt` has been called, by a margin stated by the
 * store (PostgresStore: `livenessMs / 2`).
 */
export interface WorkerLivenessEvents {
  /**
   * The store cannot confirm that this worker is alive (its liveness connection or heartbeat
   * failed) and its sessions will soon be claimable by others: stop every side effect now (abort
   * running tools and model calls) and claim nothing until `onConfirmed`.
   */
  onDoubt?(error: Error): void;
  /** Liveness is confirmed again after a doubt: sessions this worker still owns may be reclaimed. */
  onConfirmed?(): void;
}

/** A worker's presence in the store; while it is confirmed, its leases are its own. */
export interface WorkerRegistration {
  workerId: WorkerId;
  /**
   * Until when (by `performance.now()` of this process) the store vouches for this worker: the
   * moment it must have stopped its side effects if no heartbeat is confirmed meanwhile.
   * Infinity on stores that keep no liveness.
   */
  assuredUntil(): number;
  /** Ends the registration: the worker's sessions become claimable at once (it stopped). */
  close(): Promise<void>;
}

export interface CreateSessionInput {
  id?: SessionId;
  /** Default: `default`. */
  tenantId?: string;
  agent: string;
  input: JsonValue;
  /** A fork's source session and the seq it was copied up to, recorded in `session.created`. */
  forkedFrom?: { sessionId: SessionId; seq: number };
  /** The schedule tick that starts the session, recorded in `session.created`. */
  schedule?: ScheduleRef;
  /** A sub-agent's parent and policies, recorded in `session.created`. */
  parent?: SessionParent;
  /** The session's budget, recorded in `session.created` (the agent's own fills in the rest). */
  budget?: Budget;
  /**
   * Who gave `budget` and whether it may lift the agent's own limits, recorded in
   * `session.created` (only with `budget`). Absent: laid over the agent's own, as a sub-agent's.
   */
  budgetSetBy?: BudgetSetter;
  /**
   * Makes creation safe to retry: a second create with the same tenant and key returns the first
   * session when `requestHash` matches, and fails with IDEMPOTENCY_CONFLICT when it does not.
   */
  idempotencyKey?: string;
  /** A hash of the request the key was used with (required with `idempotencyKey`). */
  requestHash?: string;
  /**
   * Creates the session already claimed by `owner` for `leaseMs` (status `running`, its first
   * epoch; the record's lease fields give the fence), in the same transaction: no worker can claim
   * it before its creator is done with it, as a fork whose log is still being copied. Not with
   * `idempotencyKey`.
   */
  heldBy?: { owner: WorkerId; leaseMs: number };
}

/**
 * Which sessions a claim may take. A worker names the agents it runs, so a session of an agent
 * it lacks stays claimable by a worker that has it (never parked by the wrong worker).
 */
export interface ClaimFilter {
  /** Only sessions whose agent is one of these names (at most 1,000). Absent: any agent. */
  agents?: readonly string[];
}

export interface ListSessionsQuery {
  tenantId?: string;
  agent?: string;
  status?: SessionStatus;
  limit?: number;
  /** Keyset pagination: sessions created after this one (before it, when newest first). */
  afterId?: SessionId;
  /** Default: oldest first. */
  newestFirst?: boolean;
  /**
   * Only sessions waiting for a signal whose name starts with this, e.g. `approval:` for the
   * sessions that wait on a person. A session that waits for nothing never matches.
   */
  waitingForPrefix?: string;
}

/** See `SessionStore.storageReserve`. */
export interface StorageReserve {
  /** Frees the reserved space, after a write failed with STORAGE_FULL. Idempotent. */
  release(): void;
  /**
   * Sets the space aside again if the disk has room for it and a margin: true when it is set
   * aside (the disk has room again), false while it has not.
   */
  restore(): boolean;
}

/**
 * The session store port: the append-only log, leases, effect records, checkpoints, signals and
 * waits. Every write a worker makes is fenced by its lease epoch in the same transaction.
 * Implementations: @longrun/store-sqlite and @longrun/store-postgres; both pass
 * @longrun/store-conformance.
 */
export interface SessionStore {
  readonly kind: string;
  readonly capabilities: StoreCapabilities;
  /** API keys, in the same database. */
  readonly apiKeys: ApiKeyStore;
  /** Content-addressed blobs (workspace snapshots) in the same database: the default blob store. */
  readonly blobs: BlobStore;
  /** Cron schedules that start sessions, in the same database (a fire and its sessions commit together). */
  readonly schedules: ScheduleStore;
  /** The webhooks of durable waits, in the same database. */
  readonly webhooks: WebhookStore;
  /** Tenants' spend per day, charged by every model call (per-tenant daily budgets). */
  readonly tenantSpend: TenantSpendStore;
  /** Creates or upgrades the schema. Safe to run twice and concurrently. */
  migrate(): Promise<void>;
  durability(): DurabilityReport;
  /** The store's clock, epoch milliseconds. Lease expiry and timers use only this clock. */
  nowMs(): Promise<number>;
  /** One round trip to the database; STORE_UNAVAILABLE when it cannot be reached (readiness). */
  ping(): Promise<void>;
  /**
   * The store's live channel between processes (Postgres: LISTEN/NOTIFY on its own connections),
   * opened on first use and closed with the store; absent where processes share no channel
   * (SQLite: one process serves and works, with an in-process channel).
   */
  liveChannel?(): LiveChannel;
  /**
   * Space the store sets aside while its disk has room (SQLite: a reserve file beside the
   * database), so that when the disk fills up the writes that say why sessions stopped still fit.
   * Absent where the store cannot set space aside (Postgres, an in-memory SQLite).
   */
  readonly storageReserve?: StorageReserve;
  /**
   * Appends this store object committed since it opened, and the commits that carried them
   * (`AppendCommits`): whether group commit groups, read by metrics and benchmarks.
   */
  appendCommits?(): AppendCommits;
  close(): Promise<void>;

  createSession(input: CreateSessionInput): Promise<SessionRecord>;
  getSession(id: SessionId): Promise<SessionRecord>;
  /**
   * The records of those of `ids` that exist, in no particular order, in one read: how a stream
   * server watches many sessions at the cost of one. At most `maxSessionsPerRead` ids.
   */
  getSessions(ids: readonly SessionId[]): Promise<SessionRecord[]>;
  listSessions(query?: ListSessionsQuery): Promise<SessionRecord[]>;
  /**
   * How many sessions are in each status, over every tenant, in one read that scans the status
   * index only (what a metrics scrape asks for every few seconds). Statuses with no session are 0.
   */
  countSessions(): Promise<SessionCounts>;
  readEvents(id: SessionId, afterSeq?: number, limit?: number): Promise<StoredEvent[]>;
  latestCheckpoint(id: SessionId): Promise<Checkpoint | null>;
  listEffects(id: SessionId): Promise<EffectRecord[]>;
  pendingSignals(id: SessionId, name: string): Promise<Signal[]>;

  /** Appends events and their side rows atomically, if `fence` is current and the head is `expectedSeq`. */
  append(request: AppendRequest): Promise<AppendResult>;
  /** Idempotent: saving the same seq twice is a no-op; an older seq never replaces a newer one. */
  saveCheckpoint(fence: LeaseFence, checkpoint: CheckpointWrite): Promise<void>;

  /**
   * Registers a worker process under `workerId` (one live process per id: a second is refused
   * with INVALID_STATE). Resolves once the store has confirmed it; `events` then report doubt.
   */
  registerWorker(workerId: WorkerId, events?: WorkerLivenessEvents): Promise<WorkerRegistration>;
  /** Claims one claimable session (of the filter's agents, when it names them), or returns null. */
  claimNext(owner: WorkerId, leaseMs: number, filter?: ClaimFilter): Promise<Lease | null>;
  /** Claims this session if it is claimable now, or returns null. */
  claim(id: SessionId, owner: WorkerId, leaseMs: number): Promise<Lease | null>;
  /**
   * Claims, with a new epoch, every unfinished session this owner held (a restarted process), of
   * the filter's agents when it names them; the others are left to lapse to a worker that has them.
   */
  reclaimOwned(owner: WorkerId, leaseMs: number, filter?: ClaimFilter): Promise<Lease[]>;
  /** Extends the lease; throws LEASE_LOST if the epoch is no longer current. */
  renewLease(fence: LeaseFence, leaseMs: number): Promise<Lease>;
  releaseLease(fence: LeaseFence): Promise<void>;

  /**
   * Delivers a signal. Not fenced: anyone may signal. Which sessions it makes claimable again:
   * `if-waiting-for-it` (default) one waiting for this signal; `interrupt` also one waiting for
   * anything or paused (a cancel request); `reopen` also a completed one (a follow-up message).
   */
  sendSignal(
    id: SessionId,
    name: string,
    payload: JsonValue,
    options?: {
      wake?: SignalWake;
      /**
       * The first signal of this name the session is sent is the only one: if one was sent
       * before (consumed or not), this one is refused with INVALID_STATE, atomically with the
       * check, so of several sent at once exactly one lands (a decision on an approval).
       */
      once?: boolean;
    },
  ): Promise<Signal>;
}
