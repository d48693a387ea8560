import { storeSqlStates as lr } from '../translate-error.ts';

/**
 * Tenants (every API query is scoped by one; sessions made without one belong to 'default'),
 * idempotent session creation, API keys (only the SHA-256 of the secret), and content-addressed
 * blobs for workspace snapshots. create_session replaces the createSession statement so that the
 * idempotency check and the insert are one round trip.
 */
export function tenantsKeysBlobs(s: string): string {
  return `
ALTER TABLE ${s}.sessions ADD COLUMN tenant_id text NOT NULL DEFAULT 'default';
CREATE INDEX sessions_by_tenant ON ${s}.sessions (tenant_id, created_at_ms, id);

CREATE TABLE ${s}.idempotency_keys (
  tenant_id text NOT NULL,
  key text NOT NULL,
  request_hash text NOT NULL,
  session_id text NOT NULL,
  created_at_ms bigint NOT NULL,
  PRIMARY KEY (tenant_id, key)
);

CREATE TABLE ${s}.api_keys (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  name text NOT NULL,
  secret_hash text NOT NULL,
  created_at_ms bigint NOT NULL,
  revoked_at_ms bigint
);

CREATE TABLE ${s}.blobs (
  hash text PRIMARY KEY,
  size bigint NOT NULL,
  bytes bytea NOT NULL,
  created_at_ms bigint NOT NULL
);
-- Blobs are compressed already or are not worth compressing twice; store them out of line as is.
ALTER TABLE ${s}.blobs ALTER COLUMN bytes SET STORAGE EXTERNAL;

-- Under READ COMMITTED a concurrent insert of the same key waits for the first transaction; the
-- next statement's fresh snapshot then sees its row, so N concurrent creations make one session.
CREATE FUNCTION ${s}.create_session(
  p_now bigint, p_id text, p_tenant text, p_agent text, p_data text, p_key text, p_hash text
) RETURNS SETOF ${s}.sessions LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
  v_earlier ${s}.idempotency_keys;
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
    VALUES (p_id, p_tenant, p_agent, 'queued', 1, v_now, v_now) ON CONFLICT (id) DO NOTHING;
  IF NOT FOUND THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.invalidState}', MESSAGE = format(
      'session %s already exists; create it without an id or pick another', p_id);
  END IF;
  INSERT INTO ${s}.events (session_id, seq, type, v, data, at_ms, epoch)
    VALUES (p_id, 1, 'session.created', 1, p_data, v_now, 0);
  RETURN QUERY SELECT * FROM ${s}.sessions WHERE id = p_id;
END $$;
`;
}
