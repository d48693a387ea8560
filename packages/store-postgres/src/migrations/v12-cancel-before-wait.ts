import { appendIds } from './v7-append-ids.ts';

const waitedSignalPending = `IF p_status->>'waitingFor' IS NOT NULL AND EXISTS (SELECT 1 FROM `;

/**
 * A session that parks to wait while a cancel request is already in its inbox (sent while it
 * still ran, so the signal's `interrupt` wake found it running) is queued at once instead, like
 * one whose awaited signal is already there: the cancel is not held up until the wait ends.
 * append_events is v7's, with that one condition added (core's effectiveStatus gives the status
 * to take).
 */
export function cancelBeforeWait(s: string): string {
  const v7 = appendIds(s);
  const start = v7.indexOf(`CREATE FUNCTION ${s}.append_events(`);
  const end = v7.indexOf('END $$;', start) + 'END $$;'.length;
  const body = v7.slice(start, end);
  if (start < 0 || !body.includes(waitedSignalPending)) {
    throw new Error('migration 12: append_events of migration 7 no longer has the expected shape');
  }
  const cancelPending = `(p_status->>'status' = 'waiting' AND EXISTS (SELECT 1 FROM ${s}.signals
        WHERE session_id = p_session AND name = 'cancel' AND consumed_at_ms IS NULL)) OR `;
  const closing = 'AND consumed_at_ms IS NULL) THEN\n      v_status := p_status_if_pending;';
  const changed = body
    .replace(
      `CREATE FUNCTION ${s}.append_events(`,
      `CREATE OR REPLACE FUNCTION ${s}.append_events(`,
    )
    .replace(
      waitedSignalPending,
      `IF ${cancelPending}(p_status->>'waitingFor' IS NOT NULL AND EXISTS (SELECT 1 FROM `,
    )
    .replace(closing, closing.replace(') THEN', ')) THEN'));
  if (!changed.includes(cancelPending) || !changed.includes(')) THEN')) {
    throw new Error('migration 12: could not add the cancel check to append_events');
  }
  return `${changed}\n`;
}
