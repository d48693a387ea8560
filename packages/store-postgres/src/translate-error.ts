import { LongrunError, isLongrunError } from '@longrun/core';
import { sharedServerConnectionsHint } from './server-sessions.ts';

/**
 * SQLSTATEs raised by longrun's own plpgsql functions (class `LR`, which no PostgreSQL error
 * uses). The migrations raise them; this file turns them back into LongrunError codes. Their
 * MESSAGE is already written for the caller, so it is passed through unchanged.
 */
export const storeSqlStates = {
  leaseLost: 'LR001',
  seqConflict: 'LR002',
  notFound: 'LR003',
  signalNotPending: 'LR004',
  invalidArgument: 'LR005',
  idempotencyConflict: 'LR006',
  invalidState: 'LR007',
} as const;

const fromStoreState = {
  [storeSqlStates.leaseLost]: 'LEASE_LOST',
  [storeSqlStates.seqConflict]: 'SEQ_CONFLICT',
  [storeSqlStates.notFound]: 'NOT_FOUND',
  [storeSqlStates.signalNotPending]: 'INVALID_STATE',
  [storeSqlStates.invalidArgument]: 'INVALID_ARGUMENT',
  [storeSqlStates.idempotencyConflict]: 'IDEMPOTENCY_CONFLICT',
  [storeSqlStates.invalidState]: 'INVALID_STATE',
} as const;

// Socket-level failures: the server is down, unreachable, or the connection dropped.
const networkCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ENOENT',
]);

// pg reports a dropped or never-established connection only in words. `timeout expired` is a
// client's connect timeout (a server that accepts TCP and never answers: a black hole, a frozen
// postmaster).
// `Query read timeout` is pg's query_timeout: no answer in time (a stalled or black-holed
// network); the connection is discarded and, like a drop, the statement may have committed.
const droppedConnection =
  /Connection terminated|not queryable|timeout exceeded when trying to connect|timeout expired|Connection ended|connection error|Query read timeout/i;

interface PgDriverError {
  code?: unknown;
  message?: unknown;
  detail?: unknown;
  errors?: unknown;
}

/** Where the store connects, without credentials, so errors can say what to check. */
export interface ServerTarget {
  host: string;
  port: string;
  database: string;
}

/** True when the error says the connection is gone (the statement's outcome may be unknown). */
export function isConnectionError(error: unknown): boolean {
  const e = (error ?? {}) as PgDriverError;
  const code = typeof e.code === 'string' ? e.code : '';
  if (
    networkCodes.has(code) ||
    code.startsWith('08') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03'
  ) {
    return true;
  }
  if (Array.isArray(e.errors) && e.errors.some(isConnectionError)) return true;
  return typeof e.message === 'string' && droppedConnection.test(e.message);
}

/** True when pg refused the statement before sending it: retrying it cannot apply it twice. */
export function wasNeverSent(error: unknown): boolean {
  const message = (error as PgDriverError | null)?.message;
  return (
    typeof message === 'string' &&
    /not queryable|timeout exceeded when trying to connect|timeout expired/i.test(message)
  );
}

/** True when the connection was refused: nothing reached the server. */
function refusedAtConnect(error: unknown): boolean {
  const e = (error ?? {}) as PgDriverError;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.every(refusedAtConnect);
  return e.code === 'ECONNREFUSED';
}

/** The server as messages name it: host:port/database. */
export function describeTarget(target: ServerTarget): string {
  return `${target.host}:${target.port}/${target.database}`;
}

/**
 * Translates a pg error into a LongrunError, once, at the adapter boundary. `kind` says whether
 * the statement could have changed anything: a dropped connection leaves a write's outcome
 * unknown, never a read's.
 */
export function translatePgError(
  error: unknown,
  doing: string,
  target: ServerTarget,
  kind: 'read' | 'write' = 'write',
): LongrunError {
  if (isLongrunError(error)) return error;
  const e = (error ?? {}) as PgDriverError;
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' && e.message !== '' ? e.message : describe(error);
  const text = `${doing}: ${message}`;
  const own = fromStoreState[code as keyof typeof fromStoreState];
  if (own !== undefined)
    return new LongrunError(own, message, { cause: error, details: parseDetail(e.detail) });
  const where = describeTarget(target);
  if (isConnectionError(error)) {
    const outcome =
      kind === 'read' || refusedAtConnect(error)
        ? 'nothing was written; retry once it answers'
        : 'a write in flight may or may not have committed, so re-read before retrying it';
    return new LongrunError(
      'STORE_UNAVAILABLE',
      `${text}. Check that PostgreSQL is running and accepting connections at ${where} (host, port, firewall); ${outcome}.`,
      { cause: error },
    );
  }
  return translateServerError(code, text, where, error);
}

function translateServerError(
  code: string,
  text: string,
  where: string,
  error: unknown,
): LongrunError {
  const unavailable = (hint: string, retryable = true): LongrunError =>
    new LongrunError('STORE_UNAVAILABLE', `${text}. ${hint}`, { cause: error, retryable });
  switch (code) {
    case '53100': // disk_full
      return new LongrunError(
        'STORAGE_FULL',
        `${text}. The PostgreSQL server at ${where} is out of disk space; nothing of this write was committed. Free space and longrun continues.`,
        { cause: error },
      );
    case '53200': // out_of_memory
    case '53300': // too_many_connections
    case '53400': // configuration_limit_exceeded
      return unavailable(
        `The server at ${where} is out of resources (memory or connections); retry, or lower poolSize.`,
      );
    case '40001': // serialization_failure
    case '40P01': // deadlock_detected
    case '55P03': // lock_not_available
    case '57014': // query_canceled (statement_timeout); the transaction rolled back
      return unavailable('The statement was rolled back by the server; retry.');
    case '42P05': // duplicate_prepared_statement
    case '26000': // invalid_sql_statement_name
      // longrun prepares each statement once per connection, by name: another client's statement
      // on the same server connection, or one that vanished between two queries of a client,
      // means the connections are shared per transaction.
      return unavailable(sharedServerConnectionsHint(where), false);
    case '25006': // read_only_sql_transaction
      return unavailable(
        `${where} is a read-only server (a standby?); point the store URL at the primary.`,
      );
    case '28000':
    case '28P01':
      return unavailable(`Check the user name and password in the store URL for ${where}.`, false);
    case '3D000':
      return unavailable(
        `The database does not exist on ${where}; create it (createdb) or fix the URL.`,
        false,
      );
    case '42501':
      return unavailable(
        'The database user lacks a privilege longrun needs (CREATE on the database, or on the schema).',
        false,
      );
    default:
      // Class 22 (data exception): input that passed the shared checks but not PostgreSQL's types.
      if (code.startsWith('22'))
        return new LongrunError('INVALID_ARGUMENT', text, { cause: error });
      return new LongrunError('INTERNAL', text, { cause: error });
  }
}

function parseDetail(detail: unknown): Record<string, unknown> | undefined {
  if (typeof detail !== 'string' || detail === '') return undefined;
  try {
    return JSON.parse(detail) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

function describe(error: unknown): string {
  const e = (error ?? {}) as PgDriverError;
  if (Array.isArray(e.errors) && e.errors.length > 0) return e.errors.map(describe).join('; ');
  if (typeof e.message === 'string' && e.message !== '') return e.message;
  return typeof e.code === 'string' ? e.code : String(error);
}
