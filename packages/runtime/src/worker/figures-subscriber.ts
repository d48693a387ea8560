import type { RunOutcome } from '../run-outcome.ts';
import type { WorkerEvents } from './worker-events.ts';

/** Counts since the subscriber started: what `GET /v1/figures` can report about a worker. */
export interface WorkerFigures {
  /** Session runs ended in this process, by outcome. */
  sessionsEnded: Partial<Record<RunOutcome | 'error', number>>;
  eventsCommitted: number;
  appendStalls: number;
  leasesLost: number;
  livenessDoubts: number;
}

/** Keeps a worker's figures from its events; `figures()` answers a copy. */
export function countWorkerFigures(worker: Pick<WorkerEvents, 'on'>): {
  figures(): WorkerFigures;
  stop(): void;
} {
  const f: WorkerFigures = {
    sessionsEnded: {},
    eventsCommitted: 0,
    appendStalls: 0,
    leasesLost: 0,
    livenessDoubts: 0,
  };
  const offs = [
    worker.on('session.ended', ({ outcome }) => {
      f.sessionsEnded[outcome] = (f.sessionsEnded[outcome] ?? 0) + 1;
    }),
    worker.on('events.committed', ({ events }) => void (f.eventsCommitted += events.length)),
    worker.on('append.stalled', () => void f.appendStalls++),
    worker.on('lease.lost', () => void f.leasesLost++),
    worker.on('liveness.doubt', () => void f.livenessDoubts++),
  ];
  return {
    figures: () => ({ ...f, sessionsEnded: { ...f.sessionsEnded } }),
    stop: () => offs.forEach((off) => off()),
  };
}
