import { sessionId as toSessionId, type SessionStore, type StoredEvent } from '@longrun/core';
import type { WorkerEvents } from './worker-events.ts';

/** What metrics are derived from (@longrun/telemetry's `MetricDerivation` is one). */
export interface WorkerMetricsSink {
  /** `atMs`: the claim's time by the store's clock, which event times are in. */
  claimed(sessionId: string, atMs: number): void;
  /** The last event of the session's log when it was claimed (null: unknown). */
  claimedAfter(sessionId: string, last: StoredEvent | null): void;
  committed(sessionId: string, events: readonly StoredEvent[]): void;
  appendStalled(): void;
  appendRecovered(): void;
}

/**
 * Metrics: feeds the events this worker committed to `sink`, never what a run re-reads (so a
 * session taken over is not counted again), and for each claim the last event of the log before
 * it, read once (one row), which tells a takeover from a claim after a wait. Returns the
 * function that stops it.
 */
export function feedWorkerMetrics(
  worker: Pick<WorkerEvents, 'on'>,
  sink: WorkerMetricsSink,
  store: Pick<SessionStore, 'readEvents'>,
): () => void {
  const offs = [
    worker.on('session.claimed', ({ sessionId, headSeq, atMs }) => {
      sink.claimed(sessionId, atMs);
      store.readEvents(toSessionId(sessionId), headSeq - 1, 1).then(
        (events) => sink.claimedAfter(sessionId, events[0] ?? null),
        () => sink.claimedAfter(sessionId, null),
      );
    }),
    worker.on('events.committed', ({ sessionId, events }) => sink.committed(sessionId, events)),
    worker.on('append.stalled', () => sink.appendStalled()),
    worker.on('append.recovered', () => sink.appendRecovered()),
  ];
  return () => offs.forEach((off) => off());
}
