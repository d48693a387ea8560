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
 * What the writer thread is started with: the store's options and a doorbell, two Int32s: at
 * `rings`, a count the sender adds 1 to after each request it posts; at `asleep`, 1 while the
 * thread is (about to be) asleep on that count. The thread sleeps with Atomics.wait between
 * batches instead of in its event loop: a futex wake, without the event loop's turn and the
 * port's 'message' dispatch, answers the first request of a batch sooner. The sender wakes it
 * only when it sleeps: a busy thread (the common case under load) takes the request with its
 * next batch, and Atomics.notify, which takes a process-wide lock, is not called for it.
 */
export interface WriterThreadData extends WriterOptions {
  doorbell: SharedArrayBuffer;
}

/** The doorbell's two slots (see WriterThreadData). */
export const doorbellSlot = { rings: 0, asleep: 1 } as const;

/**
 * Rings the doorbell of a thread started with `doorbell`, after a request was posted to it.
 * Both sides use sequentially consistent atomics: the thread stores `asleep` before it reads the
 * count it waits on, the sender adds to the count before it reads `asleep`; so either the
 * thread's wait sees the new count (and returns at once) or the sender sees it asleep.
 */
export function ringDoorbell(doorbell: Int32Array): void {
  Atomics.add(doorbell, doorbellSlot.rings, 1);
  if (Atomics.load(doorbell, doorbellSlot.asleep) === 1)
    Atomics.notify(doorbell, doorbellSlot.rings);
}

/**
 * Sleeps the thread until the count moves past `rang` (at once if it already has). Called by the
 * thread with the count it read before it last looked at its port.
 */
export function sleepUntilRung(doorbell: Int32Array, rang: number): void {
  Atomics.store(doorbell, doorbellSlot.asleep, 1);
  Atomics.wait(doorbell, doorbellSlot.rings, rang);
  Atomics.store(doorbell, doorbellSlot.asleep, 0);
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
