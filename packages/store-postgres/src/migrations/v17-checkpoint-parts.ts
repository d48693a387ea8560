import { functions } from './v1-tables.ts';
import { packedEvents } from './v15-packed-events.ts';

const oldParams = 'p_append_id text, p_packed bytea[]\n)';
const partParams = 'p_part_indexes integer[], p_part_values text[], p_keep_parts_from integer';

const oldSaveParams = 'p_seq bigint, p_state text\n)';

/** The end of the checkpoint upsert in append_events (migration 7 on) and in save_checkpoint (1). */
const upsertEnd = 'WHERE excluded.seq > c.seq;';
const appendUpsertEnd = `      ${upsertEnd}\n  END IF;`;
const saveUpsertEnd = `    ${upsertEnd}\nEND $$;`;

const packedArg = `ARRAY(SELECT decode(e, 'base64') FROM jsonb_array_elements_text(v_item->'packed') WITH ORDINALITY AS t(e, o) ORDER BY o));`;

/** append_batch's arguments for the parts, from each item's JSON (absent or null: none). */
const partArgs = `ARRAY(SELECT e::integer FROM jsonb_array_elements_text(nullif(v_item->'partIndexes', 'null')) WITH ORDINALITY AS t(e, o) ORDER BY o),
        ARRAY(SELECT e FROM jsonb_array_elements_text(nullif(v_item->'partValues', 'null')) WITH ORDINALITY AS t(e, o) ORDER BY o),
        (v_item->>'keepPartsFrom')::integer);`;

/** A function's CREATE statement in a migration's text (not its DROP), through `END $$;`. */
function functionIn(text: string, name: string): string {
  const created = [`CREATE FUNCTION ${name}(`, `CREATE OR REPLACE FUNCTION ${name}(`]
    .map((head) => text.indexOf(head))
    .filter((at) => at >= 0);
  if (created.length === 0) return '';
  const from = Math.min(...created);
  const end = text.indexOf('END $$;', from);
  return end < 0 ? '' : text.slice(from, end + 'END $$;'.length);
}

/**
 * What a checkpoint write does with its parts, right after the checkpoint upsert, with `key` the
 * session's integer key: only if the upsert wrote the row (FOUND: inserted, or replaced by a newer
 * seq), first the parts below p_keep_parts_from go, then each part added is stored unless the
 * session has that index already (the stored one is kept: an index always names one value).
 */
function applyParts(s: string, key: string, indent: string): string {
  return `IF FOUND THEN
  IF p_keep_parts_from IS NOT NULL THEN
    DELETE FROM ${s}.checkpoint_parts WHERE session_key = ${key} AND idx < p_keep_parts_from;
  END IF;
  IF p_part_indexes IS NOT NULL THEN
    INSERT INTO ${s}.checkpoint_parts (session_key, idx, value)
      SELECT ${key}, u.idx, u.value FROM unnest(p_part_indexes, p_part_values) AS u(idx, value)
      ON CONFLICT (session_key, idx) DO NOTHING;
  END IF;
END IF;`
    .split('\n')
    .map((line) => indent + line)
    .join('\n');
}

/**
 * Checkpoint parts. A checkpoint carried the session's whole transcript, and it is rewritten every
 * few dozen events, so each rewrite cost O(transcript): the writes of a long run grew with the
 * square of its length. A checkpoint now carries only what changed; sealed runs of messages are
 * parts (CheckpointWrite.parts), each written once into checkpoint_parts beside it and read back
 * with it. A checkpoint write that replaces the stored one (an insert, or a newer seq) removes the
 * session's parts below its keepFrom and stores each part it adds unless the session already has
 * that index; one that does not replace it changes no part; one without parts leaves them as they
 * are. append_events (migration 15's) and save_checkpoint (migration 1's) take the parts as three
 * more arguments, and append_batch (migration 15's) passes them from each item's JSON
 * (`partIndexes`, `partValues`, `keepPartsFrom`). An older longrun would write checkpoints without
 * their parts (losing the transcript they hold), hence the new version.
 */
export function checkpointParts(s: string): string {
  const appendBody = functionIn(packedEvents(s), `${s}.append_events`);
  const batch = functionIn(packedEvents(s), `${s}.append_batch`);
  const save = functionIn(functions(s), `${s}.save_checkpoint`);
  if (
    !appendBody.includes(oldParams) ||
    !appendBody.includes(appendUpsertEnd) ||
    !batch.includes(packedArg) ||
    !save.includes(oldSaveParams) ||
    !save.includes(saveUpsertEnd)
  ) {
    throw new Error(
      'migration 17: append_events, append_batch or save_checkpoint no longer has the expected shape',
    );
  }
  // Replacements are functions: a replacement string would read `$$` as one `$`.
  const appendEvents = appendBody
    .replace(oldParams, () => `${oldParams.slice(0, -2)},\n  ${partParams}\n)`)
    .replace(
      appendUpsertEnd,
      () => `      ${upsertEnd}\n${applyParts(s, 'v_key', '    ')}\n  END IF;`,
    );
  const appendBatch = batch.replace(
    packedArg,
    () => `${packedArg.slice(0, -2)},\n        ${partArgs}`,
  );
  const saveCheckpoint = save
    .replace(oldSaveParams, () => `${oldSaveParams.slice(0, -2)},\n  ${partParams}\n)`)
    .replace(
      saveUpsertEnd,
      () => `    ${upsertEnd}\n${applyParts(s, 'v_session.key', '  ')}\nEND $$;`,
    );
  return `
CREATE TABLE ${s}.checkpoint_parts (
  session_key bigint NOT NULL,
  idx integer NOT NULL,
  value text NOT NULL,
  CONSTRAINT checkpoint_parts_pkey PRIMARY KEY (session_key, idx)
);

DROP FUNCTION ${s}.append_events(bigint, text, text, bigint, bigint, text[], integer[], text[], jsonb,
  jsonb, jsonb, bigint, text, text[], boolean, text, bytea[]);

${appendEvents}

${appendBatch}

DROP FUNCTION ${s}.save_checkpoint(bigint, text, text, bigint, bigint, text);

${saveCheckpoint}
`;
}
