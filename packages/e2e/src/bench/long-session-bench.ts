import { openStore } from '@longrun/cli';
import type { ModelClient, SessionStore } from '@longrun/core';
import type { StoreTarget } from '../store-targets.ts';
import {
  longSessionAgent,
  runLongSession,
  startLongSessionServer,
  wireModel,
  type LongSessionShape,
} from '../long-session/long-session.ts';
import { timeResume } from './resume.ts';
import { round } from './stats.ts';

/** Resumes measured at the stop; the figure is their median. */
const resumes = 5;

/**
 * Issue 13's `longSession`: the long-session e2e's session (real AI SDK Anthropic client, wire
 * server enforcing a 128k window and making up each turn, one `note` call a step) for `steps`
 * steps on one store. Stopped after step `steps - 100` (a stop between steps leaves the log as a
 * kill -9 there would), resumed `resumes` times by a fresh worker whose model call blocks
 * (`resumeEventsRead`, `resumeMs`: events read and ms from the claim to the model call), then
 * run to the end. Step times are between consecutive `model.responded` commits (p50 of the first
 * and last 100); a step's overhead is its time less its model calls' (the client's and the wire
 * server's, summaries included), which grow with the transcript sent; `bytesPerStep` is the
 * events' JSON per step, overall and over the last 1,000;
 * RSS and heap (after a full collection) are this process's — worker, wire server (which keeps
 * no request bodies here) and bench together — at step 1,000 and at the end.
 */
export async function measureLongSession(
  make: () => Promise<StoreTarget>,
  steps: number,
  log: (line: string) => void,
) {
  const shape: LongSessionShape = {
    steps,
    windowTokens: 128_000,
    protocol: 'anthropic',
    outputChars: 2_000,
  };
  const target = await make();
  const store: SessionStore = await openStore(target.url);
  const server = await startLongSessionServer(shape, { keepBodies: false });
  try {
    // The model's own time (the client and the wire server, both in this process), summaries
    // included, is taken out of each step to give the harness's overhead.
    const modelTime = { ms: 0 };
    const model = timedModel(wireModel(server.baseURL, shape.protocol), modelTime);
    const agent = longSessionAgent(server.baseURL, shape, target.dir, undefined, model);
    const session = await store.createSession({ agent: agent.name, input: `take ${steps} notes` });
    const times: number[] = [];
    const overheads: number[] = [];
    let modelMsBefore = 0;
    let rssMbAt1000 = Number.NaN;
    let heapMbAt1000 = Number.NaN;
    const onStep = (step: number, ms: number): void => {
      times[step - 1] = ms;
      overheads[step - 1] = ms - (modelTime.ms - modelMsBefore);
      modelMsBefore = modelTime.ms;
      if (step === 1_000) ({ rssMb: rssMbAt1000, heapMb: heapMbAt1000 } = settledMemoryMb());
      if (step % 1_000 === 0) log(`step ${step}`);
    };
    const stopAt = Math.max(1, steps - 100);
    await runLongSession(store, agent, session.id, { onStep, stopAfterStep: stopAt });
    const resumed: { eventsRead: number; ms: number }[] = [];
    const blockedAgent = (model: ModelClient) =>
      longSessionAgent(server.baseURL, shape, target.dir, undefined, model);
    for (let i = 0; i < resumes; i++) resumed.push(await timeResume(store, blockedAgent));
    await runLongSession(store, agent, session.id, { onStep });
    const ended = await store.getSession(session.id);
    const { rssMb: rssMbAtEnd, heapMb: heapMbAtEnd } = settledMemoryMb();
    const events = await store.readEvents(session.id, 0, 10_000_000);
    const bytes = events.map((e) => Buffer.byteLength(JSON.stringify(e.data)));
    const lastThousandFrom = events.findIndex(
      (e) => e.type === 'model.responded' && e.data.step === Math.max(1, steps - 999),
    );
    const lastBytes = bytes.slice(Math.max(0, lastThousandFrom)).reduce((a, b) => a + b, 0);
    const resumeMs = resumed.map((r) => r.ms).sort((a, b) => a - b);
    return {
      steps,
      status: ended.status,
      compactions: events.filter((e) => e.type === 'context.compacted').length,
      stepP50MsFirst100: p50(times.slice(1, 101)),
      stepP50MsLast100: p50(times.slice(-100)),
      stepOverheadP50MsFirst100: p50(overheads.slice(1, 101)),
      stepOverheadP50MsLast100: p50(overheads.slice(-100)),
      bytesPerStep: round(bytes.reduce((a, b) => a + b, 0) / steps, 0),
      bytesPerStepLast1000: round(lastBytes / Math.min(1_000, steps), 0),
      rssMbAt1000,
      rssMbAtEnd,
      heapMbAt1000,
      heapMbAtEnd,
      resumeEventsRead: Math.max(...resumed.map((r) => r.eventsRead)),
      resumeMs: round(resumeMs[Math.floor(resumeMs.length / 2)] ?? Number.NaN),
      resumedAtStep: stopAt,
      windowTokens: shape.windowTokens,
      largestRequestTokens: Math.max(...server.requests.map((r) => r.tokens ?? 0)),
      wireViolations: server.violations.length,
    };
  } finally {
    await server.close();
    await store.close();
    await target.drop();
  }
}

/** `model`, adding the time each of its calls takes to `spent.ms`. */
function timedModel(model: ModelClient, spent: { ms: number }): ModelClient {
  return {
    ...model,
    async stream(request, onTextDelta) {
      const start = performance.now();
      try {
        return await model.stream(request, onTextDelta);
      } finally {
        spent.ms += performance.now() - start;
      }
    },
  };
}

/** This process's RSS and JS heap, in MiB, after a full collection (the bench has --expose-gc). */
function settledMemoryMb(): { rssMb: number; heapMb: number } {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rssMb: round(rss / 2 ** 20, 1), heapMb: round(heapUsed / 2 ** 20, 1) };
}

function p50(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  return round(sorted[Math.floor(sorted.length / 2)] ?? Number.NaN, 2);
}
