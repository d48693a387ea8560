import { performance } from 'node:perf_hooks';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { WorkerHandle } from '../crash/worker-handle.ts';
import { summary } from './stats.ts';
import { ledgerOf } from '../ledger/ledger-agent.ts';

/**
 * Time from `kill -9` of the worker running a session to the next event of that session.
 * SQLite: the killed process is restarted (the embedded shape) and reclaims its session at boot;
 * both kill→event and process start→event are reported. Postgres: a second worker is already
 * running and takes over through the dead worker's released connection lock, without waiting for
 * the lease TTL (set to 10 s here so that waiting for it would show).
 */
export async function measureTakeover(make: () => Promise<StoreTarget>, kills: number) {
  const target = await make();
  const store = await openStore(target.url);
  const env = { LONGRUN_LEASE_MS: '10000', LONGRUN_POLL_MS: '25' };
  const handles: WorkerHandle[] = [];
  const spawn = (id: string): WorkerHandle => {
    const h = new WorkerHandle(target.url, id, target.dir, env);
    handles.push(h);
    return h;
  };
  try {
    await store.createSession({
      agent: 'ledger',
      input: { steps: 100_000, toolDelayMs: 2 },
    });
    const killToEventMs: number[] = [];
    const startToEventMs: number[] = [];
    const sqlite = store.capabilities.connectionScopedLiveness === false;
    // Postgres: two workers run; whichever holds the session is killed and the other must take over.
    let pair = sqlite
      ? [spawn('bench-worker')]
      : [spawn('bench-worker-0'), spawn('bench-worker-1')];
    for (let k = 0; k < kills; k++) {
      await Promise.race(pair.map((h) => h.until(() => h.acked.length >= 10, 30_000, '10 acks')));
      await Promise.all(pair.map((h) => h.ready()));
      const active = pair.find((h) => h.acked.length >= 10) as WorkerHandle;
      await new Promise((r) => setTimeout(r, 5 + Math.random() * 20));
      await active.kill('SIGKILL');
      const killedAt = performance.now();
      let next: WorkerHandle;
      if (sqlite) {
        next = spawn('bench-worker');
        const startedAt = performance.now();
        await next.until(() => next.acked.length > 0, 30_000, 'first ack after restart');
        startToEventMs.push(performance.now() - startedAt);
        pair = [next];
      } else {
        next = pair.find((h) => h !== active) as WorkerHandle;
        const ackedBefore = next.acked.length;
        await next.until(() => next.acked.length > ackedBefore, 30_000, 'first ack after takeover');
        pair = [next, spawn(`bench-worker-${k + 2}`)];
      }
      killToEventMs.push(performance.now() - killedAt);
    }
    const ledger = ledgerOf(target.dir);
    const attempts = ledger.attempts();
    const applied = ledger.applied();
    const appliedKeys = new Set(applied.map((a) => a.key));
    const reRunKeys = [...attempts.entries()].filter(([, n]) => n > 1).map(([key]) => key);
    return {
      kills,
      killToNextEventMs: summary(killToEventMs),
      ...(sqlite ? { processStartToNextEventMs: summary(startToEventMs) } : {}),
      inFlightKeyedCalls: {
        reRunAfterKill: reRunKeys.length,
        appliedOnce: reRunKeys.every((k) => appliedKeys.has(k)),
        appliedTwice: applied.length - appliedKeys.size,
      },
    };
  } finally {
    await Promise.all(handles.map((h) => h.kill('SIGKILL')));
    await store.close();
    await target.drop();
  }
}
