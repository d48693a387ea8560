import { LongrunError, isLongrunError } from '@longrun/core';
import { classifySqliteError, WriterFailure } from './writer-failure.ts';
import type { WireError } from './writer-protocol.ts';

/** Translates a node:sqlite error (or a writer's failure) into a LongrunError, once, at the adapter boundary. */
export function translateSqliteError(error: unknown, doing: string): LongrunError {
  if (isLongrunError(error)) return error;
  return toLongrunError(classifySqliteError(error, doing));
}

export function toLongrunError(failure: WriterFailure): LongrunError {
  return new LongrunError(failure.code, failure.message, {
    cause: failure.cause,
    ...(failure.retryable === undefined ? {} : { retryable: failure.retryable }),
    ...(failure.details === undefined ? {} : { details: failure.details }),
  });
}

/** A failure the writer sent back as data (writer-protocol.ts). */
export function fromWireError(wire: WireError): LongrunError {
  const cause =
    wire.cause === undefined
      ? undefined
      : Object.assign(new Error(wire.cause.message), { errcode: wire.cause.errcode });
  return toLongrunError(
    new WriterFailure(wire.code, wire.message, {
      cause,
      ...(wire.retryable === undefined ? {} : { retryable: wire.retryable }),
      ...(wire.details === undefined ? {} : { details: wire.details }),
    }),
  );
}
