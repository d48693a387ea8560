import type { StoredEvent } from '@longrun/core';
import type { CliWorker } from './cli-worker.ts';
import type { FaultRun } from './fault-run.ts';
import { openWindows } from './records.ts';
import { sleep } from './tier.ts';

export interface BlackHoleReport {
  worker: string;
  workerId: string;
  /** The sessions the worker held when the black hole began, with the epoch it held each at. */
  held: Map<string, number>;
  /** Epoch ms (wall clock, as the store's `atMs`) when the black hole began and ended. */
  startedAtMs: number;
  healedAtMs: number;
  /** Per held session: from the black hole's start until another epoch held it, ms. */
  takeoverMs: number[];
  /** Sessions still not taken over when it ended. */
  notTakenOver: string[];
  /** Bytes the proxy held when it ended (delivered, or dropped with a reset). */
  heldBytes: number;
  end: 'deliver' | 'reset';
  /** It began while the worker was inside a tool run. */
  inTool: boolean;
  /** Lines Postgres logged after the heal for writes it refused as stale (epoch moved on). */
  staleRejections: string[];
}

export interface BlackHoleOptions {
  /** The black hole lasts at least this long, ms (make it longer than the lease TTL). */
  minMs: number;
  /** … and at most this long, waiting for every held session to be taken over. */
  maxMs: number;
  /** Kept up this long after the last takeover, so the new holders work while bytes wait. */
  afterTakeoverMs: number;
  /**
   * `deliver`: the partition heals within TCP's patience and everything held reaches Postgres,
   * late; `reset`: it outlasts it, both ends see a reset and the held bytes are dropped.
   */
  end: 'deliver' | 'reset';
  /**
   * Begin only while the worker is inside a tool run (waiting at most this long, ms), so that
   * the call's result is written into the black hole and must be rejected when it lands.
   */
  inToolWithinMs: number;
}

/** The sessions `workerId` holds now (running under its lease), with their epochs. */
export async function heldBy(run: FaultRun, workerId: string): Promise<Map<string, number>> {
  const records = await run.observer.records(run.observer.openIds());
  return new Map(
    records
      .filter((r) => r.status === 'running' && r.leaseOwner === workerId)
      .map((r) => [String(r.id), r.leaseEpoch]),
  );
}

/**
 * Partitions one worker from Postgres through its own proxy (the others keep running) until
 * every session it held has been taken over by another epoch, then ends the partition.
 */
export async function blackHole(
  run: FaultRun,
  worker: CliWorker,
  options: BlackHoleOptions,
): Promise<BlackHoleReport> {
  const workerId = worker.workerId ?? '';
  const proxy = run.proxy(worker.name);
  const inToolBy = performance.now() + options.inToolWithinMs;
  while (openWindows(run.dir, worker.pid).length === 0 && performance.now() < inToolBy) {
    await sleep(10);
  }
  const inTool = openWindows(run.dir, worker.pid).length > 0;
  const held = await heldBy(run, workerId);
  const startedAtMs = Date.now();
  const startedAt = performance.now();
  proxy.mode('blackhole');
  const takenAt = new Map<string, number>();
  let lastTakeover = startedAt;
  while (performance.now() - startedAt < options.maxMs) {
    const records = await run.observer.records([...held.keys()]);
    for (const r of records) {
      const moved = r.leaseEpoch > (held.get(String(r.id)) ?? 0);
      if (moved && !takenAt.has(String(r.id))) {
        takenAt.set(String(r.id), performance.now() - startedAt);
        lastTakeover = performance.now();
      }
    }
    const sinceStart = performance.now() - startedAt;
    const allMoved = takenAt.size === held.size;
    if (allMoved && sinceStart >= options.minMs) {
      if (performance.now() - lastTakeover >= options.afterTakeoverMs) break;
    }
    await sleep(50);
  }
  const heldBytes = proxy.stats().heldBytes;
  if (options.end === 'reset') proxy.resetAll();
  const healedAtMs = Date.now();
  const staleBefore = new Set(staleLines(run));
  proxy.mode('pass');
  // The held writes reach Postgres now: give them time to be refused, and the worker to notice.
  await sleep(3_000);
  const staleRejections = staleLines(run).filter((l) => !staleBefore.has(l));
  return {
    inTool,
    staleRejections,
    worker: worker.name,
    workerId,
    held,
    startedAtMs,
    healedAtMs,
    takeoverMs: [...takenAt.values()],
    notTakenOver: [...held.keys()].filter((id) => !takenAt.has(id)),
    heldBytes,
    end: options.end,
  };
}

/** The server's log lines (its last 300) about writes refused because their epoch is stale. */
function staleLines(run: FaultRun): string[] {
  return run.pg
    .log()
    .split('\n')
    .filter((l) => l.includes('is stale'));
}

/**
 * Writes that landed for the partitioned worker after it healed: events of an epoch it held
 * (when the black hole began) committed at or after the heal. Its held bytes reach Postgres then,
 * after the takeover, and every one of those writes must be rejected.
 */
export function lateWrites(
  report: BlackHoleReport,
  events: ReadonlyMap<string, readonly StoredEvent[]>,
): StoredEvent[] {
  return [...report.held].flatMap(([id, epoch]) =>
    (events.get(id) ?? []).filter((e) => e.epoch === epoch && e.atMs >= report.healedAtMs),
  );
}
