import { integerArrayLiteral, textArrayLiteral } from './array-literal.ts';
import {
  effectiveStatus,
  type EffectChange,
  type EncodedAppend,
  type EncodedCheckpoint,
  type LeaseFence,
  type StatusChange,
} from '@longrun/core';
import type { SchemaName } from './schema-name.ts';
import type { QueuedAppend } from './send-appends.ts';

/**
 * Every statement the Postgres store runs, for one schema. In each statement that needs the
 * time, `$1` is the injected time or NULL for the server's clock; the `now` CTE evaluates it once
 * per statement (a CTE calling a volatile function is materialized, so every comparison in the
 * statement sees the same instant).
 *
 * The claim rule: a session is claimable when it is queued or running, or waiting on a timer
 * that is due — and nobody holds it. Who holds it depends on its lease owner:
 * - a registered worker (one with liveness, see worker-liveness.ts) holds its sessions until it
 *   is ended: it stopped, a worker on its host saw its process gone, or a claimer declared it
 *   dead after seeing its heartbeat count unchanged for its L by the claimer's own monotonic
 *   clock (liveness-observer.ts). The server's clock does not decide: a forward step of it would
 *   otherwise free a live worker's sessions while its tools run. Only the owner itself may take
 *   back a session whose lease lapsed while it lives;
 * - an owner that never registered holds it until the lease expires by the server's clock.
 */
export type Statements = ReturnType<typeof statements>;

