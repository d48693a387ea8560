import { storeSqlStates as lr } from '../translate-error.ts';

/**
 * Appends that survive a lost acknowledgement. The session row keeps the writer's id of its last
 * committed append (AppendRequest.appendId) and that append's time. A writer whose connection
 * dropped mid-append sends the same append again; append_events recognises its id and answers
 * as the first time instead of raising SEQ_CONFLICT. The fast path's UPDATE also requires a
 * different id, so an append with no events (whose seq check alone would pass again) is not
 * applied twice either. If the first attempt is still running on the server, the retry's UPDATE
 * waits on the row lock and then sees its outcome; if it arrives after the retry, it is the one
 * recognised. Either way an append applies at most once.
 */
export function appendIds(s: string): string {
  return `
ALTER TABLE ${s}.sessions ADD COLUMN last_append_id text, ADD COLUMN last_append_at_ms bigint;

DROP FUNCTION ${s}.append_events(bigint, text, text, bigint, bigint, text[], integer[], text[], jsonb,
  jsonb, jsonb, bigint, text, text[], boolean);

CREATE FUNCTION ${s}.append_events(
  p_now bigint, p_session text, p_owner text, p_epoch bigint, p_expected bigint,
  p_types text[], p_versions integer[], p_datas text[], p_effects jsonb,
  p_status jsonb, p_status_if_pending jsonb, p_checkpoint_seq bigint, p_checkpoint_state text,
  p_consume text[], p_release boolean, p_append_id text
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
  v_key bigint;
  v_session ${s}.sessions;
  v_effect record;
  v_signal text;
  v_status jsonb := p_status;
BEGIN
  UPDATE ${s}.sessions SET head_seq = p_expected + coalesce(array_length(p_types, 1), 0),
      last_append_id = p_append_id, last_append_at_ms = v_now
    WHERE id = p_session AND lease_epoch = p_epoch AND lease_owner = p_owner AND head_seq = p_expected
      AND last_append_id IS DISTINCT FROM p_append_id
    RETURNING key INTO v_key;
  IF NOT FOUND THEN
    SELECT * INTO v_session FROM ${s}.sessions WHERE id = p_session;
    IF FOUND AND v_session.last_append_id = p_append_id THEN
      RETURN v_session.last_append_at_ms;
    END IF;
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

CREATE OR REPLACE FUNCTION ${s}.append_batch(p_items text[])
RETURNS TABLE (ord integer, at_ms bigint, error_code text, error_message text, error_detail text)
LANGUAGE plpgsql AS $$
DECLARE
  v_item jsonb;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_items, 1), 0) LOOP
    ord := i;
    at_ms := NULL; error_code := NULL; error_message := NULL; error_detail := NULL;
    BEGIN
      v_item := p_items[i]::jsonb;
      -- Arrays are rebuilt in their JSON order (WITH ORDINALITY): event i gets seq expected + i.
      at_ms := ${s}.append_events(
        (v_item->>'now')::bigint, v_item->>'session', v_item->>'owner', (v_item->>'epoch')::bigint,
        (v_item->>'expected')::bigint,
        ARRAY(SELECT e FROM jsonb_array_elements_text(v_item->'types') WITH ORDINALITY AS t(e, o) ORDER BY o),
        ARRAY(SELECT e::integer FROM jsonb_array_elements_text(v_item->'versions') WITH ORDINALITY AS t(e, o) ORDER BY o),
        ARRAY(SELECT e FROM jsonb_array_elements_text(v_item->'datas') WITH ORDINALITY AS t(e, o) ORDER BY o),
        v_item->'effects', nullif(v_item->'status', 'null'), nullif(v_item->'statusIfPending', 'null'),
        (v_item->>'checkpointSeq')::bigint, v_item->>'checkpointState',
        ARRAY(SELECT e FROM jsonb_array_elements_text(v_item->'consume') WITH ORDINALITY AS t(e, o) ORDER BY o),
        (v_item->>'release')::boolean, v_item->>'appendId');
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT,
        error_detail = PG_EXCEPTION_DETAIL;
    END;
    RETURN NEXT;
  END LOOP;
END $$;
`;
}
