/**
 * Sessions list in the order they were made. Two sessions made in the same millisecond used to
 * tie-break on their random ids, so a page could show them out of creation order; the integer
 * session key (identity, from schema 5) breaks the tie instead, and both listing indexes follow.
 * Signals (user messages, approval decisions) get the same kind of key, so two messages sent in
 * one millisecond are read in the order they were sent.
 */
export function creationOrder(s: string): string {
  return `
DROP INDEX ${s}.sessions_by_creation;
CREATE INDEX sessions_by_creation ON ${s}.sessions (created_at_ms, key);
DROP INDEX ${s}.sessions_by_tenant;
CREATE INDEX sessions_by_tenant ON ${s}.sessions (tenant_id, created_at_ms, key);

ALTER TABLE ${s}.signals ADD COLUMN created_order bigint GENERATED ALWAYS AS IDENTITY;
DROP INDEX ${s}.signals_pending;
CREATE INDEX signals_pending ON ${s}.signals (session_id, name, created_at_ms, created_order)
  WHERE consumed_at_ms IS NULL;
`;
}