export function statements(schema: SchemaName) {
  const s = schema.quoted;
  const now = `now AS (SELECT ${s}.now_ms($1::bigint) AS ms)`;
  // Registered workers that were ended (the table is as small as the live fleet plus the dead
  // that still own leases). alive_until_ms = 0 is the mark of an ended worker.
  const deadOwners = `dead AS MATERIALIZED (
    SELECT w.worker_id FROM ${s}.workers w WHERE w.alive_until_ms = 0)`;
  const heldLock = `SELECT l.pid FROM pg_locks l
    WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND l.classid = ${schema.lockNamespace}::oid AND l.objid = w.lock_key::oid`;
  const claimable = `
    (c.status IN ('queued', 'running') OR (c.status = 'waiting' AND c.wake_at_ms IS NOT NULL AND c.wake_at_ms <= now.ms))
    AND (c.lease_owner IS NULL OR c.lease_owner IN (SELECT worker_id FROM dead)
      OR (c.lease_expires_at_ms <= now.ms AND (c.lease_owner = $2
        OR NOT EXISTS (SELECT 1 FROM ${s}.workers r WHERE r.worker_id = c.lease_owner))))`;
  // $2 owner, $3 leaseMs. Takes the row locked by the target CTE (SKIP LOCKED: never wait on
  // another claimer; a row it just claimed is re-checked against the rule and dropped).
  const claimTarget = `UPDATE ${s}.sessions t SET lease_owner = $2, lease_epoch = t.lease_epoch + 1,
      lease_expires_at_ms = now.ms + $3::bigint, status = 'running', status_reason = NULL, wake_at_ms = NULL,
      waiting_for = NULL, updated_at_ms = now.ms
    FROM target, now WHERE t.id = target.id
    RETURNING t.id, t.lease_epoch, t.head_seq, t.lease_expires_at_ms`;
  return {
    nowMs: `SELECT ${s}.now_ms($1::bigint) AS ms`,
    createSession: `SELECT * FROM ${s}.create_session($1::bigint, $2, $3, $4, $5, $6, $7)`,
    createHeldSession: `SELECT * FROM ${s}.create_held_session($1::bigint, $2, $3, $4, $5, $6, $7::bigint)`,
    getSession: `SELECT * FROM ${s}.sessions WHERE id = $1`,
    getSessions: `SELECT * FROM ${s}.sessions WHERE id = ANY($1::text[])`,
    // $1 status, $2 tenant, $3 agent, $4 after id, $5 limit, $6 waiting-for prefix; oldest first,
    // or newest first below.
    listSessions: `SELECT * FROM ${s}.sessions
      WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR tenant_id = $2) AND ($3::text IS NULL OR agent = $3)
        AND ($6::text IS NULL OR starts_with(waiting_for, $6))
        AND ($4::text IS NULL OR (created_at_ms, key) > (SELECT created_at_ms, key FROM ${s}.sessions WHERE id = $4))
      ORDER BY created_at_ms, key LIMIT $5`,
    listSessionsNewest: `SELECT * FROM ${s}.sessions
      WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR tenant_id = $2) AND ($3::text IS NULL OR agent = $3)
        AND ($6::text IS NULL OR starts_with(waiting_for, $6))
        AND ($4::text IS NULL OR (created_at_ms, key) < (SELECT created_at_ms, key FROM ${s}.sessions WHERE id = $4))
      ORDER BY created_at_ms DESC, key DESC LIMIT $5`,
    // $1 the injected time or NULL. Reads only the status index (status, wake_at_ms).
    countSessions: `SELECT status, count(*) AS n,
        count(*) FILTER (WHERE status = 'waiting' AND wake_at_ms <= ${s}.now_ms($1::bigint)) AS due
      FROM ${s}.sessions GROUP BY status`,
    insertApiKey: `INSERT INTO ${s}.api_keys (id, tenant_id, name, secret_hash, role, created_at_ms)
      SELECT $2, $3, $4, $5, $6, ${s}.now_ms($1::bigint) ON CONFLICT (id) DO NOTHING RETURNING *`,
    findApiKey: `SELECT * FROM ${s}.api_keys WHERE id = $1`,
    listApiKeys: `SELECT * FROM ${s}.api_keys WHERE ($1::text IS NULL OR tenant_id = $1) ORDER BY created_at_ms, id`,
    revokeApiKey: `UPDATE ${s}.api_keys SET revoked_at_ms = coalesce(revoked_at_ms, ${s}.now_ms($1::bigint))
      WHERE id = $2 RETURNING id`,
    putBlob: `INSERT INTO ${s}.blobs (hash, size, bytes, created_at_ms)
      SELECT $2, $3, $4, ${s}.now_ms($1::bigint) ON CONFLICT (hash) DO NOTHING`,
    registerWebhook: `SELECT * FROM ${s}.register_webhook($1::bigint, $2, $3, $4::bigint, $5, $6, $7, $8::bigint)`,
    deliverWebhook: `SELECT * FROM ${s}.deliver_webhook($1::bigint, $2, $3, $4)`,
    reserveTenantSpend: `SELECT * FROM ${s}.reserve_tenant_spend($1::bigint, $2, $3, $4::bigint, $5,
      $6::float8, $7::bigint, $8::bigint, $9::bigint, $10::float8, $11::bigint, $12::bigint, $13::bigint)`,
    settleTenantSpend: `SELECT ${s}.settle_tenant_spend($1, $2, $3::bigint, $4, $5::float8, $6::bigint,
      $7::bigint, $8::bigint)`,
    // $1 injected now, $2 tenant, $3 day (null: today by the store's clock).
    tenantDaySpend: `SELECT d.day AS r_day, coalesce(t.cost_usd, 0) AS cost_usd,
        coalesce(t.input_tokens, 0) AS input_tokens, coalesce(t.output_tokens, 0) AS output_tokens,
        coalesce(t.cache_tokens, 0) AS cache_tokens, coalesce(t.calls, 0) AS calls
      FROM (SELECT coalesce($3::text, to_char(to_timestamp(${s}.now_ms($1::bigint) / 1000.0)
        AT TIME ZONE 'UTC', 'YYYY-MM-DD')) AS day) d
      LEFT JOIN ${s}.tenant_day_spend t ON t.tenant_id = $2 AND t.day = d.day`,
    getBlob: `SELECT size, bytes FROM ${s}.blobs WHERE hash = $1`,
    presentBlobs: `SELECT hash FROM ${s}.blobs WHERE hash = ANY($1::text[])`,
    insertSchedule: `INSERT INTO ${s}.schedules (id, tenant_id, agent, cron, timezone, input, catch_up, max_catch_up,
        overlap, next_fire_at_ms, created_at_ms, updated_at_ms)
      SELECT $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, n.ms, n.ms FROM (SELECT ${s}.now_ms($1::bigint) AS ms) n
      ON CONFLICT (id) DO NOTHING RETURNING *`,
    getSchedule: `SELECT * FROM ${s}.schedules WHERE id = $1`,
    // $1 tenant, $2 after id, $3 limit.
    listSchedules: `SELECT * FROM ${s}.schedules WHERE ($1::text IS NULL OR tenant_id = $1)
        AND ($2::text IS NULL OR created_order > (SELECT created_order FROM ${s}.schedules WHERE id = $2))
      ORDER BY created_order LIMIT $3`,
    pauseSchedule: `UPDATE ${s}.schedules SET paused = true, updated_at_ms = ${s}.now_ms($1::bigint)
      WHERE id = $2 AND NOT paused`,
    resumeSchedule: `UPDATE ${s}.schedules SET paused = false, next_fire_at_ms = $3, updated_at_ms = ${s}.now_ms($1::bigint)
      WHERE id = $2 AND paused`,
    deleteSchedule: `DELETE FROM ${s}.schedules WHERE id = $1 RETURNING id`,
    // $1 now, $2 the agents or NULL for any, $3 limit.
    dueSchedules: `SELECT * FROM ${s}.schedules WHERE NOT paused AND next_fire_at_ms <= $1
        AND ($2::text[] IS NULL OR agent = ANY($2::text[]))
      ORDER BY next_fire_at_ms LIMIT $3`,
    nextScheduleFire: `SELECT min(next_fire_at_ms) AS at_ms FROM ${s}.schedules WHERE NOT paused
        AND ($1::text[] IS NULL OR agent = ANY($1::text[]))`,
    fireSchedule: `SELECT ${s}.fire_schedule($1::bigint, $2, $3::bigint, $4, $5, $6::bigint, $7::text[], $8::text[],
        $9::bigint, $10::bigint) AS outcome`,
    readEvents: `SELECT $1::text AS session_id, seq, type, v, data, packed, at_ms, epoch FROM ${s}.session_log
      WHERE session_key = (SELECT key FROM ${s}.sessions WHERE id = $1) AND seq > $2 ORDER BY seq LIMIT $3`,
    // The checkpoint (index -1) and then its parts by index, one row each, in one statement,
    // hence one snapshot; no row when the session has no checkpoint. Rows, not arrays: pg parses
    // a text[] result character by character in JavaScript, 20 times slower than plain text
    // columns (a 560 kB checkpoint took 17 ms to read as an array).
    readCheckpoint: `SELECT -1 AS idx, c.seq, c.state AS value FROM ${s}.checkpoints c WHERE c.session_id = $1
      UNION ALL
      SELECT cp.idx, NULL, cp.value FROM ${s}.checkpoint_parts cp
      WHERE cp.session_key = (SELECT key FROM ${s}.sessions WHERE id = $1)
      ORDER BY idx`,
    listEffects: `SELECT $1::text AS session_id, step, call_index, tool, effect, status, attempts, updated_at_ms,
        coalesce(idempotency_key, $1::text || ':' || step || ':' || call_index) AS idempotency_key
      FROM ${s}.effect_records WHERE session_key = (SELECT key FROM ${s}.sessions WHERE id = $1)
      ORDER BY step, call_index`,
    pendingSignals: `SELECT * FROM ${s}.signals WHERE session_id = $1 AND name = $2 AND consumed_at_ms IS NULL
      ORDER BY created_at_ms, created_order`,
    appendBatch: `SELECT * FROM ${s}.append_batch_flat($1::bigint[], $2::text[], $3::text[], $4::bigint[],
      $5::bigint[], $6::text[], $7::boolean[], $8::text[], $9::text[], $10::text[], $11::bigint[],
      $12::text[], $13::integer[], $14::integer[], $15::text[], $16::integer[], $17::text[],
      $18::bytea[], $19::integer[], $20::text[], $21::integer[], $22::integer[], $23::text[])`,
    append: `SELECT ${s}.append_events($1::bigint, $2, $3, $4, $5, $6::text[], $7::integer[], $8::text[], $9::jsonb,
      $10::jsonb, $11::jsonb, $12, $13, $14::text[], $15, $16, $17::bytea[], $18::integer[], $19::text[],
      $20::integer) AS at_ms`,
    checkFence: `SELECT 1 FROM ${s}.check_fence($1, $2, $3::bigint)`,
    saveCheckpoint: `SELECT ${s}.save_checkpoint($1::bigint, $2, $3, $4, $5, $6, $7::integer[], $8::text[],
      $9::integer)`,
    sendSignal: `SELECT ${s}.send_signal($1::bigint, $2, $3, $4, $5, $6) AS created_at_ms`,
    sendSignalOnce: `SELECT ${s}.send_signal_once($1::bigint, $2, $3, $4, $5, $6) AS created_at_ms`,
    // $4: the agents the claimer runs, or NULL for any agent.
    claimNext: `WITH ${now}, ${deadOwners},
      target AS (SELECT c.id FROM ${s}.sessions c, now WHERE ${claimable}
        AND ($4::text[] IS NULL OR c.agent = ANY($4::text[]))
        ORDER BY c.updated_at_ms LIMIT 1 FOR UPDATE OF c SKIP LOCKED)
      ${claimTarget}`,
    claimById: `WITH ${now}, ${deadOwners},
      target AS (SELECT c.id FROM ${s}.sessions c, now WHERE c.id = $4 AND ${claimable} FOR UPDATE OF c SKIP LOCKED)
      ${claimTarget}`,
    reclaimOwned: `WITH ${now},
      target AS (SELECT c.id FROM ${s}.sessions c WHERE c.lease_owner = $2 AND c.status IN ('queued', 'running')
        AND ($4::text[] IS NULL OR c.agent = ANY($4::text[]))
        ORDER BY c.created_at_ms, c.id FOR UPDATE OF c)
      ${claimTarget}`,
    renewLease: `WITH ${now}
      UPDATE ${s}.sessions t SET lease_expires_at_ms = now.ms + $2::bigint
      FROM now WHERE t.id = $3 AND t.lease_epoch = $4 AND t.lease_owner = $5
      RETURNING t.head_seq, t.lease_expires_at_ms`,
    releaseLease: `WITH ${now}
      UPDATE ${s}.sessions t SET lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = now.ms
      FROM now WHERE t.id = $2 AND t.lease_epoch = $3 AND t.lease_owner = $4`,
    // $2 worker id. The row (made if absent: its liveness starts lapsed), the lock taken on this
    // connection, and what the row says of the process that last held the id.
    lockWorker: `WITH ${now},
      made AS (INSERT INTO ${s}.workers (worker_id, registered_at_ms) SELECT $2::text, now.ms FROM now
        ON CONFLICT (worker_id) DO NOTHING
        RETURNING lock_key, alive_until_ms, host_id, pid, started_ticks),
      w AS (SELECT * FROM made UNION ALL
        SELECT lock_key, alive_until_ms, host_id, pid, started_ticks FROM ${s}.workers WHERE worker_id = $2)
      SELECT w.*, now.ms AS now_ms, pg_backend_pid() AS backend_pid,
        pg_try_advisory_lock(${schema.lockNamespace}, w.lock_key) AS locked
      FROM w, now LIMIT 1`,
    // The backend holding worker $1's lock, if any.
    lockHolder: `SELECT (${heldLock}) AS pid FROM ${s}.workers w WHERE w.worker_id = $1`,
    terminateBackend: `SELECT pg_terminate_backend($1::integer) AS done`,
    // $2 worker id, $3 livenessMs, $4 host, $5 pid, $6 start ticks, $7 the previous holder is known
    // gone. Takes the id for this process unless another one's liveness has not lapsed.
    claimWorkerId: `WITH ${now}
      UPDATE ${s}.workers w SET alive_until_ms = now.ms + $3::bigint, registered_at_ms = now.ms,
        host_id = $4, pid = $5, started_ticks = $6, beats = w.beats + 1, liveness_ms = $3::bigint
      FROM now WHERE w.worker_id = $2 AND (w.alive_until_ms <= now.ms OR $7::boolean
        OR (w.host_id IS NOT DISTINCT FROM $4 AND w.pid IS NOT DISTINCT FROM $5 AND w.started_ticks IS NOT DISTINCT FROM $6))
      RETURNING w.alive_until_ms`,
    // The heartbeat: extends this process's liveness and counts one beat; no row if the id is no
    // longer this process's or the worker was ended (declared dead: it must stop at once).
    heartbeat: `WITH ${now}
      UPDATE ${s}.workers w SET alive_until_ms = now.ms + $3::bigint, beats = w.beats + 1,
        liveness_ms = $3::bigint
      FROM now WHERE w.worker_id = $2 AND w.host_id IS NOT DISTINCT FROM $4
        AND w.pid IS NOT DISTINCT FROM $5 AND w.started_ticks IS NOT DISTINCT FROM $6
        AND w.alive_until_ms <> 0
      RETURNING w.alive_until_ms`,
    // Workers not ended, with their beat count and L: what a claimer observes.
    observeWorkers: `SELECT worker_id, beats, liveness_ms FROM ${s}.workers WHERE alive_until_ms <> 0`,
    // Declares worker $1 dead if its beat count is still $2 (no heartbeat since it was seen).
    // A heartbeat racing it waits on the row and then finds it ended.
    declareDead: `UPDATE ${s}.workers SET alive_until_ms = 0
      WHERE worker_id = $1 AND beats = $2::bigint AND alive_until_ms <> 0
      RETURNING worker_id`,
    // Ends worker $1's liveness at once (it stopped, or it was seen dead), if the id still
    // belongs to the process on host $2 with pid $3 started at $4.
    endLiveness: `UPDATE ${s}.workers SET alive_until_ms = 0
      WHERE worker_id = $1 AND host_id IS NOT DISTINCT FROM $2 AND pid IS NOT DISTINCT FROM $3
        AND started_ticks IS NOT DISTINCT FROM $4
      RETURNING worker_id`,
    // Workers on host $1 not ended, other than this process ($2, $3).
    liveOnHost: `SELECT w.worker_id, w.pid, w.started_ticks FROM ${s}.workers w
      WHERE w.host_id = $1 AND w.alive_until_ms <> 0
        AND NOT (w.pid IS NOT DISTINCT FROM $2 AND w.started_ticks IS NOT DISTINCT FROM $3)`,
    // Lapsed workers that hold no lease are forgotten, so the claim rule's scan of workers stays
    // as small as the live fleet (worker ids may be fresh on every process start).
    pruneWorkers: `WITH ${now}
      DELETE FROM ${s}.workers w USING now
      WHERE w.alive_until_ms <= now.ms AND NOT EXISTS (${heldLock})
        AND NOT EXISTS (SELECT 1 FROM ${s}.sessions c WHERE c.lease_owner = w.worker_id)`,
  } as const;
}

