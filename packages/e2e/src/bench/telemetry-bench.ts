import { performance } from 'node:perf_hooks';
import type { StoredEvent } from '@longrun/core';
import { Worker, feedWorkerMetrics } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import { ProcessMetrics } from '@longrun/telemetry';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { ledgerAgent } from '../ledger/ledger-agent.ts';
import { percentile, round, summary } from './stats.ts';
import { StepTimer } from './step-timing.ts';

/** One agent session of `steps` steps (the harness bench's), with metrics on or off. */
async function run(make: () => Promise<StoreTarget>, steps: number, metricsOn: boolean) {
  const target = await make();
  const store = await openStore(target.url);
  const metrics = metricsOn
    ? new ProcessMetrics({ countSessions: () => store.countSessions() })
    : null;
  try {
    const timer = new StepTimer();
    const agent = timer.timed(ledgerAgent({ dir: target.dir, calls: 'append' }));
    const session = await store.createSession({ agent: agent.name, input: { steps } });
    const worker = new Worker({ store, agents: [agent], pollMs: 2 });
    if (metrics !== null) feedWorkerMetrics(worker, metrics.derivation, store);
    timer.watch(worker);
    await worker.start();
    await waitForStatus(store, session.id, ['completed'], 300_000);
    await worker.stop();
    const scrapesMs: number[] = [];
    if (metrics !== null)
      for (let i = 0; i < 20; i++) {
        const t = performance.now();
        await metrics.prometheusText();
        scrapesMs.push(performance.now() - t);
      }
    return {
      overheadsMs: timer.overheadsMs(),
      events: await store.readEvents(session.id, 0, 1_000_000),
      scrapesMs,
    };
  } finally {
    await metrics?.shutdown();
    await store.close();
    await target.drop();
  }
}

/** Replays of the log through the derivation, timed together: above the timer's resolution. */
const replays = 50;

/**
 * The derivation's own time per step: the session's log fed to a fresh `ProcessMetrics` one
 * event per commit (as many calls as can be: an upper bound), `replays` times, per step.
 */
function derivationPerStepMs(events: readonly StoredEvent[]): number[] {
  const byStep = new Map<number, StoredEvent[]>();
  let step = 0;
  for (const e of events.slice(1)) {
    if ('step' in e.data && typeof e.data.step === 'number') step = e.data.step;
    const list = byStep.get(step) ?? [];
    list.push(e);
    byStep.set(step, list);
  }
  const metrics = Array.from({ length: replays }, () => new ProcessMetrics());
  const perStep: number[] = [];
  for (const stepEvents of byStep.values()) {
    const t = performance.now();
    for (const m of metrics) for (const e of stepEvents) m.committed(e.sessionId, [e]);
    perStep.push((performance.now() - t) / replays);
  }
  return perStep;
}

/**
 * Metrics on vs off (issue 15's `telemetry.stepOverheadP50Ms`, its metrics half): the agent
 * harness's overhead per step (wall time minus model and tool time) in a session run with the
 * metrics subscriber attached and in one without, alternated after a warm-up of each; the
 * derivation's own time per step, replayed over the log (the precise figure: the on/off
 * difference is within the machine's noise); and the time of one scrape (`prometheusText`).
 */
export async function measureTelemetryMetrics(make: () => Promise<StoreTarget>, steps: number) {
  await run(make, 100, false);
  await run(make, 100, true);
  const off: number[] = [];
  const on: number[] = [];
  let last: Awaited<ReturnType<typeof run>> | null = null;
  for (let pass = 0; pass < 2; pass++) {
    off.push(...(await run(make, steps, false)).overheadsMs);
    last = await run(make, steps, true);
    on.push(...last.overheadsMs);
  }
  const derivation = derivationPerStepMs(last?.events ?? []);
  const offP50 = percentile(off, 50);
  const onP50 = percentile(on, 50);
  return {
    steps,
    stepOverheadP50Ms: {
      off: round(offP50, 4),
      on: round(onP50, 4),
      added: round(onP50 - offP50, 4),
    },
    derivationPerStepP50Ms: round(percentile(derivation, 50), 5),
    derivationPerStepP99Ms: round(percentile(derivation, 99), 5),
    scrapeMs: summary(last?.scrapesMs ?? []),
    overheadOffMs: summary(off),
    overheadOnMs: summary(on),
  };
}
