import { storeSqlStates as lr } from '../translate-error.ts';

/**
 * Webhooks of durable waits (core's WebhookStore): a hook per (session, hook id) counting its
 * deliveries, and its tokens, of which only the SHA-256 is kept. `deliver_webhook` locks the
 * session row first (as `send_signal` does) and then the hook's, so of two concurrent deliveries
 * to a single-use hook one wins; it returns the hook as it found it and whether it delivered (the
 * caller words the refusal: refuseIfGone in core). 'hook:' is core's webhookSignalPrefix.
 */
export function webhooks(s: string): string {
  return `
CREATE TABLE ${s}.webhooks (
  session_id text NOT NULL,
  hook_id text NOT NULL,
  multi_use boolean NOT NULL,
  expires_at_ms bigint,
  deliveries bigint NOT NULL DEFAULT 0,
  created_at_ms bigint NOT NULL,
  PRIMARY KEY (session_id, hook_id)
);
CREATE TABLE ${s}.webhook_tokens (
  token_hash text PRIMARY KEY,
  session_id text NOT NULL,
  hook_id text NOT NULL,
  created_at_ms bigint NOT NULL
);

CREATE FUNCTION ${s}.register_webhook(p_now bigint, p_session text, p_owner text, p_epoch bigint,
  p_hook text, p_token_hash text, p_multi boolean, p_expires bigint)
RETURNS SETOF ${s}.webhooks LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
BEGIN
  PERFORM ${s}.check_fence(p_session, p_owner, p_epoch);
  INSERT INTO ${s}.webhooks (session_id, hook_id, multi_use, expires_at_ms, created_at_ms)
    VALUES (p_session, p_hook, p_multi, p_expires, v_now) ON CONFLICT (session_id, hook_id) DO NOTHING;
  INSERT INTO ${s}.webhook_tokens (token_hash, session_id, hook_id, created_at_ms)
    VALUES (p_token_hash, p_session, p_hook, v_now) ON CONFLICT (token_hash) DO NOTHING;
  RETURN QUERY SELECT * FROM ${s}.webhooks w WHERE w.session_id = p_session AND w.hook_id = p_hook;
END $$;

CREATE FUNCTION ${s}.deliver_webhook(p_now bigint, p_token_hash text, p_signal text, p_payload text)
RETURNS TABLE (r_session text, r_hook text, r_multi boolean, r_expires bigint, r_deliveries bigint,
  r_status text, r_delivered boolean, r_now bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
  v_token ${s}.webhook_tokens;
  v_hook ${s}.webhooks;
  v_status text;
  v_ok boolean;
BEGIN
  SELECT * INTO v_token FROM ${s}.webhook_tokens t WHERE t.token_hash = p_token_hash;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.notFound}', MESSAGE = 'no webhook has this token';
  END IF;
  SELECT x.status INTO v_status FROM ${s}.sessions x WHERE x.id = v_token.session_id FOR UPDATE;
  SELECT * INTO v_hook FROM ${s}.webhooks w
    WHERE w.session_id = v_token.session_id AND w.hook_id = v_token.hook_id FOR UPDATE;
  v_ok := (v_hook.expires_at_ms IS NULL OR v_hook.expires_at_ms > v_now)
    AND (v_hook.multi_use OR v_hook.deliveries = 0)
    AND v_status NOT IN ('completed', 'failed', 'cancelled');
  IF v_ok THEN
    UPDATE ${s}.webhooks w SET deliveries = w.deliveries + 1
      WHERE w.session_id = v_hook.session_id AND w.hook_id = v_hook.hook_id;
    INSERT INTO ${s}.signals (id, session_id, name, payload, created_at_ms)
      VALUES (p_signal, v_hook.session_id, 'hook:' || v_hook.hook_id, p_payload, v_now);
    UPDATE ${s}.sessions x SET status = 'queued', waiting_for = NULL, wake_at_ms = NULL, updated_at_ms = v_now
      WHERE x.id = v_hook.session_id AND x.status = 'waiting' AND x.waiting_for = 'hook:' || v_hook.hook_id;
  END IF;
  RETURN QUERY SELECT v_hook.session_id, v_hook.hook_id, v_hook.multi_use, v_hook.expires_at_ms,
    v_hook.deliveries, v_status, v_ok, v_now;
END $$;
`;
}
