import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { z } from 'zod';
import type { ModelClient, ModelMessage, SessionStore } from '@longrun/core';
import { Worker, defineAgent, defineTool, readCheckpoint } from '@longrun/runtime';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { round } from './stats.ts';

/** Resumes measured per session; each figure is their median. */
const resumes = 21;

/** The shape of a session to resume: `steps` steps, stopped once step `stopAt` is recorded. */
export interface ResumeShape {
  steps: number;
  stopAt: number;
}

/**
 * The agent's context window, when it has one (it then compacts), and the characters of each
 * `note` result (default: the short receipt `noted N`).
 */
export interface ResumeContext {
  windowTokens?: number;
  outputChars?: number;
}

/**
 * What a claim of a long agent session costs before its next model call, against a short one's:
 * for each shape a session
 * (a zero-latency model, one tool call per step) is run to its stop in a store of its own, then
 * each is claimed `resumes` times by a fresh worker, the sessions in turn (short, long, short,
 * …), so that both see the same load on a shared machine: measured one after the other, their
 * medians of 5 moved the ratio between 1.9 and 6.3 run to run. `eventsRead` counts the events a
 * claim read from the log (the checkpoint's tail); `ms` is the time from the claim's answer to
 * the model call. The first claim of each session runs the call its stop left without a result
 * (its worker stopped after `tool.started`) and appends that `tool.completed`; each resumed model
 * call blocks until the worker stops, so after that nothing is appended and every resume starts
 * from the same log (the median is of those). The checkpoint holds the transcript so far (as
 * compact records, see runtime's `transcript-codec.ts`), so its bytes and the time to read and
 * parse them grow with the session even though the events read do not.
 */
export async function measureResumes(
  make: () => Promise<StoreTarget>,
  shapes: { short: ResumeShape; long: ResumeShape },
  context: ResumeContext = {},
) {
  const prepared: PreparedSession[] = [];
  try {
    const short = await prepareSession(make, shapes.short, context);
    prepared.push(short);
    const long = await prepareSession(make, shapes.long, context);
    prepared.push(long);
    for (let i = 0; i < resumes; i++) {
      await resumeOnce(short);
      await resumeOnce(long);
    }
    return { short: figuresOf(short), long: figuresOf(long) };
  } finally {
    for (const session of prepared) {
      await session.store.close();
      await session.target.drop();
    }
  }
}

function figuresOf(session: PreparedSession) {
  const times = session.times.slice().sort((a, b) => a - b);
  return {
    ...session.figures,
    eventsRead: Math.max(...session.reads),
    ms: round(times[Math.floor(times.length / 2)] ?? Number.NaN),
    minMs: round(times[0] ?? Number.NaN),
  };
}

interface PreparedSession {
  target: StoreTarget;
  store: SessionStore;
  agent: (model: ModelClient) => ReturnType<typeof defineAgent>;
  /** Per resume: the events it read and its milliseconds. */
  reads: number[];
  times: number[];
  figures: {
    steps: number;
    stoppedAtStep: number;
    headSeq: number;
    checkpointSeq: number;
    checkpointBytes: number;
    compactions: number;
    /** Messages of the transcript the checkpoint holds (since the latest compaction). */
    checkpointMessages: number;
  };
}

async function prepareSession(
  make: () => Promise<StoreTarget>,
  { steps, stopAt }: ResumeShape,
  context: ResumeContext,
): Promise<PreparedSession> {
  const target = await make();
  const store = await openStore(target.url);
  const tool = noteTool(context.outputChars);
  const agent = (model: ModelClient) =>
    defineAgent({
      name: 'resume',
      model,
      instructions: 'bench',
      tools: [tool],
      maxSteps: steps + 1,
      workspaceSnapshots: false,
      workspaceRoot: join(target.dir, 'ws'),
      ...(context.windowTokens === undefined
        ? {}
        : { context: { windowTokens: context.windowTokens } }),
    });
  const session = await store.createSession({ agent: 'resume', input: 'go' });
  await runUntilStep(store, agent(stepping(steps)), stopAt);
  const { headSeq } = await store.getSession(session.id);
  const checkpoint = await store.latestCheckpoint(session.id);
  const checkpointBytes = Buffer.byteLength(JSON.stringify(checkpoint?.state ?? null));
  const events = await store.readEvents(session.id, 0, 1_000_000);
  const kept = checkpoint === null ? null : readCheckpoint(checkpoint.state, checkpoint.parts);
  return {
    target,
    store,
    agent,
    reads: [],
    times: [],
    figures: {
      steps,
      stoppedAtStep: stopAt,
      headSeq,
      checkpointSeq: checkpoint?.seq ?? 0,
      checkpointBytes,
      compactions: events.filter((e) => e.type === 'context.compacted').length,
      checkpointMessages: kept?.transcript?.messages.length ?? 0,
    },
  };
}

