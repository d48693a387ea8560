import {
  LongrunError,
  isLongrunError,
  sessionId,
  type SessionId,
  type SessionRecord,
  type SessionStore,
} from '@longrun/core';
import { notFound } from './http-errors.ts';
import type { Caller } from './route-table.ts';

function quoted(raw: string): string {
  return JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw);
}

/** The same 404 for an id that does not exist, names another tenant's session, or is malformed. */
export function noSuchSession(raw: string): LongrunError {
  return notFound(`session ${quoted(raw)}`);
}

/**
 * The caller's session with this id, or NOT_FOUND. Another tenant's session answers exactly like
 * a session that does not exist (same status, same body), and nothing of it is read beyond the
 * record that says whose it is. A malformed id (traversal, control characters) is a 404 too: no
 * session can have it.
 */
export async function sessionOf(
  store: SessionStore,
  caller: Caller,
  raw: string,
): Promise<SessionRecord> {
  let id: SessionId;
  try {
    id = sessionId(raw);
  } catch {
    throw noSuchSession(raw);
  }
  let record: SessionRecord;
  try {
    record = await store.getSession(id);
  } catch (error) {
    if (isLongrunError(error, 'NOT_FOUND')) throw noSuchSession(raw);
    throw error;
  }
  if (record.tenantId !== caller.tenantId) throw noSuchSession(raw);
  return record;
}

/** An approval id as the harness makes them; anything else cannot name an approval (404). */
export function approvalIdOf(raw: string, session: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(raw)) {
    throw new LongrunError('NOT_FOUND', `no approval ${quoted(raw)} in session ${session}`);
  }
  return raw;
}
