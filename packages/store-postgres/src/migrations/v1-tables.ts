import { storeSqlStates as lr } from '../translate-error.ts';

export function tables(s: string): string {
  return `
CREATE TABLE ${s}.sessions (
  id text PRIMARY KEY,
  agent text NOT NULL,
  status text NOT NULL,
  status_reason text,
  head_seq bigint NOT NULL,
  lease_owner text,
  lease_epoch bigint NOT NULL DEFAULT 0,
  lease_expires_at_ms bigint,
  wake_at_ms bigint,
  waiting_for text,
  created_at_ms bigint NOT NULL,
  updated_at_ms bigint NOT NULL
) WITH (fillfactor = 80);
-- Hot path: every append moves head_seq and every renewal lease_expires_at_ms. Neither column is
-- indexed and neither write touches updated_at_ms (the claim order), so both are HOT updates that
-- rewrite no index; fillfactor leaves room on the page for them.
CREATE INDEX sessions_by_status ON ${s}.sessions (status, wake_at_ms);
CREATE INDEX sessions_by_owner ON ${s}.sessions (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX sessions_by_creation ON ${s}.sessions (created_at_ms, id);
-- claimNext scans unfinished sessions in updated_at_ms order; finished ones never need a look.
CREATE INDEX sessions_claim_order ON ${s}.sessions (updated_at_ms) WHERE status IN ('queued', 'running', 'waiting');

CREATE TABLE ${s}.events (
  session_id text NOT NULL,
  seq bigint NOT NULL,
  type text NOT NULL,
  v integer NOT NULL,
  data text NOT NULL,
  at_ms bigint NOT NULL,
  epoch bigint NOT NULL,
  PRIMARY KEY (session_id, seq)
);

-- One checkpoint per session, replaced in place: storage stays linear in the log's length.
CREATE TABLE ${s}.checkpoints (
  session_id text PRIMARY KEY,
  seq bigint NOT NULL,
  state text NOT NULL,
  saved_at_ms bigint NOT NULL
);

CREATE TABLE ${s}.effects (
  session_id text NOT NULL,
  step integer NOT NULL,
  call_index integer NOT NULL,
  tool text NOT NULL,
  effect text NOT NULL,
  idempotency_key text NOT NULL,
  status text NOT NULL,
  attempts integer NOT NULL,
  updated_at_ms bigint NOT NULL,
  PRIMARY KEY (session_id, step, call_index)
);

CREATE TABLE ${s}.signals (
  id text PRIMARY KEY,
  session_id text NOT NULL,
  name text NOT NULL,
  payload text NOT NULL,
  created_at_ms bigint NOT NULL,
  consumed_at_ms bigint
);
CREATE INDEX signals_pending ON ${s}.signals (session_id, name, created_at_ms) WHERE consumed_at_ms IS NULL;

-- Registered workers. A worker holds the session-level advisory lock (namespace, lock_key) on a
-- dedicated connection; when that connection dies the lock goes with it, and the worker's leases
-- become claimable before they expire. A lease owner with no row here is judged by expiry alone.
CREATE TABLE ${s}.workers (
  worker_id text PRIMARY KEY,
  lock_key serial UNIQUE,
  registered_at_ms bigint NOT NULL
);
`;
}

/**
 * Server-side functions, so that each multi-statement write is one round trip. They raise the
 * LR* SQLSTATEs with messages worded exactly like the SQLite store's errors.
 */
