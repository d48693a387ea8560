/**
 * Cron schedules. `next_fire_at_ms` is the claim: fire_schedule applies a fire only if the row
 * still has the value the firer read and is not paused, under the row lock, and inserts the
 * sessions it starts in the same transaction (through create_session). However many workers race
 * on a tick, and however often one sends the same fire again, the tick is handled once.
 * `created_order` orders listing (two schedules made in one millisecond keep their order).
 */
export function schedules(s: string): string {
  return `
CREATE TABLE ${s}.schedules (
  id text PRIMARY KEY,
  tenant_id text NOT NULL,
  agent text NOT NULL,
  cron text NOT NULL,
  timezone text NOT NULL,
  input text NOT NULL,
  catch_up text NOT NULL,
  max_catch_up integer NOT NULL,
  overlap text NOT NULL,
  paused boolean NOT NULL DEFAULT false,
  next_fire_at_ms bigint NOT NULL,
  last_fired_at_ms bigint,
  last_session_id text,
  fired_count bigint NOT NULL DEFAULT 0,
  skipped_count bigint NOT NULL DEFAULT 0,
  created_at_ms bigint NOT NULL,
  updated_at_ms bigint NOT NULL,
  created_order bigint GENERATED ALWAYS AS IDENTITY
);
CREATE INDEX schedules_due ON ${s}.schedules (next_fire_at_ms) WHERE NOT paused;
CREATE INDEX schedules_by_tenant ON ${s}.schedules (tenant_id, created_order);

-- Returns 'fired', 'overlapped' or 'stale'. p_ids and p_datas: the sessions to start (ids and
-- their session.created data), one per tick fired; p_last_tick: the last of those ticks.
CREATE FUNCTION ${s}.fire_schedule(
  p_now bigint, p_id text, p_expected bigint, p_agent text, p_tenant text, p_next bigint,
  p_ids text[], p_datas text[], p_last_tick bigint, p_skipped bigint
) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  v_now bigint := ${s}.now_ms(p_now);
  v_row ${s}.schedules;
  v_count integer := coalesce(cardinality(p_ids), 0);
BEGIN
  SELECT * INTO v_row FROM ${s}.schedules WHERE id = p_id FOR UPDATE;
  IF NOT FOUND OR v_row.paused OR v_row.next_fire_at_ms <> p_expected
      OR v_row.agent <> p_agent OR v_row.tenant_id <> p_tenant THEN
    RETURN 'stale';
  END IF;
  IF v_count > 0 AND v_row.overlap = 'skip' AND EXISTS (
      SELECT 1 FROM ${s}.sessions WHERE id = v_row.last_session_id
        AND status NOT IN ('completed', 'failed', 'cancelled')) THEN
    UPDATE ${s}.schedules SET next_fire_at_ms = p_next, skipped_count = skipped_count + v_count + p_skipped,
      updated_at_ms = v_now WHERE id = p_id;
    RETURN 'overlapped';
  END IF;
  FOR i IN 1..v_count LOOP
    PERFORM ${s}.create_session(p_now, p_ids[i], p_tenant, p_agent, p_datas[i], NULL, NULL);
  END LOOP;
  UPDATE ${s}.schedules SET next_fire_at_ms = p_next,
    last_fired_at_ms = coalesce(p_last_tick, last_fired_at_ms),
    last_session_id = coalesce(p_ids[v_count], last_session_id),
    fired_count = fired_count + v_count, skipped_count = skipped_count + p_skipped,
    updated_at_ms = v_now
  WHERE id = p_id;
  RETURN 'fired';
END $$;
`;
}
