import { LongrunError, isLongrunError, type ErrorCode } from '@longrun/core';

/**
 * The one table from error codes to HTTP statuses (STYLE.md: "HTTP status mapping lives in one
 * table"). Transport-level refusals that share a code with a 400 (a body too large, a wrong
 * content type, a wrong method) name their status through `transportStatus` below, in this file.
 */
export const statusByCode: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: 400,
  INVALID_PAYLOAD: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  NOT_FOUND: 404,
  GONE: 410,
  SEQ_CONFLICT: 409,
  LEASE_LOST: 409,
  INVALID_STATE: 409,
  IDEMPOTENCY_CONFLICT: 409,
  STORE_UNAVAILABLE: 503,
  STORAGE_FULL: 503,
  SANDBOX_UNAVAILABLE: 503,
  SANDBOX_BUSY: 503,
  SERVER_BUSY: 503,
  TOO_MANY_STREAMS: 429,
  PATH_OUTSIDE_WORKSPACE: 400,
  FILE_TYPE_REFUSED: 400,
  FILE_TOO_LARGE: 413,
  WORKSPACE_FULL: 507,
  MODEL_UNAVAILABLE: 502,
  MODEL_REJECTED: 502,
  MODEL_CONTEXT_EXCEEDED: 502,
  MODEL_OUTPUT_INVALID: 502,
  STORE_URL_INVALID: 500,
  SCHEMA_TOO_NEW: 500,
  DURABILITY_UNSAFE: 500,
  WORKSPACE_CORRUPT: 500,
  BUDGET_EXCEEDED: 409,
  INTERNAL: 500,
};

const transportStatus = { tooLarge: 413, mediaType: 415, method: 405 } as const;
type Transport = keyof typeof transportStatus;

export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

function transportError(
  transport: Transport,
  code: ErrorCode,
  message: string,
  details: Record<string, unknown> = {},
): LongrunError {
  return new LongrunError(code, message, { details: { ...details, transport } });
}

export function bodyTooLarge(limitBytes: number): LongrunError {
  return transportError(
    'tooLarge',
    'INVALID_PAYLOAD',
    `the request body is over the ${limitBytes}-byte limit; send less (large files belong in the workspace, not in a request)`,
  );
}

export function unsupportedMediaType(got: string | undefined): LongrunError {
  return transportError(
    'mediaType',
    'INVALID_ARGUMENT',
    `send the body as JSON with Content-Type: application/json (got ${JSON.stringify(got ?? 'none')})`,
  );
}

export function methodNotAllowed(method: string, allowed: readonly string[]): LongrunError {
  return transportError(
    'method',
    'INVALID_ARGUMENT',
    `${method} is not allowed here; use ${allowed.join(' or ')}`,
    { allow: allowed },
  );
}

export function notFound(what: string): LongrunError {
  return new LongrunError('NOT_FOUND', `${what} does not exist`);
}

/** Any thrown value as a LongrunError: a non-longrun error is a bug (INTERNAL). */
export function asLongrunError(error: unknown): LongrunError {
  if (isLongrunError(error)) return error;
  return new LongrunError('INTERNAL', 'the server failed unexpectedly; this is a bug in longrun', {
    cause: error,
  });
}

export function httpStatusOf(error: LongrunError): number {
  const transport = error.details?.transport;
  if (typeof transport === 'string' && transport in transportStatus)
    return transportStatus[transport as Transport];
  return statusByCode[error.code];
}

/** The typed JSON error response every failure gets. */
export function errorResponse(error: unknown): Response {
  const e = asLongrunError(error);
  const body: ErrorBody = { error: { code: e.code, message: e.message } };
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  if (e.code === 'UNAUTHENTICATED') headers['www-authenticate'] = 'Bearer';
  if (e.retryable) headers['retry-after'] = '1';
  if (Array.isArray(e.details?.allow)) headers.allow = e.details.allow.join(', ');
  // A refusal that says the caller holds too many connections frees this one at once.
  if (e.details?.closeConnection === true) headers.connection = 'close';
  return new Response(JSON.stringify(body), { status: httpStatusOf(e), headers });
}
