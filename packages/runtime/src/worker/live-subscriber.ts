import type { StoredEvent } from '@longrun/core';
import type { WorkerEvents } from './worker-events.ts';

/** What a live channel takes from a worker: deltas at once, commits, and session ends. */
export interface LiveSink {
  textDelta(sessionId: string, step: number, attempt: number, text: string): void;
  appended(events: readonly StoredEvent[]): void;
  ended(sessionId: string): void;
}

/**
 * Feeds a live channel (the in-process one, or Postgres LISTEN/NOTIFY to API nodes elsewhere)
 * from a worker's events. Returns the function that stops it.
 */
export function publishLive(worker: Pick<WorkerEvents, 'on'>, sink: LiveSink): () => void {
  const offs = [
    worker.on('model.delta', (d) => sink.textDelta(d.sessionId, d.step, d.attempt, d.text)),
    worker.on('events.committed', (c) => sink.appended(c.events)),
    worker.on('session.ended', (e) => sink.ended(e.sessionId)),
  ];
  return () => offs.forEach((off) => off());
}
