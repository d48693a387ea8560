import { join } from 'node:path';
import { z } from 'zod';
import type {
  ModelClient,
  SessionRecord,
  SessionId,
  SessionStatus,
  SessionStore,
  StoredEvent,
} from '@longrun/core';
import { Worker, defineAgent, defineTool } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { round } from './stats.ts';

export interface TimerWaitsSizes {
  sessions: number;
  /** From the start until the first wake: long enough for every session to be parked. */
  parkMs: number;
  /** The wake times are spread evenly over this long. */
  spreadMs: number;
}

export const timerWaitsSizes: TimerWaitsSizes = {
  sessions: 10_000,
  parkMs: 90_000,
  spreadMs: 100_000,
};
export const quickTimerWaitsSizes: TimerWaitsSizes = {
  sessions: 1_000,
  parkMs: 15_000,
  spreadMs: 10_000,
};

const napTool = defineTool({
  name: 'nap',
  description: 'sleeps, durably, until the given time',
  input: z.object({ untilMs: z.number().int() }),
  effect: 'pure',
  run: async ({ untilMs }, context) => {
    await context.sleepUntil(untilMs);
    return 'awake';
  },
});

/** A zero-latency model: the first call naps until the session's time, the second answers. */
const napModel: ModelClient = {
  id: 'bench:nap',
  async stream(request) {
    const answered = request.messages.some((m) => m.role === 'tool');
    const input = request.messages.find((m) => m.role === 'user');
    const untilMs = input?.role === 'user' ? Number(input.content) : 0;
    return answered
      ? {
          text: 'awake',
          toolCalls: [],
          finishReason: 'stop',
          usage: { inputTokens: 1, outputTokens: 1 },
          modelId: 'bench:nap',
        }
      : {
          text: '',
          toolCalls: [{ id: 'nap', name: 'nap', args: { untilMs } }],
          finishReason: 'tool-calls',
          usage: { inputTokens: 1, outputTokens: 1 },
          modelId: 'bench:nap',
        };
  },
};

