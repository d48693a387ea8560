import { appendIds } from './v7-append-ids.ts';
import { cancelBeforeWait } from './v12-cancel-before-wait.ts';

const oldLogInsert = `INSERT INTO $S.session_log (session_key, seq, at_ms, epoch, v, type, data)
    SELECT v_key, p_expected + u.ord, v_now, p_epoch, u.v, u.type, u.data
    FROM unnest(p_types, p_versions, p_datas) WITH ORDINALITY AS u(type, v, data, ord);`;

const newLogInsert = `INSERT INTO $S.session_log (session_key, seq, at_ms, epoch, v, type, data, packed)
    SELECT v_key, p_expected + u.ord, v_now, p_epoch, u.v, u.type, u.data, u.packed
    FROM unnest(p_types, p_versions, p_datas, p_packed) WITH ORDINALITY AS u(type, v, data, packed, ord);`;

const oldParams = 'p_consume text[], p_release boolean, p_append_id text\n)';

const lastBatchArgs = `(v_item->>'release')::boolean, v_item->>'appendId');`;

const packedArg = `ARRAY(SELECT decode(e, 'base64') FROM jsonb_array_elements_text(v_item->'packed') WITH ORDINALITY AS t(e, o) ORDER BY o)`;

/** A function's CREATE statement in a migration's text, through its closing `END $$;`. */
function functionIn(text: string, name: string): string {
  const start = text.indexOf(`FUNCTION ${name}(`);
  const from = text.lastIndexOf('CREATE', start);
  const end = text.indexOf('END $$;', start) + 'END $$;'.length;
  return start < 0 ? '' : text.slice(from, end);
}

/**
 * An event's data may be stored packed (`@longrun/core/packed-json`: one format byte, then the
 * JSON deflated against a dictionary of what events repeat) in `packed`, with `data` NULL; rows
 * written before keep their text in `data` and are read as they are. PostgreSQL compresses only
 * values over ~2 kB (TOAST), so an event of a few hundred bytes was stored whole: the log of an
 * 800-step agent run was 553 kB of JSON in 2,403 rows, 186 kB packed. Both column changes are
 * catalog-only (no table rewrite); the new column sits in the null bitmap the row header already
 * has room for, so a row costs no more than before plus its packed bytes. append_events takes the
 * packed values beside the texts (p_packed, NULL where the text is kept) and append_batch reads
 * them from each item's JSON as base64; everything else is migration 12's.
 */
export function packedEvents(s: string): string {
  const body = functionIn(cancelBeforeWait(s), `${s}.append_events`);
  const before = oldLogInsert.replaceAll('$S', s);
  const batch = functionIn(appendIds(s), `${s}.append_batch`);
  if (!body.includes(before) || !body.includes(oldParams) || !batch.includes(lastBatchArgs)) {
    throw new Error('migration 15: append_events or append_batch no longer has the expected shape');
  }
  // append_batch is migration 7's, passing the packed datas of each item's JSON as well.
  const appendBatch = batch.replace(
    lastBatchArgs,
    `${lastBatchArgs.slice(0, -2)},\n        ${packedArg});`,
  );
  const appendEvents = body
    .replace(
      `CREATE OR REPLACE FUNCTION ${s}.append_events(`,
      `CREATE FUNCTION ${s}.append_events(`,
    )
    .replace(oldParams, oldParams.replace('\n)', ', p_packed bytea[]\n)'))
    .replace(before, newLogInsert.replaceAll('$S', s));
  return `
ALTER TABLE ${s}.session_log ALTER COLUMN data DROP NOT NULL, ADD COLUMN packed bytea;

DROP FUNCTION ${s}.append_events(bigint, text, text, bigint, bigint, text[], integer[], text[], jsonb,
  jsonb, jsonb, bigint, text, text[], boolean, text);

${appendEvents}

${appendBatch}
`;
}