export function functions(s: string): string {
  return `
-- The store's clock: the injected time when the caller passes one, else the server's wall clock.
CREATE FUNCTION ${s}.now_ms(p_now bigint) RETURNS bigint LANGUAGE sql VOLATILE AS $$
  SELECT coalesce(p_now, floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint)
$$;

CREATE FUNCTION ${s}.check_fence(p_session text, p_owner text, p_epoch bigint) RETURNS ${s}.sessions
LANGUAGE plpgsql AS $$
DECLARE
  v ${s}.sessions;
BEGIN
  -- FOR SHARE: a concurrent claim (which bumps the epoch) waits for us, or we see its result.
  SELECT * INTO v FROM ${s}.sessions WHERE id = p_session FOR SHARE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.notFound}', MESSAGE = format('session %s does not exist', p_session);
  END IF;
  IF v.lease_epoch <> p_epoch OR v.lease_owner IS DISTINCT FROM p_owner THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.leaseLost}', MESSAGE = format(
      'lease epoch %s of %s on session %s is stale (now epoch %s, owner %s); stop working on it',
      p_epoch, p_owner, p_session, v.lease_epoch, coalesce(v.lease_owner, 'none'));
  END IF;
  RETURN v;
END $$;

-- One append: fence and head check, events, effect records, checkpoint, consumed signals, status
-- and lease release, all in the caller's single statement (hence one transaction).
-- p_status / p_status_if_pending are StatusChange JSON; the second applies when a signal the
-- session would wait for is already pending (core's effectiveStatus decided both in advance).
CREATE FUNCTION ${s}.append_events(
  p_now bigint, p_session text, p_owner text, p_epoch bigint, p_expected bigint,
  p_types text[], p_versions integer[], p_datas text[], p_effects jsonb,
  p_status jsonb, p_status_if_pending jsonb, p_checkpoint_seq bigint, p_checkpoint_state text,
  p_consume text[], p_release boolean
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
  v_session ${s}.sessions;
  v_effect record;
  v_signal text;
  v_status jsonb := p_status;
BEGIN
  UPDATE ${s}.sessions SET head_seq = p_expected + coalesce(array_length(p_types, 1), 0)
    WHERE id = p_session AND lease_epoch = p_epoch AND lease_owner = p_owner AND head_seq = p_expected;
  IF NOT FOUND THEN
    v_session := ${s}.check_fence(p_session, p_owner, p_epoch);
    RAISE EXCEPTION USING ERRCODE = '${lr.seqConflict}',
      MESSAGE = format('session %s is at seq %s, not %s; re-read the log and decide again', p_session, v_session.head_seq, p_expected),
      DETAIL = json_build_object('headSeq', v_session.head_seq)::text;
  END IF;
  INSERT INTO ${s}.events (session_id, seq, type, v, data, at_ms, epoch)
    SELECT p_session, p_expected + u.ord, u.type, u.v, u.data, v_now, p_epoch
    FROM unnest(p_types, p_versions, p_datas) WITH ORDINALITY AS u(type, v, data, ord);
  -- A loop, not one INSERT … SELECT: two changes to the same call in one append apply in order.
  FOR v_effect IN SELECT * FROM jsonb_to_recordset(p_effects)
      AS e(step integer, "callIndex" integer, tool text, effect text, "idempotencyKey" text, status text) LOOP
    INSERT INTO ${s}.effects AS f (session_id, step, call_index, tool, effect, idempotency_key, status, attempts, updated_at_ms)
      VALUES (p_session, v_effect.step, v_effect."callIndex", v_effect.tool, v_effect.effect, v_effect."idempotencyKey", v_effect.status, 1, v_now)
      ON CONFLICT (session_id, step, call_index) DO UPDATE SET
        status = excluded.status,
        attempts = f.attempts + (excluded.status = 'started')::integer,
        updated_at_ms = excluded.updated_at_ms;
  END LOOP;
  IF p_checkpoint_seq IS NOT NULL THEN
    INSERT INTO ${s}.checkpoints AS c (session_id, seq, state, saved_at_ms) VALUES (p_session, p_checkpoint_seq, p_checkpoint_state, v_now)
      ON CONFLICT (session_id) DO UPDATE SET seq = excluded.seq, state = excluded.state, saved_at_ms = excluded.saved_at_ms
      WHERE excluded.seq > c.seq;
  END IF;
  FOREACH v_signal IN ARRAY p_consume LOOP
    UPDATE ${s}.signals SET consumed_at_ms = v_now WHERE id = v_signal AND session_id = p_session AND consumed_at_ms IS NULL;
    IF NOT FOUND THEN
      RAISE EXCEPTION USING ERRCODE = '${lr.signalNotPending}',
        MESSAGE = format('signal %s is not pending for session %s', v_signal, p_session);
    END IF;
  END LOOP;
  IF p_status IS NOT NULL THEN
    IF p_status->>'waitingFor' IS NOT NULL AND EXISTS (SELECT 1 FROM ${s}.signals
        WHERE session_id = p_session AND name = p_status->>'waitingFor' AND consumed_at_ms IS NULL) THEN
      v_status := p_status_if_pending;
    END IF;
    UPDATE ${s}.sessions SET status = v_status->>'status', status_reason = v_status->>'reason',
        wake_at_ms = (v_status->>'wakeAtMs')::bigint, waiting_for = v_status->>'waitingFor'
      WHERE id = p_session;
  END IF;
  IF p_release THEN
    UPDATE ${s}.sessions SET lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = v_now
      WHERE id = p_session AND lease_epoch = p_epoch AND lease_owner = p_owner;
  END IF;
  RETURN v_now;
END $$;

CREATE FUNCTION ${s}.save_checkpoint(
  p_now bigint, p_session text, p_owner text, p_epoch bigint, p_seq bigint, p_state text
) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_session ${s}.sessions := ${s}.check_fence(p_session, p_owner, p_epoch);
BEGIN
  IF p_seq > v_session.head_seq THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.invalidArgument}',
      MESSAGE = format('checkpoint seq %s is past the session''s head seq %s', p_seq, v_session.head_seq);
  END IF;
  INSERT INTO ${s}.checkpoints AS c (session_id, seq, state, saved_at_ms) VALUES (p_session, p_seq, p_state, ${s}.now_ms(p_now))
    ON CONFLICT (session_id) DO UPDATE SET seq = excluded.seq, state = excluded.state, saved_at_ms = excluded.saved_at_ms
    WHERE excluded.seq > c.seq;
END $$;

-- Separate statements on purpose: after the row lock, each statement takes a fresh snapshot, so
-- an append that set the session waiting just before is seen and woken (no lost wake-up).
CREATE FUNCTION ${s}.send_signal(p_now bigint, p_id text, p_session text, p_name text, p_payload text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
BEGIN
  PERFORM 1 FROM ${s}.sessions WHERE id = p_session FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.notFound}', MESSAGE = format('session %s does not exist', p_session);
  END IF;
  INSERT INTO ${s}.signals (id, session_id, name, payload, created_at_ms) VALUES (p_id, p_session, p_name, p_payload, v_now);
  UPDATE ${s}.sessions SET status = 'queued', waiting_for = NULL, wake_at_ms = NULL, updated_at_ms = v_now
    WHERE id = p_session AND status = 'waiting' AND waiting_for = p_name;
  RETURN v_now;
END $$;
`;
}
