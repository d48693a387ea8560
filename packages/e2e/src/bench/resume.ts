import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { ModelClient, SessionStore } from '@longrun/core';
import { Worker, defineAgent, defineTool } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { round } from './stats.ts';

/**
 * Resumes measured per session; the figure is their median. 21, not 5: on a shared 2-core
 * machine a median of 5 moved the long session's figure between 3.7 and 9.8 ms run to run.
 */
const resumes = 21;

/**
 * What a claim of a long agent session costs before its next model call: a session of `steps`
 * steps (a zero-latency scripted model, one tool call per step) is stopped at `stopAt`, then
 * claimed `resumes` times by a fresh worker. `eventsRead` counts the events the claim read from
 * the log (the checkpoint's tail); `ms` is the time from the claim's answer to the model call.
 * Each resumed model call blocks until the worker stops, so nothing is appended and every
 * resume starts from the same log. The checkpoint holds the transcript so far (as compact records,
 * see runtime's `transcript-codec.ts`), so its bytes and the time to read and parse them grow with
 * the session even though the events read do not; `minMs` is the fastest resume, for comparison.
 */
export async function measureResume(
  make: () => Promise<StoreTarget>,
  steps: number,
  stopAt: number,
) {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const agent = (model: ModelClient) =>
      defineAgent({
        name: 'resume',
        model,
        instructions: 'bench',
        tools: [note],
        maxSteps: steps + 1,
        workspaceSnapshots: false,
        workspaceRoot: join(target.dir, 'ws'),
      });
    const session = await store.createSession({ agent: 'resume', input: 'go' });
    await runUntilStep(store, agent(scripted(steps)), stopAt);
    const { headSeq } = await store.getSession(session.id);
    const checkpoint = await store.latestCheckpoint(session.id);
    const checkpointBytes = Buffer.byteLength(JSON.stringify(checkpoint?.state ?? null));
    const reads: number[] = [];
    const times: number[] = [];
    for (let i = 0; i < resumes; i++) {
      const counted = countingStore(store);
      let called!: (at: number) => void;
      const modelCalled = new Promise<number>((resolve) => (called = resolve));
      const blocked: ModelClient = {
        id: 'blocked',
        stream: (request) => {
          called(performance.now());
          return new Promise((_resolve, reject) =>
            request.signal?.addEventListener('abort', () => reject(new Error('stopped'))),
          );
        },
      };
      const worker = new Worker({ store: counted.store, agents: [agent(blocked)], pollMs: 1 });
      await worker.start();
      const calledAt = await modelCalled;
      await worker.stop();
      reads.push(counted.eventsRead);
      times.push(calledAt - (counted.claimedAt ?? calledAt));
    }
    times.sort((a, b) => a - b);
    return {
      steps,
      stoppedAtStep: stopAt,
      headSeq,
      checkpointSeq: checkpoint?.seq ?? 0,
      checkpointBytes,
      eventsRead: Math.max(...reads),
      ms: round(times[Math.floor(times.length / 2)] ?? Number.NaN),
      minMs: round(times[0] ?? Number.NaN),
    };
  } finally {
    await store.close();
    await target.drop();
  }
}

const note = defineTool({
  name: 'note',
  description: 'notes a line',
  input: z.object({ line: z.string() }),
  effect: 'idempotent',
  run: async ({ line }) => `noted ${line}`,
});

function scripted(steps: number): ModelClient {
  return scriptedModel((request) => {
    const done = request.messages.filter((m) => m.role === 'assistant').length;
    return done >= steps
      ? { text: 'done' }
      : { text: `step ${done + 1}`, toolCalls: [{ name: 'note', args: { line: `${done + 1}` } }] };
  });
}

/** Runs the session until the model has answered step `stopAt`, then stops the worker. */
async function runUntilStep(
  store: SessionStore,
  agent: ReturnType<typeof defineAgent>,
  stopAt: number,
): Promise<void> {
  let reached!: () => void;
  const done = new Promise<void>((resolve) => (reached = resolve));
  const worker = new Worker({
    store,
    agents: [agent],
    pollMs: 1,
  });
  worker.on('events.committed', ({ events }) => {
    if (events.some((e) => e.type === 'model.responded' && e.data.step >= stopAt)) reached();
  });
  await worker.start();
  await done;
  await worker.stop();
}

/** The store, counting the events its reads return and noting when a claim returned a lease. */
function countingStore(store: SessionStore) {
  const counts = { eventsRead: 0, claimedAt: undefined as number | undefined };
  const counted = new Proxy(store, {
    get(target, property) {
      if (property === 'readEvents')
        return async (...args: Parameters<SessionStore['readEvents']>) => {
          const events = await target.readEvents(...args);
          counts.eventsRead += events.length;
          return events;
        };
      if (property === 'claimNext')
        return async (...args: Parameters<SessionStore['claimNext']>) => {
          const lease = await target.claimNext(...args);
          if (lease !== null) counts.claimedAt = performance.now();
          return lease;
        };
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as () => unknown).bind(target) : value;
    },
  });
  return {
    store: counted,
    get eventsRead() {
      return counts.eventsRead;
    },
    get claimedAt() {
      return counts.claimedAt;
    },
  };
}
