import type { DurabilityReport, ErrorCode } from '@longrun/core';
import type { SqliteDurabilityOptions } from './durability.ts';
import type { WriteName } from './sqlite-writes.ts';
import { classifySqliteError } from './writer-failure.ts';

/** What the writer thread is started with (workerData). */
export interface WriterOptions extends SqliteDurabilityOptions {
  path: string;
  busyTimeoutMs: number;
  /** The store clock's time, for the migration's record. */
  nowMs: number;
}

/**
 * What the writer thread is started with: the store's options and a doorbell, one Int32 the
 * sender adds 1 to (and notifies) after each request it posts. The thread sleeps on it with
 * Atomics.wait between batches instead of in its event loop: a futex wake, without the event
 * loop's turn and the port's 'message' dispatch, answers the first request of a batch sooner.
 */
export interface WriterThreadData extends WriterOptions {
  doorbell: SharedArrayBuffer;
}

/** Rings the doorbell of a thread started with `doorbell`, after a request was posted to it. */
export function ringDoorbell(doorbell: Int32Array): void {
  Atomics.add(doorbell, 0, 1);
  Atomics.notify(doorbell, 0);
}

/** One write, or the last message: `close` (commit what came before, then close). */
export interface WriteRequest {
  id: number;
  name: WriteName | 'close';
  args: unknown;
}

export type WriteReply =
  { id: number; ok: true; value: unknown } | { id: number; ok: false; error: WireError };

/** What the writer thread says: its connection opened (or did not), or a batch's outcomes. */
export type WriterMessage =
  { opened: DurabilityReport } | { failed: WireError } | { replies: WriteReply[] };

/** A failure as plain data: structured clone keeps an Error's message, not its code. */
export interface WireError {
  code: ErrorCode;
  message: string;
  retryable: boolean | undefined;
  details: Record<string, unknown> | undefined;
  /** The driver error's message and SQLite result code, when a driver error was translated. */
  cause: { message: string; errcode: unknown } | undefined;
}

/** Any error met while writing, as the wire carries it (translate-error.ts reads it back). */
export function toWireError(error: unknown, doing: string): WireError {
  const failure = classifySqliteError(error, doing);
  const cause = failure.cause as { message?: unknown; errcode?: unknown } | null | undefined;
  return {
    code: failure.code,
    message: failure.message,
    retryable: failure.retryable,
    details: failure.details,
    cause:
      cause === undefined || cause === null
        ? undefined
        : {
            message: typeof cause.message === 'string' ? cause.message : 'unknown error',
            errcode: cause.errcode,
          },
  };
}
