import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import type { StoredEvent } from '@longrun/core';
import { Worker, feedWorkerMetrics, openTraceExport, type TraceExport } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import { ProcessMetrics } from '@longrun/telemetry';
import type { StoreTarget } from '../store-targets.ts';
import { waitForStatus } from '../crash/reference-run.ts';
import { ledgerAgent } from '../ledger/ledger-agent.ts';
import { percentile, round, summary } from './stats.ts';
import { StepTimer } from './step-timing.ts';

/** An OTLP/HTTP receiver that reads each export request whole and answers 200: spans' sink. */
async function otlpReceiver(): Promise<{
  url: string;
  spansBytes: () => number;
  close: () => Promise<void>;
}> {
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1/traces`,
    spansBytes: () => bytes,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/**
 * One agent session of `steps` steps (the harness bench's), with metrics and traces on or off
 * (traces exported over OTLP/HTTP protobuf, by the SDK's exporter, to `tracesUrl`).
 */
async function run(
  make: () => Promise<StoreTarget>,
  steps: number,
  metricsOn: boolean,
  tracesUrl: string | null = null,
) {
  const target = await make();
  const store = await openStore(target.url);
  const metrics = metricsOn
    ? new ProcessMetrics({ countSessions: () => store.countSessions() })
    : null;
  const traces: TraceExport | null =
    tracesUrl === null
      ? null
      : await openTraceExport({ store, env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: tracesUrl } });
  try {
    const timer = new StepTimer();
    const agent = timer.timed(ledgerAgent({ dir: target.dir, calls: 'append' }));
    const session = await store.createSession({ agent: agent.name, input: { steps } });
    const worker = new Worker({ store, agents: [agent], pollMs: 2 });
    if (metrics !== null) feedWorkerMetrics(worker, metrics.derivation, store);
    traces?.subscribe(worker);
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
    await traces?.close();
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

/**
 * `telemetry.stepOverheadP50Ms`: the agent harness's overhead per step (wall time minus model and
 * tool time) with metrics and traces both on — spans derived from each commit and exported over
 * OTLP/HTTP protobuf to a receiver on loopback — vs both off, alternated after a warm-up of each.
 */
export async function measureTelemetryOverhead(make: () => Promise<StoreTarget>, steps: number) {
  const receiver = await otlpReceiver();
  try {
    await run(make, 100, false);
    await run(make, 100, true, receiver.url);
    const off: number[] = [];
    const on: number[] = [];
    for (let pass = 0; pass < 2; pass++) {
      off.push(...(await run(make, steps, false)).overheadsMs);
      on.push(...(await run(make, steps, true, receiver.url)).overheadsMs);
    }
    const offP50 = percentile(off, 50);
    const onP50 = percentile(on, 50);
    return {
      steps,
      off: round(offP50, 4),
      on: round(onP50, 4),
      added: round(onP50 - offP50, 4),
      otlpBytesReceived: receiver.spansBytes(),
      overheadOffMs: summary(off),
      overheadOnMs: summary(on),
    };
  } finally {
    await receiver.close();
  }
}
