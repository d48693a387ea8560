import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  LongrunError,
  approvalSignal,
  fold,
  signalNames,
  workerId,
  type Clock,
  type NewEvent,
  type SessionId,
  type SessionRecord,
  type SessionStatus,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import type { AgentDefinition } from '../agent/define-agent.ts';
import { sendMessage } from '../agent/session-commands.ts';
import { changeBudget } from '../agent/budget-commands.ts';
import { readAllEvents } from '../bundle/session-bundle.ts';
import { EffectCopier, forkStatus } from '../session-fork.ts';
import { Worker } from '../worker.ts';
import { replayAgent } from './replay-agent.ts';
import { ReplayModel, type KeptInputs, type RequestMismatch } from './replay-model.ts';
import type { RequestFingerprint } from './request-fingerprints.ts';
import { callId } from '../agent/transcript-builder.ts';
import {
  comparableEvents,
  firstDivergence,
  type ComparedEvent,
  type Divergence,
} from './replay-normalize.ts';

export interface ReplayOptions {
  /** An empty store of its own (a temporary SQLite file): the replay writes its session there. */
  store: SessionStore;
  /** The agent as its module defines it now. */
  agent: AgentDefinition;
  /** The recorded log (a bundle's `session.jsonl`), from `session.created` on. */
  events: readonly StoredEvent[];
  /** The recorded session's tenant (a bundle's `last_state.json`); default `default`. */
  tenantId?: string;
  /** The longest the replay may take. Default 120 000. */
  timeoutMs?: number;
  /** The bundle's `requests.jsonl`: each step's request is checked against it. */
  requests?: readonly RequestFingerprint[];
  /**
   * The clock `store` was opened with: a replayed timer wait (a sleep, a backoff, a signal wait
   * that timed out in the recording) is skipped by moving it to the wait's end instead of waiting
   * for real. Without it, timers take their time.
   */
  clock?: ReplayClock;
  /**
   * The recording's tool call arguments kept in the blob store (`inputRef`), by hash: the
   * recording store's `blobs.get`, or a bundle's `tool-inputs/<hash>.json`. A recorded call that
   * has them and is not given them ends the replay with a divergence that says so.
   */
  inputs?: KeptInputs;
}

/**
 * A store clock a replay moves forward: the process's time plus what the replay skipped. Give it
 * to the replay's store (`SqliteStore.open({ clock })`) and to `replaySession`.
 */
export class ReplayClock implements Clock {
  #offsetMs = 0;

  nowMs(): number {
    return Date.now() + this.#offsetMs;
  }

  /** Moves the clock to `ms` if that is ahead of it; it never goes back. */
  skipTo(ms: number): void {
    const ahead = ms - this.nowMs();
    if (ahead > 0) this.#offsetMs += ahead;
  }
}

export interface ReplayResult {
  sessionId: SessionId;
  /** The first difference, or null: the replay made the recorded events. */
  divergence: Divergence | null;
  /** Events compared on each side (without what only the recording's circumstances made). */
  recordedCompared: number;
  replayedCompared: number;
  recordedEvents: number;
  replayedEvents: number;
  /** Events copied as they are, not replayed: a fork's copy of its source's log. */
  copied: number;
  /** Inputs from outside the harness fed from the recording (approvals, messages, signals…). */
  inputs: number;
  status: SessionStatus;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const pollMs = 5;

/**
 * Re-runs a recorded session's harness offline (DESIGN §8): the agent's loop runs again on a
 * store of its own, with the recording's model responses and tool results in place of the model
 * and the tools (replay-agent.ts), and every input that came from outside the harness — approval
 * decisions, messages, cancels, resumes, budget changes, signals — given again when the replayed
 * session waits for it. A fork's copied prefix is copied, not replayed. The events it makes are
 * compared with the recorded ones (replay-normalize.ts); the first difference is the result.
 */
export async function replaySession(options: ReplayOptions): Promise<ReplayResult> {
  const { store, agent, events } = options;
  const created = events[0];
  if (created?.type !== 'session.created') {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      'a replay needs a log that starts with session.created',
    );
  }
  if (created.data.agent !== agent.name) {
    throw new LongrunError(
      'INVALID_ARGUMENT',
      `the recorded session is of agent ${JSON.stringify(created.data.agent)}, not ${JSON.stringify(agent.name)}: give the module that defines it`,
    );
  }
  const id = created.sessionId;
  const copied = await recreate(store, created, events, options.tenantId);
  const model = new ReplayModel(events, options.requests ?? [], options.inputs);
  const workspaceRoot = mkdtempSync(join(tmpdir(), 'longrun-replay-'));
  const worker = new Worker({
    store,
    agents: [replayAgent(agent, events, workspaceRoot, model)],
    workerId: workerId('replay'),
    pollMs,
    schedules: false,
  });
  const expected = comparableEvents(events);
  const bySeq = new Map(events.map((e) => [e.seq, e]));
  let inputs = 0;
  await worker.start();
  try {
    const deadline = Date.now() + (options.timeoutMs ?? 120_000);
    let fedAtHead = -1;
    for (;;) {
      const session = await store.getSession(id);
      const produced = await readAllEvents(store, id);
      const got = comparableEvents(produced);
      const stopped = session.leaseOwner === null && isIdle(session);
      const idle = stopped && session.headSeq !== fedAtHead;
      // A request is made before the tool results it carries have committed (they commit with its
      // response): the replayed log is read for the mismatch once the run has stopped on it.
      const early =
        model.mismatch === null
          ? firstDivergence(expected, got, { complete: false })
          : stopped
            ? requestDivergence(model.mismatch, events, produced, expected, got)
            : null;
      const timedOut = Date.now() > deadline;
      let next: ComparedEvent | undefined;
      if (early === null && idle && !timedOut && got.length < expected.length) {
        next = nextInput(expected, got.length, bySeq);
        if (next === undefined && session.wakeAtMs !== null) {
          options.clock?.skipTo(session.wakeAtMs); // a timer wakes it, at once when skipped
          await sleep(pollMs);
          continue;
        }
      }
      if (early !== null || timedOut || (idle && next === undefined)) {
        return {
          sessionId: id,
          divergence: early ?? firstDivergence(expected, got, { complete: true }),
          recordedCompared: expected.length,
          replayedCompared: got.length,
          recordedEvents: events.length,
          replayedEvents: produced.length,
          copied,
          inputs,
          status: session.status,
        };
      }
      if (next !== undefined) {
        await feed(store, id, bySeq.get(next.seq) as StoredEvent, produced, session, events);
        inputs += 1;
        fedAtHead = session.headSeq;
      }
      await sleep(pollMs);
    }
  } finally {
    await worker.stop();
    rmSync(workspaceRoot, { recursive: true, force: true });
  }
}

