import {
  LongrunError,
  isRetryable,
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
 * commit that happened (the acknowledgement was lost), so before trying again it reads the log:
 * if the events are there under this writer's epoch, the append happened and is not repeated.
 * Returns the committed events, so the caller folds exactly what the log holds.
 */
export async function appendDurably(
  store: SessionStore,
  request: AppendRequest,
  options: DurableAppendOptions,
): Promise<{ result: AppendResult; events: StoredEvent[] }> {
  let stalled = false;
  for (let attempt = 0; ; attempt++) {
    try {
      const result = await store.append(request);
      if (stalled) options.onRecovered?.();
      return { result, events: asStored(request, result) };
    } catch (error) {
      if (!isRetryable(error)) throw error;
      stalled = true;
      options.onStall?.(error as LongrunError);
    }
    await pause(backoffMs(attempt, 25, 2_000), options.signal);
    if (options.signal.aborted) {
      throw new LongrunError('LEASE_LOST', `gave up appending: ${String(options.signal.reason)}`);
    }
    const committed = await findCommitted(store, request).catch((error: unknown) => {
      if (isRetryable(error)) return null;
      throw error;
    });
    if (committed !== null && committed.length > 0) {
      if (stalled) options.onRecovered?.();
      const last = committed.at(-1) as StoredEvent;
      return { result: { headSeq: last.seq, atMs: last.atMs }, events: committed };
    }
  }
}

/** The request's events if the log already holds them under the writer's epoch, else null. */
async function findCommitted(
  store: SessionStore,
  request: AppendRequest,
): Promise<StoredEvent[] | null> {
  const n = request.events.length;
  if (n === 0) return null;
  const found = await store.readEvents(request.fence.sessionId, request.expectedSeq, n);
  if (found.length !== n) return null;
  const same = found.every(
    (stored, i) =>
      stored.epoch === request.fence.epoch &&
      stored.type === request.events[i]?.type &&
      JSON.stringify(stored.data) === JSON.stringify(request.events[i]?.data),
  );
  return same ? found : null;
}

function asStored(request: AppendRequest, result: AppendResult): StoredEvent[] {
  return request.events.map((e, i) => ({
    ...e,
    sessionId: request.fence.sessionId,
    seq: request.expectedSeq + 1 + i,
    v: 1,
    atMs: result.atMs,
    epoch: request.fence.epoch,
  }));
}
