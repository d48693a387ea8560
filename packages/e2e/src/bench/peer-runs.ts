import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { AppendCommits, SessionId, SessionStore } from '@longrun/core';
import { Worker, type AgentDefinition } from '@longrun/runtime';
import { waitForStatus } from '../crash/reference-run.ts';
import type { PeerInput } from './peer-agent.ts';

export interface PeerRun {
  sessionIds: SessionId[];
  /** From the worker's start to the last session's completion. */
  seconds: number;
  stepsPerSecond: number;
  /** Wall time between a session's consecutive committed `model.responded`, every session. */
  stepMs: number[];
  /** p99 of the event loop's delay while the sessions ran (1 ms resolution). */
  eventLoopDelayP99Ms: number;
  /** Appends per commit while they ran (the store's `appendCommits`): how well commits grouped. */
  appendsPerCommit: number;
}

/**
 * Runs `sessions` peer sessions of `steps` steps at once on one worker (concurrency = sessions)
 * against an open store, until all completed. Step times are taken from the worker's
 * `events.committed`: the model and the tool are zero-latency, so a step's wall time is the
 * harness's and the store's.
 */
export async function runPeerSessions(
  store: SessionStore,
  agent: AgentDefinition,
  sessions: number,
  steps: number,
): Promise<PeerRun> {
  const sessionIds: SessionId[] = [];
  const input: PeerInput = { steps };
  for (let i = 0; i < sessions; i++)
    sessionIds.push((await store.createSession({ agent: agent.name, input: { ...input } })).id);
  const worker = new Worker({ store, agents: [agent], concurrency: sessions, pollMs: 2 });
  const lastAt = new Map<string, number>();
  const stepMs: number[] = [];
  worker.on('events.committed', ({ sessionId, events }) => {
    for (const e of events) {
      if (e.type !== 'model.responded') continue;
      const now = performance.now();
      const before = lastAt.get(sessionId);
      if (before !== undefined) stepMs.push(now - before);
      lastAt.set(sessionId, now);
    }
  });
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  const committedBefore = appendCommitsOf(store);
  const startedAt = performance.now();
  await worker.start();
  try {
    for (const id of sessionIds) await waitForStatus(store, id, ['completed'], 600_000);
  } finally {
    loop.disable();
    await worker.stop();
  }
  const seconds = (performance.now() - startedAt) / 1000;
  const committed = appendCommitsOf(store);
  return {
    sessionIds,
    seconds,
    stepsPerSecond: (sessions * steps) / seconds,
    stepMs,
    eventLoopDelayP99Ms: loop.percentile(99) / 1e6,
    appendsPerCommit:
      (committed.appends - committedBefore.appends) /
      Math.max(1, committed.commits - committedBefore.commits),
  };
}

function appendCommitsOf(store: SessionStore): AppendCommits {
  const counts = store.appendCommits?.();
  if (counts === undefined) throw new Error(`the ${store.kind} store does not count its commits`);
  return counts;
}