/** Nothing runs and nothing will until an input comes (or a timer, see the caller). */
function isIdle(session: SessionRecord): boolean {
  return ['waiting', 'paused', 'completed', 'failed', 'cancelled'].includes(session.status);
}

/**
 * Creates the session again under its recorded id (so ids derived from it are the same), and
 * copies a fork's prefix — the source's events it was created with — as the fork did.
 */
async function recreate(
  store: SessionStore,
  created: Extract<StoredEvent, { type: 'session.created' }>,
  events: readonly StoredEvent[],
  tenantId: string | undefined,
): Promise<number> {
  const d = created.data;
  await store.createSession({
    id: created.sessionId,
    agent: d.agent,
    input: d.input,
    ...(tenantId === undefined ? {} : { tenantId }),
    ...(d.budget === undefined ? {} : { budget: d.budget }),
    ...(d.budgetSetBy === undefined ? {} : { budgetSetBy: d.budgetSetBy }),
    ...(d.schedule === undefined ? {} : { schedule: d.schedule }),
    ...(d.parent === undefined ? {} : { parent: d.parent }),
    ...(d.forkedFrom === undefined
      ? {}
      : {
          forkedFrom: { sessionId: d.forkedFrom.sessionId as SessionId, seq: d.forkedFrom.seq },
        }),
  });
  const prefix = events.slice(1, d.forkedFrom?.seq ?? 1);
  if (prefix.length === 0) return 0;
  const lease = await store.claim(created.sessionId, workerId('replay-fork'), 60_000);
  if (lease === null) throw new LongrunError('INTERNAL', 'could not claim the replayed fork');
  const copier = new EffectCopier();
  try {
    await store.append({
      fence: lease,
      expectedSeq: 1,
      events: prefix.map((e) => ({ type: e.type, data: e.data }) as NewEvent),
      effects: prefix.flatMap((e) => copier.changeFor(e)),
      status: { status: forkStatus(fold([created, ...prefix]).status) },
    });
  } finally {
    await store.releaseLease(lease).catch(() => undefined);
  }
  return prefix.length;
}

/** The next recorded event, from `from` on, that came from outside the harness. */
function nextInput(
  expected: readonly ComparedEvent[],
  from: number,
  bySeq: ReadonlyMap<number, StoredEvent>,
): ComparedEvent | undefined {
  return expected.slice(from).find((c) => isInput(bySeq.get(c.seq), bySeq));
}

function isInput(e: StoredEvent | undefined, bySeq: ReadonlyMap<number, StoredEvent>): boolean {
  switch (e?.type) {
    case 'approval.granted':
    case 'approval.denied':
    case 'user.messaged':
    case 'session.cancelled':
    case 'session.resumed':
      return true;
    case 'budget.set':
      return e.data.change !== undefined;
    case 'wait.resolved': {
      if (e.data.signalId === null) return false;
      // An approval's wait is resolved by its decision, which is the input.
      const started = [...bySeq.values()].find(
        (s) => s.type === 'wait.started' && s.data.waitId === e.data.waitId,
      );
      return !(
        started?.type === 'wait.started' &&
        started.data.kind === 'signal' &&
        started.data.signal.startsWith('approval:')
      );
    }
    default:
      return false;
  }
}

