import { storeSqlStates as lr } from '../translate-error.ts';

/**
 * Storage per step (DESIGN: linear, under 1 kB). Every event and effect row repeated the session's
 * 37-character text id, in the heap and again in the primary key; random ids also made
 * concurrent sessions insert into the middle of that key and split its pages half full. Sessions
 * get an integer key, handed out in creation order, and the log and the effect records use it.
 * Columns are ordered widest first so that no byte goes to alignment padding. An effect record
 * stores its idempotency key only when it is not the default `<session id>:<step>:<call index>`.
 */
export function compactLog(s: string): string {
  return `
ALTER TABLE ${s}.sessions ADD COLUMN key bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX sessions_by_key ON ${s}.sessions (key);

CREATE TABLE ${s}.session_log (
  session_key bigint NOT NULL,
  seq bigint NOT NULL,
  at_ms bigint NOT NULL,
  epoch integer NOT NULL,
  v smallint NOT NULL,
  type text NOT NULL,
  data text NOT NULL,
  CONSTRAINT session_log_pkey PRIMARY KEY (session_key, seq)
);
INSERT INTO ${s}.session_log (session_key, seq, at_ms, epoch, v, type, data)
  SELECT x.key, e.seq, e.at_ms, e.epoch, e.v, e.type, e.data
  FROM ${s}.events e JOIN ${s}.sessions x ON x.id = e.session_id;
DROP TABLE ${s}.events;

CREATE TABLE ${s}.effect_records (
  session_key bigint NOT NULL,
  updated_at_ms bigint NOT NULL,
  step integer NOT NULL,
  call_index integer NOT NULL,
  attempts integer NOT NULL,
  tool text NOT NULL,
  effect text NOT NULL,
  status text NOT NULL,
  idempotency_key text,
  CONSTRAINT effect_records_pkey PRIMARY KEY (session_key, step, call_index)
);
INSERT INTO ${s}.effect_records
    (session_key, updated_at_ms, step, call_index, attempts, tool, effect, status, idempotency_key)
  SELECT x.key, f.updated_at_ms, f.step, f.call_index, f.attempts, f.tool, f.effect, f.status,
    nullif(f.idempotency_key, x.id || ':' || f.step || ':' || f.call_index)
  FROM ${s}.effects f JOIN ${s}.sessions x ON x.id = f.session_id;
DROP TABLE ${s}.effects;
`;
}

/** append_events and create_session, rewritten for the integer-keyed log; same signatures. */
export function compactWrites(s: string): string {
  return `
CREATE OR REPLACE FUNCTION ${s}.append_events(
  p_now bigint, p_session text, p_owner text, p_epoch bigint, p_expected bigint,
  p_types text[], p_versions integer[], p_datas text[], p_effects jsonb,
  p_status jsonb, p_status_if_pending jsonb, p_checkpoint_seq bigint, p_checkpoint_state text,
  p_consume text[], p_release boolean
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
  v_key bigint;
  v_session ${s}.sessions;
  v_effect record;
  v_signal text;
  v_status jsonb := p_status;
BEGIN
  UPDATE ${s}.sessions SET head_seq = p_expected + coalesce(array_length(p_types, 1), 0)
    WHERE id = p_session AND lease_epoch = p_epoch AND lease_owner = p_owner AND head_seq = p_expected
    RETURNING key INTO v_key;
  IF NOT FOUND THEN
    v_session := ${s}.check_fence(p_session, p_owner, p_epoch);
    RAISE EXCEPTION USING ERRCODE = '${lr.seqConflict}',
      MESSAGE = format('session %s is at seq %s, not %s; re-read the log and decide again', p_session, v_session.head_seq, p_expected),
      DETAIL = json_build_object('headSeq', v_session.head_seq)::text;
  END IF;
  INSERT INTO ${s}.session_log (session_key, seq, at_ms, epoch, v, type, data)
    SELECT v_key, p_expected + u.ord, v_now, p_epoch, u.v, u.type, u.data
    FROM unnest(p_types, p_versions, p_datas) WITH ORDINALITY AS u(type, v, data, ord);
  -- A loop, not one INSERT … SELECT: two changes to the same call in one append apply in order.
  FOR v_effect IN SELECT * FROM jsonb_to_recordset(p_effects)
      AS e(step integer, "callIndex" integer, tool text, effect text, "idempotencyKey" text, status text) LOOP
    INSERT INTO ${s}.effect_records AS f
        (session_key, updated_at_ms, step, call_index, attempts, tool, effect, status, idempotency_key)
      VALUES (v_key, v_now, v_effect.step, v_effect."callIndex", 1, v_effect.tool, v_effect.effect, v_effect.status,
        nullif(v_effect."idempotencyKey", p_session || ':' || v_effect.step || ':' || v_effect."callIndex"))
      ON CONFLICT (session_key, step, call_index) DO UPDATE SET
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

CREATE OR REPLACE FUNCTION ${s}.create_session(
  p_now bigint, p_id text, p_tenant text, p_agent text, p_data text, p_key text, p_hash text
) RETURNS SETOF ${s}.sessions LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
  v_earlier ${s}.idempotency_keys;
  v_key bigint;
BEGIN
  IF p_key IS NOT NULL THEN
    INSERT INTO ${s}.idempotency_keys (tenant_id, key, request_hash, session_id, created_at_ms)
      VALUES (p_tenant, p_key, p_hash, p_id, v_now) ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
      SELECT * INTO v_earlier FROM ${s}.idempotency_keys WHERE tenant_id = p_tenant AND key = p_key;
      IF v_earlier.request_hash <> p_hash THEN
        RAISE EXCEPTION USING ERRCODE = '${lr.idempotencyConflict}', MESSAGE = format(
          'idempotency key %s was used before with a different request; send the same request again, or use a new key for a new one',
          to_json(p_key));
      END IF;
      RETURN QUERY SELECT * FROM ${s}.sessions WHERE id = v_earlier.session_id;
      RETURN;
    END IF;
  END IF;
  INSERT INTO ${s}.sessions (id, tenant_id, agent, status, head_seq, created_at_ms, updated_at_ms)
    VALUES (p_id, p_tenant, p_agent, 'queued', 1, v_now, v_now) ON CONFLICT (id) DO NOTHING
    RETURNING key INTO v_key;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.invalidState}', MESSAGE = format(
      'session %s already exists; create it without an id or pick another', p_id);
  END IF;
  INSERT INTO ${s}.session_log (session_key, seq, at_ms, epoch, v, type, data)
    VALUES (v_key, 1, v_now, 0, 1, 'session.created', p_data);
  RETURN QUERY SELECT * FROM ${s}.sessions WHERE id = p_id;
END $$;
`;
}
