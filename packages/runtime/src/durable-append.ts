import {
  LongrunError,
  isLongrunError,
  isRetryable,
  newAppendId,
  type AppendRequest,
  type AppendResult,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import { backoffMs, pause } from './backoff.ts';

export interface DurableAppendOptions {
  /** Aborted when the lease is lost: retrying stops. */
  signal: AbortSignal;
  /** Told about each transient failure (a full disk, a dropped connection) while it lasts. */
  onStall?: (error: LongrunError) => void;
  onRecovered?: () => void;
}

/**
 * Appends, riding out transient store failures. A failure such as a dropped connection may hide a
 * commit that happened (the acknowledgement was lost), so the request carries an append id and is
 * sent again unchanged: the store answers a committed one with its first result (never
 * SEQ_CONFLICT), and one that did not commit is applied. Retries go on, with backoff, until the
 * append lands or `signal` aborts (the lease is lost); a full disk (STORAGE_FULL, which commits
 * nothing) is thrown at once. Returns the committed events, so the caller folds exactly what the
 * log holds.
 */
export async function appendDurably(
  store: SessionStore,
  request: AppendRequest,
  options: DurableAppendOptions,
): Promise<{ result: AppendResult; events: StoredEvent[] }> {
  const once: AppendRequest = { ...request, appendId: request.appendId ?? newAppendId() };
  let stalled = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await store.append(once);
      if (stalled) options.onRecovered?.();
      return { result, events: asStored(once, result) };
    } catch (error) {
      if (!isRetryable(error)) throw error;
      stalled = true;
      options.onStall?.(error as LongrunError);
      // A full disk does not pass by itself: the worker parks the session with the reason and
      // resumes it once there is room (worker/full-disk.ts), instead of retrying unseen.
      if (isLongrunError(error, 'STORAGE_FULL')) throw error;
    }
    await pause(backoffMs(attempt, 25, 2_000), options.signal);
    if (options.signal.aborted) {
      throw new LongrunError('LEASE_LOST', `gave up appending: ${String(options.signal.reason)}`);
    }
  }
}

/** The events of a committed append as the log holds them. */
export function asStored(request: AppendRequest, result: AppendResult): StoredEvent[] {
  return request.events.map((e, i) => ({
    ...e,
    sessionId: request.fence.sessionId,
    seq: request.expectedSeq + 1 + i,
    v: 1,
    atMs: result.atMs,
    epoch: request.fence.epoch,
  }));
}