/** This process's memory after a full collection (when the bench runs with --expose-gc). */
function settledMemory(): { rss: number; heapUsed: number } {
  globalThis.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

/**
 * How many sessions the query matches, a page at a time and keeping none: the bench runs in the
 * worker's process, and holding 10,000 records each poll would grow the heap it measures.
 */
async function countAll(
  store: SessionStore,
  query: { status?: SessionStatus; agent?: string },
): Promise<number> {
  let count = 0;
  let afterId: SessionId | undefined;
  for (;;) {
    const page = await store.listSessions({
      ...query,
      limit: 1_000,
      ...(afterId === undefined ? {} : { afterId }),
    });
    count += page.length;
    afterId = page.at(-1)?.id;
    if (page.length < 1_000) return count;
  }
}

/** Every session the query matches, a page at a time (read once, at the end). */
async function listAll(
  store: SessionStore,
  query: { status?: SessionStatus; agent?: string },
): Promise<SessionRecord[]> {
  const all: SessionRecord[] = [];
  for (;;) {
    const last = all.at(-1);
    const page = await store.listSessions({
      ...query,
      limit: 1_000,
      ...(last === undefined ? {} : { afterId: last.id }),
    });
    all.push(...page);
    if (page.length < 1_000) return all;
  }
}

/**
 * `sessions` sessions each wait on a durable timer (`context.sleepUntil` in a tool), all parked
 * at once, their wake times spread over `spreadMs`: what the waits cost the worker and how late each
 * wakes. The cost: RSS and heap growth (after a full collection) from before the sessions
 * existed to when all wait — rows, not processes. Before that baseline the worker runs as many
 * sessions through a nap that is due at once, so its code is loaded and V8's heap (its young
 * generation grows to 134 MB under such a burst, and keeps that size) is at working size: what
 * the figure shows is what waiting sessions hold, not the heap a burst of work leaves. Lateness:
 * when each
 * wakes (`wait.resolved` commit time minus the timer's time, by the store's clock). Sessions
 * parked after their own wake time (the machine was too slow to park them all in `parkMs`) are
 * counted in `parkedLate` and left out of the lateness figures.
 */
export async function measureTimerWaits(
  make: () => Promise<StoreTarget>,
  sizes: TimerWaitsSizes = timerWaitsSizes,
  log: (line: string) => void = (line) => void process.stderr.write(`${line}\n`),
) {
  const target = await make();
  const store = await openStore(target.url);
  const napper = (name: string) =>
    defineAgent({
      name,
      model: napModel,
      instructions: 'nap, then answer',
      tools: [napTool],
      workspaceSnapshots: false,
      workspaceRoot: join(target.dir, 'ws'),
    });
  const agent = napper('napper');
  const warmupAgent = napper('napper-warmup');
  const worker = new Worker({ store, agents: [agent, warmupAgent] });
  try {
    await worker.start();
    // Warm-up: sessions that nap until now and end, so the worker's code is loaded and its heap
    // at working size before the baseline; what the waits then add is what they cost.
    const warmUntil = await store.nowMs();
    for (let i = 0; i < sizes.sessions; i++)
      await store.createSession({ agent: warmupAgent.name, input: String(warmUntil) });
    while (
      (await countAll(store, { status: 'completed', agent: warmupAgent.name })) < sizes.sessions
    )
      await new Promise((r) => setTimeout(r, 100));
    const before = settledMemory();
    const start = await store.nowMs();
    const firstWake = start + sizes.parkMs;
    for (let i = 0; i < sizes.sessions; i++) {
      const untilMs = Math.round(firstWake + (i / sizes.sessions) * sizes.spreadMs);
      await store.createSession({ agent: 'napper', input: String(untilMs) });
    }
    log(`[bench] waits: ${sizes.sessions} sessions created; parking them`);
    let waiting = 0;
    for (;;) {
      waiting = await countAll(store, { status: 'waiting' });
      if (waiting >= sizes.sessions || (await store.nowMs()) >= firstWake) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const allWaiting = settledMemory();
    const parkedAtMs = (await store.nowMs()) - start;
    log(`[bench] waits: ${waiting} waiting after ${parkedAtMs} ms; waiting for the wakes`);
    const deadline = Date.now() + sizes.parkMs + sizes.spreadMs + 120_000;
    // Nothing but the worker runs while the timers come due: counting 10,000 sessions here
    // would stall this process's event loop, the worker's, and show as lateness.
    const lastWake = firstWake + sizes.spreadMs;
    const untilAllDue = Math.max(0, lastWake - (await store.nowMs())) + 1_000;
    await new Promise((r) => setTimeout(r, untilAllDue));
    while ((await countAll(store, { status: 'completed', agent: 'napper' })) < sizes.sessions) {
      if (Date.now() > deadline) throw new Error('the sessions did not all wake in time');
      await new Promise((r) => setTimeout(r, 500));
    }
    const lateness: number[] = [];
    let parkedLate = 0;
    for (const s of await listAll(store, { agent: 'napper' })) {
      const events = await store.readEvents(s.id, 0, 100);
      const started = events.find(
        (e): e is Extract<StoredEvent, { type: 'wait.started' }> => e.type === 'wait.started',
      );
      const resolved = events.find((e) => e.type === 'wait.resolved');
      const untilMs = started?.data.untilMs;
      if (untilMs === undefined || resolved === undefined) continue;
      if ((started?.atMs ?? 0) > untilMs) {
        parkedLate++;
        continue;
      }
      lateness.push(resolved.atMs - untilMs);
    }
    lateness.sort((a, b) => a - b);
    const at = (q: number) =>
      lateness[Math.min(lateness.length - 1, Math.floor(q * lateness.length))] ?? Number.NaN;
    const rssGrowthMb = round((allWaiting.rss - before.rss) / 2 ** 20, 1);
    const heapGrowthMb = round((allWaiting.heapUsed - before.heapUsed) / 2 ** 20, 1);
    const wakeLatenessP99Ms = at(0.99);
    return {
      sessions: sizes.sessions,
      waitingAtOnce: waiting,
      parkMs: parkedAtMs,
      rssGrowthMb,
      heapGrowthMb,
      heapBytesPerWaitingSession: Math.round(
        (allWaiting.heapUsed - before.heapUsed) / Math.max(1, waiting),
      ),
      wakeLatenessP50Ms: at(0.5),
      wakeLatenessP99Ms,
      wakeLatenessMaxMs: lateness.at(-1) ?? Number.NaN,
      parkedLate,
      targets: {
        rssGrowthMb: { bar: '< 20', met: rssGrowthMb < 20 },
        wakeLatenessP99Ms: { bar: '< 100', met: wakeLatenessP99Ms < 100 },
      },
    };
  } finally {
    await worker.stop();
    await store.close();
    await target.drop();
  }
}