/** One append's arguments: append_events' parameters, by name. */
interface AppendArgs {
  now: number | null;
  session: string;
  owner: string;
  epoch: number;
  expected: number;
  types: string[];
  versions: number[];
  /** Each event's data as text, or null where it goes packed (`packed` at the same index). */
  datas: (string | null)[];
  effects: EffectChange[];
  status: StatusJson | null;
  statusIfPending: StatusJson | null;
  checkpointSeq: number | null;
  checkpointState: string | null;
  /** The checkpoint's parts to add (indexes and values, in step) and its keepFrom; null without. */
  partIndexes: number[] | null;
  partValues: string[] | null;
  keepPartsFrom: number | null;
  consume: string[];
  release: boolean;
  appendId: string;
}

/** Each event's data as packJson gave it: the text, or its packed bytes. */
export type PackedDatas = readonly (string | Uint8Array)[];

/** The bytea[] beside the datas: each event's packed bytes, NULL where its text is kept. */
function packedBytes(packed: PackedDatas): (Uint8Array | null)[] {
  return packed.map((p) => (typeof p === 'string' ? null : p));
}

function appendArgs(
  nowMs: number | null,
  fence: LeaseFence,
  expectedSeq: number,
  a: EncodedAppend,
  packed: PackedDatas,
): AppendArgs {
  return {
    now: nowMs,
    session: fence.sessionId,
    owner: fence.owner,
    epoch: fence.epoch,
    expected: expectedSeq,
    types: a.events.map((e) => e.type),
    versions: a.events.map((e) => e.v),
    datas: packed.map((p) => (typeof p === 'string' ? p : null)),
    effects: a.effects.map((e) => ({
      step: e.step,
      callIndex: e.callIndex,
      tool: e.tool,
      effect: e.effect,
      idempotencyKey: e.idempotencyKey,
      status: e.status,
    })),
    status: statusJson(a.status),
    // The status to take instead if the signal it would wait for is already pending: core's
    // effectiveStatus decides it, so the rule lives in one place; SQL only checks the inbox.
    statusIfPending: statusJson(a.status && effectiveStatus(a.status, true)),
    checkpointSeq: a.checkpoint?.seq ?? null,
    checkpointState: a.checkpoint?.state ?? null,
    ...checkpointPartsArgs(a.checkpoint),
    consume: a.consumeSignals,
    release: a.releaseLease,
    appendId: a.appendId,
  };
}

