import type { WorkerEvents, WorkerLogEntry } from './worker-events.ts';

/**
 * Structured logs: the worker's log lines, a line per schedule fire, and a line per session run
 * that ended (with its outcome), handed to `write` as JSON-ready objects. Returns the function that stops it.
 */
export function writeWorkerLog(
  worker: Pick<WorkerEvents, 'on'>,
  write: (entry: WorkerLogEntry) => void,
  options: { sessionEnds?: boolean } = {},
): () => void {
  const offs = [worker.on('log', write)];
  if (options.sessionEnds !== false)
    offs.push(
      worker.on('session.ended', ({ sessionId, outcome }) =>
        write({ level: 'info', msg: 'session ended', sessionId, outcome }),
      ),
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
