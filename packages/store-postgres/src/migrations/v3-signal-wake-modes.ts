import { storeSqlStates as lr } from '../translate-error.ts';

/**
 * Signals that wake more than the session waiting for them: `interrupt` (a cancel request) also
 * wakes a session waiting for anything or paused; `reopen` (a follow-up message) also a
 * completed one. Replaces send_signal, which gains the wake mode.
 */
export function signalWakeModes(s: string): string {
  return `
DROP FUNCTION ${s}.send_signal(bigint, text, text, text, text);
CREATE FUNCTION ${s}.send_signal(p_now bigint, p_id text, p_session text, p_name text, p_payload text, p_wake text)
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
    WHERE id = p_session AND (
      (status = 'waiting' AND waiting_for = p_name)
      OR (p_wake = 'interrupt' AND status IN ('waiting', 'paused'))
      OR (p_wake = 'reopen' AND status = 'completed'));
  RETURN v_now;
END $$;
`;
}
