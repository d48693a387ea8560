import { storeSqlStates as lr } from '../translate-error.ts';

/**
 * Signals sent once (sendSignal's `once`: a decision on an approval): refused when one of the
 * name was sent to the session before, consumed or not. The check follows a transaction-level
 * advisory lock on (session, name), so of several sent at once exactly one lands; each statement
 * of a volatile plpgsql function reads a new snapshot, so the check sees a row the lock's last
 * holder committed. The one-key (bigint) lock form is used: the worker locks take the two-key
 * form, a space of their own.
 */
export function onceSignals(s: string): string {
  return `
CREATE INDEX signals_by_name ON ${s}.signals (session_id, name);

CREATE FUNCTION ${s}.send_signal_once(
  p_now bigint, p_id text, p_session text, p_name text, p_payload text, p_wake text
) RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_session || '/' || p_name, 19));
  IF EXISTS (SELECT 1 FROM ${s}.signals WHERE session_id = p_session AND name = p_name) THEN
    RAISE EXCEPTION USING ERRCODE = '${lr.invalidState}', MESSAGE = format(
      'a signal %s was already sent to session %s; only the first one counts', p_name, p_session);
  END IF;
  RETURN ${s}.send_signal(p_now, p_id, p_session, p_name, p_payload, p_wake);
END $$;
`;
}
