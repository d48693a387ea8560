import type { StoredEvent } from '@longrun/core';
import type { WorkerEvents, WorkerLogEntry } from './worker-events.ts';

/** Where a session's log stands in this process: its last committed seq and step. */
interface Position {
  seq: number;
  step: number | null;
}

function stepOf(e: StoredEvent): number | null {
  const data = e.data as { step?: unknown };
  return typeof data.step === 'number' ? data.step : null;
}

/**
 * Structured logs: the worker's log lines, a line per schedule fire, and a line per session run
 * that ended (with its outcome), handed to `write` as JSON-ready objects. Every line about a
 * session carries its id, and the seq and step its log had reached in this process when the
 * line was written (from the commits the worker tells), so a line can be placed in the log.
 * Returns the function that stops it.
 */
export function writeWorkerLog(
  worker: Pick<WorkerEvents, 'on'>,
  write: (entry: WorkerLogEntry) => void,
  options: { sessionEnds?: boolean } = {},
): () => void {
  const positions = new Map<string, Position>();
  const placed = (entry: WorkerLogEntry): WorkerLogEntry => {
    if (entry.sessionId === undefined) return entry;
    const at = positions.get(entry.sessionId);
    if (at === undefined) return entry;
    return {
      ...entry,
      seq: entry.seq ?? at.seq,
      ...(at.step === null || entry.step !== undefined ? {} : { step: at.step }),
    };
  };
  const offs = [
    worker.on('events.committed', ({ sessionId, events }) => {
      const last = events.at(-1);
      if (last === undefined) return;
      let step = positions.get(sessionId)?.step ?? null;
      for (const e of events) step = stepOf(e) ?? step;
      positions.set(sessionId, { seq: last.seq, step });
    }),
    worker.on('log', (entry) => write(placed(entry))),
  ];
  offs.push(
    worker.on('session.ended', ({ sessionId, outcome }) => {
      if (options.sessionEnds !== false)
        write(placed({ level: 'info', msg: 'session ended', sessionId, outcome }));
      // Another run of it, here or elsewhere, starts from its own commits.
      positions.delete(sessionId);
    }),
  );
  offs.push(
    worker.on('schedule.fired', (fired) =>
      write({
        level: 'info',
        msg:
          fired.outcome === 'overlapped'
            ? 'schedule tick skipped: the previous run still runs'
            : 'schedule fired',
        ...fired,
      }),
    ),
  );
  return () => offs.forEach((off) => off());
}