/** The parameters of `append`, in the order append_events takes them. */
export function appendParams(
  nowMs: number | null,
  fence: LeaseFence,
  expectedSeq: number,
  a: EncodedAppend,
  packed: PackedDatas,
): unknown[] {
  const x = appendArgs(nowMs, fence, expectedSeq, a, packed);
  return [
    x.now,
    x.session,
    x.owner,
    x.epoch,
    x.expected,
    textArrayLiteral(x.types),
    integerArrayLiteral(x.versions),
    textArrayLiteral(x.datas),
    JSON.stringify(x.effects),
    x.status && JSON.stringify(x.status),
    x.statusIfPending && JSON.stringify(x.statusIfPending),
    x.checkpointSeq,
    x.checkpointState,
    textArrayLiteral(x.consume),
    x.release,
    x.appendId,
    packedBytes(packed),
    ...checkpointPartsParams(x),
  ];
}

/** A checkpoint's parts as append_events and save_checkpoint take them; all null without parts. */
export function checkpointPartsArgs(
  checkpoint: EncodedCheckpoint | undefined,
): Pick<AppendArgs, 'partIndexes' | 'partValues' | 'keepPartsFrom'> {
  const parts = checkpoint?.parts;
  if (parts === undefined) return { partIndexes: null, partValues: null, keepPartsFrom: null };
  return {
    partIndexes: parts.add.map((p) => p.index),
    partValues: parts.add.map((p) => p.value),
    keepPartsFrom: parts.keepFrom,
  };
}

