/**
 * A session created already claimed by its creator (CreateSessionInput.heldBy), in one
 * transaction: a fork whose log is still being copied must not be claimed by a worker, which would
 * run it from its first step. The claim is the claim rule's own update (sql.ts, claimTarget).
 */
export function heldSessions(s: string): string {
  return `
CREATE FUNCTION ${s}.create_held_session(
  p_now bigint, p_id text, p_tenant text, p_agent text, p_data text, p_owner text, p_lease_ms bigint
) RETURNS SETOF ${s}.sessions LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
BEGIN
  PERFORM ${s}.create_session(p_now, p_id, p_tenant, p_agent, p_data, NULL, NULL);
  RETURN QUERY UPDATE ${s}.sessions SET lease_owner = p_owner, lease_epoch = lease_epoch + 1,
      lease_expires_at_ms = v_now + p_lease_ms, status = 'running', status_reason = NULL,
      wake_at_ms = NULL, waiting_for = NULL, updated_at_ms = v_now
    WHERE id = p_id RETURNING *;
END $$;
`;
}