/** Gives the replayed session the input the recorded one got, the way it arrived. */
async function feed(
  store: SessionStore,
  id: SessionId,
  input: StoredEvent,
  produced: readonly StoredEvent[],
  session: SessionRecord,
  recorded: readonly StoredEvent[],
): Promise<void> {
  switch (input.type) {
    case 'approval.granted':
    case 'approval.denied': {
      const pending = openApproval(produced);
      if (pending === undefined) return;
      // The decision as it was sent (its wait's payload), else as the log recorded it.
      const sent = recorded.find(
        (e) => e.type === 'wait.resolved' && e.data.waitId === input.data.approvalId,
      );
      const { by, reason } = input.data;
      const scope = input.type === 'approval.granted' ? input.data.scope : undefined;
      const payload =
        sent?.type === 'wait.resolved'
          ? sent.data.payload
          : {
              decision: input.type === 'approval.granted' ? 'granted' : 'denied',
              by,
              reason,
              ...(scope === undefined ? {} : { scope }),
            };
      const decision =
        typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? payload : {};
      await store.sendSignal(id, approvalSignal(pending.approvalId), {
        ...decision,
        argsHash: pending.argsHash,
      });
      return;
    }
    case 'user.messaged':
      return sendMessage(store, id, input.data.text);
    case 'session.cancelled':
      await store.sendSignal(id, signalNames.cancel, input.data, { wake: 'interrupt' });
      return;
    case 'session.resumed':
      await store.sendSignal(
        id,
        signalNames.resume,
        { ...input.data, pausedAtSeq: session.headSeq },
        { wake: 'interrupt' },
      );
      return;
    case 'budget.set':
      if (input.data.change === undefined) return;
      await changeBudget(store, id, {
        by: input.data.by,
        reason: input.data.reason,
        change: input.data.change,
      });
      return;
    case 'wait.resolved': {
      const wait = produced.findLast((e) => e.type === 'wait.started');
      if (wait?.type !== 'wait.started' || wait.data.kind !== 'signal') return;
      await store.sendSignal(id, wait.data.signal, input.data.payload);
      return;
    }
    default:
      return;
  }
}

/** The replayed session's last approval request that has no decision yet. */
function openApproval(
  produced: readonly StoredEvent[],
): { approvalId: string; argsHash: string } | undefined {
  const decided = new Set(
    produced.flatMap((e) =>
      e.type === 'approval.granted' || e.type === 'approval.denied' ? [e.data.approvalId] : [],
    ),
  );
  const request = produced.findLast(
    (e) => e.type === 'approval.requested' && !decided.has(e.data.approvalId),
  );
  return request?.type === 'approval.requested' ? request.data : undefined;
}

/**
 * A request that differs from the recorded one, as a divergence: at the recorded event that made
 * the first differing message — a tool result (the step whose result changed), a model turn, or
 * else the response the request was to get.
 */
function requestDivergence(
  mismatch: RequestMismatch,
  recorded: readonly StoredEvent[],
  produced: readonly StoredEvent[],
  expected: readonly ComparedEvent[],
  got: readonly ComparedEvent[],
): Divergence {
  const find = (log: readonly StoredEvent[]) => sourceOf(mismatch, log);
  const e = find(recorded);
  const g = find(produced);
  const index = e === undefined ? expected.length : expected.findIndex((c) => c.seq === e.seq);
  const what = `the request of step ${mismatch.step} is not the recorded one: message ${mismatch.index + 1} of ${mismatch.replayedMessages} (recorded ${mismatch.recordedMessages}) differs${mismatch.message === null ? '' : ` (a ${mismatch.message.role} message)`}`;
  const same = g === undefined ? undefined : got.find((c) => c.seq === g.seq);
  const mine = e === undefined ? undefined : expected[index];
  return {
    index: Math.max(0, index),
    expectedSeq: e?.seq ?? null,
    gotSeq: g?.seq ?? null,
    expectedType: e?.type ?? null,
    gotType: g?.type ?? null,
    expected: mine?.data ?? null,
    got: same?.data ?? null,
    diff: [
      what,
      ...(mine && same ? (firstDivergence([mine], [same], { complete: true })?.diff ?? []) : []),
    ],
  };
}

/** The event of a log that made the mismatched message. */
function sourceOf(mismatch: RequestMismatch, log: readonly StoredEvent[]): StoredEvent | undefined {
  const message = mismatch.message;
  if (message?.role === 'tool') {
    const ids = new Set(message.results.map((r) => r.id));
    const call = log
      .flatMap((e) =>
        e.type === 'model.responded'
          ? e.data.toolCalls.map((c) => ({
              step: e.data.step,
              callIndex: c.callIndex,
              id: callId(e.data.step, c.callIndex, c.id),
            }))
          : [],
      )
      .find((c) => ids.has(c.id));
    if (call !== undefined)
      return log.findLast(
        (e) =>
          e.type === 'tool.completed' &&
          e.data.step === call.step &&
          e.data.callIndex === call.callIndex,
      );
  }
  if (message?.role === 'assistant')
    return log.findLast((e) => e.type === 'model.responded' && e.data.step < mismatch.step);
  return log.findLast((e) => e.type === 'model.responded' && e.data.step === mismatch.step);
}
