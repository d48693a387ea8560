/**
 * Group commit with the batch's arguments as columns. append_batch (schema 2) takes each append
 * as one JSON text: PostgreSQL parses the whole of it (its event datas and checkpoint included,
 * base64 for the packed ones) and rebuilds seven arrays from it with a subquery each before it
 * calls append_events. Here each argument of append_events comes as an array with one element
 * per append, and the arguments that are arrays themselves (the events, the signals consumed,
 * the checkpoint's parts) as one array for the whole batch with a count per append; the call
 * takes its slices, a simple expression that plpgsql evaluates without running a query. 32 peer
 * sessions on one server (pg_stat_statements with track = all, three interleaved runs, medians):
 * the batch statement took 190 µs a step with append_batch, 122 with append_batch_flat, of which
 * the writes append_events makes took ~94 and ~78; the client no longer writes each append as
 * JSON either.
 *
 * Each append still runs in its own subtransaction, so one that fails rolls back only its own
 * writes and comes back as an error row, in item order, as from append_batch. A value that only
 * jsonb refuses (a NUL in a tool's name) is a text here, cast inside the append's subtransaction,
 * so it fails alone. What the server refuses before the function runs (a NUL in a signal id, raw
 * in the batch's text[]) fails the whole statement and commits nothing: the client sends those
 * appends again one at a time, and each settles as it would have alone (send-appends.ts).
 * append_batch stays for a worker of the last version still running beside this one.
 */
export function flatAppendBatch(s: string): string {
  return `
CREATE FUNCTION ${s}.append_batch_flat(
  p_now bigint[], p_session text[], p_owner text[], p_epoch bigint[], p_expected bigint[],
  p_append_id text[], p_release boolean[], p_effects text[], p_status text[],
  p_status_if_pending text[], p_checkpoint_seq bigint[], p_checkpoint_state text[],
  p_keep_parts_from integer[],
  p_event_counts integer[], p_types text[], p_versions integer[], p_datas text[], p_packed bytea[],
  p_consume_counts integer[], p_consume text[],
  p_part_counts integer[], p_part_indexes integer[], p_part_values text[]
) RETURNS TABLE (ord integer, at_ms bigint, error_code text, error_message text, error_detail text)
LANGUAGE plpgsql AS $$
DECLARE
  -- Where this append's events, signals and parts start in the batch's arrays.
  v_event integer := 1;
  v_consume integer := 1;
  v_part integer := 1;
  v_last_event integer;
  v_parts integer;
BEGIN
  FOR i IN 1 .. coalesce(array_length(p_session, 1), 0) LOOP
    ord := i;
    at_ms := NULL; error_code := NULL; error_message := NULL; error_detail := NULL;
    v_last_event := v_event + p_event_counts[i] - 1;
    -- NULL: the append carries no parts (an empty slice would be parts to add: none).
    v_parts := p_part_counts[i];
    BEGIN
      at_ms := ${s}.append_events(
        p_now[i], p_session[i], p_owner[i], p_epoch[i], p_expected[i],
        p_types[v_event:v_last_event], p_versions[v_event:v_last_event],
        p_datas[v_event:v_last_event],
        p_effects[i]::jsonb, p_status[i]::jsonb, p_status_if_pending[i]::jsonb,
        p_checkpoint_seq[i], p_checkpoint_state[i],
        p_consume[v_consume:v_consume + p_consume_counts[i] - 1],
        p_release[i], p_append_id[i], p_packed[v_event:v_last_event],
        CASE WHEN v_parts IS NULL THEN NULL ELSE p_part_indexes[v_part:v_part + v_parts - 1] END,
        CASE WHEN v_parts IS NULL THEN NULL ELSE p_part_values[v_part:v_part + v_parts - 1] END,
        p_keep_parts_from[i]);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT,
        error_detail = PG_EXCEPTION_DETAIL;
    END;
    v_event := v_last_event + 1;
    v_consume := v_consume + p_consume_counts[i];
    v_part := v_part + coalesce(v_parts, 0);
    RETURN NEXT;
  END LOOP;
END $$;
`;
}