/** The three part parameters (integer[], text[], integer) as array literals, or NULLs. */
export function checkpointPartsParams(
  x: Pick<AppendArgs, 'partIndexes' | 'partValues' | 'keepPartsFrom'>,
): unknown[] {
  return [
    x.partIndexes && integerArrayLiteral(x.partIndexes),
    x.partValues && textArrayLiteral(x.partValues),
    x.keepPartsFrom,
  ];
}

/**
 * The parameters of `appendBatch` (append_batch_flat, schema 20): per argument of append_events
 * an array with one element per append, in append order; the events, the signals consumed and
 * the checkpoint parts of every append each in one array, with a count per append (a part count
 * of NULL: the append carries no parts).
 */
export function appendBatchParams(items: readonly QueuedAppend[]): unknown[] {
  const args = items.map((q) => appendArgs(q.nowMs, q.fence, q.expectedSeq, q.encoded, q.packed));
  const column = <T>(value: (x: AppendArgs) => T): T[] => args.map(value);
  const json = (value: unknown): string | null => (value === null ? null : JSON.stringify(value));
  return [
    column((x) => x.now),
    textArrayLiteral(column((x) => x.session)),
    textArrayLiteral(column((x) => x.owner)),
    column((x) => x.epoch),
    column((x) => x.expected),
    textArrayLiteral(column((x) => x.appendId)),
    column((x) => x.release),
    textArrayLiteral(column((x) => json(x.effects))),
    textArrayLiteral(column((x) => json(x.status))),
    textArrayLiteral(column((x) => json(x.statusIfPending))),
    column((x) => x.checkpointSeq),
    textArrayLiteral(column((x) => x.checkpointState)),
    column((x) => x.keepPartsFrom),
    column((x) => x.types.length),
    textArrayLiteral(args.flatMap((x) => x.types)),
    integerArrayLiteral(args.flatMap((x) => x.versions)),
    textArrayLiteral(args.flatMap((x) => x.datas)),
    items.flatMap((q) => packedBytes(q.packed)),
    column((x) => x.consume.length),
    textArrayLiteral(args.flatMap((x) => x.consume)),
    column((x) => x.partIndexes?.length ?? null),
    integerArrayLiteral(args.flatMap((x) => x.partIndexes ?? [])),
    textArrayLiteral(args.flatMap((x) => x.partValues ?? [])),
  ];
}

/** A StatusChange as the JSON append_events reads, with every field present. */
interface StatusJson {
  status: string;
  reason: string | null;
  wakeAtMs: number | null;
  waitingFor: string | null;
}

function statusJson(status: StatusChange | undefined): StatusJson | null {
  if (status === undefined) return null;
  const { status: s, reason = null, wakeAtMs = null, waitingFor = null } = status;
  return { status: s, reason, wakeAtMs, waitingFor };
}