/** One claim of the session by a fresh worker, until its model call; recorded in `session`. */
async function resumeOnce(session: PreparedSession): Promise<void> {
  const { eventsRead, ms } = await timeResume(session.store, session.agent);
  session.reads.push(eventsRead);
  session.times.push(ms);
}

/**
 * One claim of a stopped session by a fresh worker, until its model call: the events it read
 * and the milliseconds from the claim's answer to the model call. The model call blocks until
 * the worker stops, so nothing is appended.
 */
export async function timeResume(
  store: SessionStore,
  agent: (model: ModelClient) => ReturnType<typeof defineAgent>,
): Promise<{ eventsRead: number; ms: number }> {
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
  return { eventsRead: counted.eventsRead, ms: calledAt - (counted.claimedAt ?? calledAt) };
}

function noteTool(outputChars = 0) {
  const filler = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(outputChars / 27) + 1);
  return defineTool({
    name: 'note',
    description: 'notes a line',
    input: z.object({ line: z.string() }),
    effect: 'idempotent',
    run: async ({ line }) =>
      outputChars === 0 ? `noted ${line}` : `noted ${line}: ${filler.slice(0, outputChars)}`,
  });
}

/**
 * A zero-latency model that answers `step N` with one `note` call until step `steps`, as the
 * scripted model of the tests would; it counts its input as a provider would (four characters a
 * token), so an agent with a context window compacts, and answers a summary request with a
 * summary. The step is one past the highest `call_N_1` its transcript names (or the summary's). Unlike that one it keeps none of the requests it was sent:
 * with them the heap after a 2,000-step run was 93-141 MB (every request's transcript), without
 * 50-67 MB, garbage the long session's measured resumes paid to mark and collect and the short
 * one's did not.
 */
function stepping(steps: number): ModelClient {
  return {
    id: 'stepping',
    stream: async (request, onTextDelta) => {
      const last = request.messages.at(-1);
      const inputTokens = Math.ceil(JSON.stringify(request.messages).length / 4);
      const done = stepsDone(request.messages);
      if (last?.role === 'user' && last.content.startsWith('Summarize the conversation above')) {
        const text = `steps through ${done} were taken`;
        const usage = { inputTokens, outputTokens: 8 };
        return { text, toolCalls: [], finishReason: 'stop', usage, modelId: 'stepping' };
      }
      const text = done >= steps ? 'done' : `step ${done + 1}`;
      onTextDelta(text);
      const toolCalls =
        done >= steps
          ? []
          : [{ id: `call_${done + 1}_1`, name: 'note', args: { line: `${done + 1}` } }];
      return {
        text,
        toolCalls,
        finishReason: toolCalls.length > 0 ? 'tool-calls' : 'stop',
        usage: { inputTokens, outputTokens: 1 },
        modelId: 'stepping',
      };
    },
  };
}

/** The steps a transcript shows were taken: the highest call id, or what a summary says. */
function stepsDone(messages: readonly ModelMessage[]): number {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === 'assistant' && m.toolCalls.length > 0) {
      return Number(/^call_(\d+)_1$/.exec(m.toolCalls[0]?.id ?? '')?.[1] ?? 0);
    }
    if (m?.role === 'user') {
      const summary = /steps through (\d+) were taken/.exec(m.content);
      if (summary !== null) return Number(summary[1]);
    }
  }
  return 0;
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
