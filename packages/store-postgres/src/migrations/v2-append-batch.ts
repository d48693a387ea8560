/**
 * Group commit: many appends, of any sessions, in one statement, hence one round trip, one
 * transaction and one WAL flush. Each runs append_events in its own subtransaction (a BEGIN …
 * EXCEPTION block), so an append that fails rolls back only its own writes and comes back as an
 * error row (SQLSTATE, message, detail: what a solo append would have raised) instead of aborting
 * the others. Items are JSON texts, parsed inside their subtransaction, so that one item
 * PostgreSQL cannot parse (a NUL in a tool name, say) fails alone. Rows come back in item order.
 */
export function appendBatch(s: string): string {
  return `
CREATE FUNCTION ${s}.append_batch(p_items text[])
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
        (v_item->>'release')::boolean);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS error_code = RETURNED_SQLSTATE, error_message = MESSAGE_TEXT,
        error_detail = PG_EXCEPTION_DETAIL;
    END;
    RETURN NEXT;
  END LOOP;
END $$;
`;
}
