/**
 * The invariants every Postgres fault run must keep (TESTING.md, "Durability, recovery, leases"),
 * checked on the final logs and on what the tools, the model and the library worker recorded
 * outside longrun. Each broken one is a line in `violations`, prefixed with its name; nothing
 * here throws, so the bench can count what a test asserts empty.
 */
import type { Checkpoint, SessionRecord, StoredEvent } from '@longrun/core';
import { checkpointMismatch } from '../checkpoint-readback.ts';
import { chargeEntry, faultTools, scriptedCalls } from './fault-agent.ts';
import type { AckedEvent } from './library-worker.ts';
import type { RunRecords } from './records.ts';
import { describeOverlap, overlappingWindows } from './tool-windows.ts';

export interface FaultSession {
  id: string;
  name: string;
  steps: number;
}

export interface RunFacts {
  sessions: readonly FaultSession[];
  /** Each session's final log and record. */
  events: ReadonlyMap<string, readonly StoredEvent[]>;
  records: ReadonlyMap<string, SessionRecord>;
  /** Each session's checkpoint after the run (null: none). */
  checkpoints: ReadonlyMap<string, Checkpoint | null>;
  tools: RunRecords;
  /** Events the store acknowledged to the library worker. */
  acked: readonly AckedEvent[];
  /** Events a reader saw committed while the run went on. */
  observed: readonly StoredEvent[];
  /** pid → CLOCK_MONOTONIC ns at which the test saw the process exit. */
  deathNs: ReadonlyMap<number, bigint>;
  nowNs: bigint;
  /** Worker processes that exited without the test ending them, with why. */
  unexpectedExits: readonly string[];
}

export interface RunVerdict {
  violations: string[];
  completed: number;
  /** Effects applied more often than their class allows. */
  duplicateEffects: number;
  /** Pairs of tool windows of one session in progress at once. */
  overlappingHolders: number;
  /** Unsafe calls whose worker was stopped mid-run: recorded unknown, or settled by verify. */
  interruptedUnsafe: number;
  /** Keyed calls run more than once (applied once by the ledger). */
  rerunKeyed: number;
  /** Sessions whose checkpoint was read back against their log. */
  checkpoints: number;
}

type Of<T extends StoredEvent['type']> = Extract<StoredEvent, { type: T }>;
const ofType = <T extends StoredEvent['type']>(events: readonly StoredEvent[], type: T): Of<T>[] =>
  events.filter((e): e is Of<T> => e.type === type);
const callKey = (sessionId: string, step: number, callIndex: number): string =>
  `${sessionId}:${step}:${callIndex}`;

export function checkRun(facts: RunFacts): RunVerdict {
  const verdict: RunVerdict = {
    violations: [...facts.unexpectedExits.map((e) => `worker exited: ${e}`)],
    completed: 0,
    duplicateEffects: 0,
    overlappingHolders: 0,
    interruptedUnsafe: 0,
    rerunKeyed: 0,
    checkpoints: 0,
  };
  const v = (line: string): number => verdict.violations.push(line);
  for (const session of facts.sessions) {
    const events = facts.events.get(session.id) ?? [];
    if (checkLog(session, events, facts.records.get(session.id), v)) verdict.completed++;
    const checkpoint = facts.checkpoints.get(session.id) ?? null;
    if (checkpoint !== null) {
      checkCheckpoint(session, events, checkpoint, v);
      verdict.checkpoints++;
    }
  }
  checkAcknowledged(facts, v);
  checkEffects(facts, verdict, v);
  checkWitnesses(facts, v);
  const overlaps = overlappingWindows(facts.tools.windows, facts.deathNs, facts.nowNs);
  verdict.overlappingHolders = overlaps.length;
  for (const o of overlaps) v(`two holders: ${describeOverlap(o)}`);
  return verdict;
}

/**
 * A session's checkpoint, written by workers that were killed, cut off or fenced out along the
 * way, reads back as the state and the transcript its log gives up to its seq.
 */
function checkCheckpoint(
  session: FaultSession,
  events: readonly StoredEvent[],
  checkpoint: Checkpoint,
  v: (line: string) => void,
): void {
  const mismatch = checkpointMismatch(events, checkpoint);
  if (mismatch !== null)
    v(`checkpoint: session ${session.name} (${session.id}) at seq ${checkpoint.seq} ${mismatch}`);
}

/** One session's log: completed, contiguous, fenced, the script followed, one result per call. */
function checkLog(
  session: FaultSession,
  events: readonly StoredEvent[],
  record: SessionRecord | undefined,
  v: (line: string) => void,
): boolean {
  const at = `session ${session.name} (${session.id})`;
  const done = record?.status === 'completed' && events.at(-1)?.type === 'session.completed';
  if (!done) {
    const tail = events.slice(-3).map((e) => `${e.seq} ${e.type}`);
    v(
      `not completed: ${at} is ${record?.status} (${record?.statusReason}); log ends ${tail.join(', ')}`,
    );
  }
  const gap = events.findIndex((e, i) => e.seq !== i + 1);
  if (gap >= 0) v(`seq not contiguous: ${at} has seq ${events[gap]?.seq} at position ${gap + 1}`);
  const backwards = events.findIndex((e, i) => i > 0 && e.epoch < (events[i - 1]?.epoch ?? 0));
  if (backwards >= 0) {
    const e = events[backwards] as StoredEvent;
    v(
      `write after takeover: ${at} seq ${e.seq} ${e.type} has epoch ${e.epoch} after epoch ${events[backwards - 1]?.epoch}`,
    );
  }
  const responses = ofType(events, 'model.responded');
  const steps = responses.map((r) => r.data.step);
  const expectedSteps = Array.from(
    { length: done ? session.steps : steps.length },
    (_, i) => i + 1,
  );
  if (steps.join() !== expectedSteps.join())
    v(`model steps: ${at} responded for steps ${steps.join()}`);
  const calls = new Set<string>();
  for (const r of responses) {
    const scripted = scriptedCalls(r.data.step, session.steps).map((c) => c.name);
    const got = r.data.toolCalls.map((c) => c.tool);
    if (got.join() !== scripted.join()) v(`script: ${at} step ${r.data.step} called ${got.join()}`);
    for (const c of r.data.toolCalls) calls.add(`${r.data.step}:${c.callIndex}`);
  }
  const results = new Map<string, number>();
  for (const e of events) {
    if (e.type !== 'tool.completed' && e.type !== 'tool.interrupted' && e.type !== 'tool.started')
      continue;
    const k = `${e.data.step}:${e.data.callIndex}`;
    if (!calls.has(k)) v(`orphan: ${at} seq ${e.seq} ${e.type} of call ${k} nobody made`);
    if (e.type === 'tool.started') continue;
    results.set(k, (results.get(k) ?? 0) + 1);
    if (e.type === 'tool.completed' && !e.data.ok)
      v(`tool failed: ${at} call ${k}: ${JSON.stringify(e.data.output)}`);
  }
  for (const k of calls) {
    const n = results.get(k) ?? 0;
    if (n !== 1 && (done || n > 1)) v(`results: ${at} call ${k} has ${n} results`);
  }
  const started = new Map<string, number>();
  for (const s of ofType(events, 'tool.started')) {
    const k = `${s.data.step}:${s.data.callIndex}`;
    started.set(k, (started.get(k) ?? 0) + 1);
  }
  for (const [k, n] of started) if (n > 1) v(`started twice: ${at} call ${k} started ${n} times`);
  return done;
}

/** Nothing acknowledged (to the library worker) or seen committed (by a reader) went missing. */
function checkAcknowledged(facts: RunFacts, v: (line: string) => void): void {
  const same = (e: StoredEvent | undefined, x: { type: string; epoch: number }): boolean =>
    e !== undefined && e.type === x.type && e.epoch === x.epoch;
  for (const a of facts.acked) {
    const e = facts.events.get(a.sessionId)?.[a.seq - 1];
    if (!same(e, a))
      v(
        `lost ack: ${a.sessionId} seq ${a.seq} ${a.type}@${a.epoch} acknowledged, log has ${e?.type}@${e?.epoch}`,
      );
  }
  for (const o of facts.observed) {
    const e = facts.events.get(o.sessionId)?.[o.seq - 1];
    if (!same(e, o) || e?.atMs !== o.atMs)
      v(
        `lost commit: ${o.sessionId} seq ${o.seq} ${o.type}@${o.epoch} was read committed, log has ${e?.type}@${e?.epoch}`,
      );
  }
}

/** Keyed calls applied once under their key; unsafe calls never run twice. */
function checkEffects(facts: RunFacts, verdict: RunVerdict, v: (line: string) => void): void {
  const t = facts.tools;
  const expectedCharges = new Map<string, string>();
  const emails = new Set<string>();
  const transfers = new Set<string>();
  for (const session of facts.sessions) {
    const events = facts.events.get(session.id) ?? [];
    for (const r of ofType(events, 'model.responded')) {
      for (const c of r.data.toolCalls) {
        const key = callKey(session.id, r.data.step, c.callIndex);
        if (c.tool === faultTools.keyed)
          expectedCharges.set(key, chargeEntry(Number(c.args.amount)));
        if (c.tool === faultTools.unsafe) emails.add(key);
        if (c.tool === faultTools.verified) transfers.add(key);
      }
    }
    verdict.interruptedUnsafe += ofType(events, 'tool.interrupted').length;
  }
  const applied = new Map<string, string>(t.charges.map((c) => [c.key, c.entry]));
  for (const [key, entry] of applied) {
    if (expectedCharges.get(key) !== entry) {
      verdict.duplicateEffects++;
      v(
        `keyed effect: ${key} applied as '${entry}', the log's call is '${expectedCharges.get(key)}'`,
      );
    }
  }
  for (const [key, entry] of expectedCharges) {
    if (!applied.has(key) && completedCall(facts, key))
      v(`keyed effect: ${key} (${entry}) completed but never applied`);
  }
  verdict.rerunKeyed = [...t.chargeAttempts.values()].filter((n) => n > 1).length;
  const emailRuns = new Map<string, number>();
  for (const r of t.unsafeRuns) emailRuns.set(r.key, (emailRuns.get(r.key) ?? 0) + 1);
  for (const [key, n] of emailRuns) {
    if (n > 1) {
      verdict.duplicateEffects += n - 1;
      v(`unsafe effect: ${faultTools.unsafe} ${key} ran ${n} times`);
    }
    if (!emails.has(key))
      v(`unsafe effect: ${faultTools.unsafe} ${key} ran for a call not in any log`);
  }
  const verifiedFalse = new Map<string, number>();
  for (const x of t.verifies) {
    if (!x.applied) verifiedFalse.set(x.key, (verifiedFalse.get(x.key) ?? 0) + 1);
    else verdict.interruptedUnsafe++;
  }
  for (const [key, n] of t.transferAttempts) {
    const allowed = 1 + (verifiedFalse.get(key) ?? 0);
    if (n > allowed) {
      verdict.duplicateEffects += n - allowed;
      v(`unsafe effect: ${faultTools.verified} ${key} ran ${n} times, verify allowed ${allowed}`);
    }
    if (!transfers.has(key))
      v(`unsafe effect: ${faultTools.verified} ${key} ran for a call not in any log`);
  }
}

function completedCall(facts: RunFacts, key: string): boolean {
  const [sessionId = '', step, callIndex] = key.split(':');
  return (facts.events.get(sessionId) ?? []).some(
    (e) =>
      e.type === 'tool.completed' &&
      `${e.data.step}:${e.data.callIndex}` === `${step}:${callIndex}`,
  );
}

/**
 * Acknowledgements of the `longrun worker` processes, seen through what they did next: a tool
 * runs only after its call's `tool.started` was acknowledged, and the model is asked for step s
 * only after step s-1's response and results were. The log must hold those events, committed
 * before (by the shared host clock) — not lost and written again later.
 */
function checkWitnesses(facts: RunFacts, v: (line: string) => void): void {
  for (const w of facts.tools.windows) {
    const started = ofType(facts.events.get(w.sessionId) ?? [], 'tool.started').find(
      (s) => s.data.step === w.step && s.data.callIndex === w.callIndex,
    );
    if (started === undefined || started.atMs > w.startWallMs)
      v(
        `lost ack: ${w.sessionId} call ${w.step}:${w.callIndex} ran at ${w.startWallMs} (pid ${w.pid}) but its tool.started is ${started ? `at ${started.atMs}` : 'missing'}`,
      );
  }
  const byName = new Map(facts.sessions.map((s) => [s.name, s]));
  for (const r of facts.tools.requests) {
    const session = byName.get(r.name);
    if (session === undefined || r.step === 1) continue;
    const events = facts.events.get(session.id) ?? [];
    const previous = ofType(events, 'model.responded').find((e) => e.data.step === r.step - 1);
    const results = events.filter(
      (e) =>
        (e.type === 'tool.completed' || e.type === 'tool.interrupted') &&
        e.data.step === r.step - 1,
    );
    const late = [previous, ...results].filter((e) => e === undefined || e.atMs > r.wallMs);
    if (late.length > 0)
      v(
        `lost ack: ${session.name} step ${r.step} asked at ${r.wallMs} (pid ${r.pid}) before step ${r.step - 1} was in the log`,
      );
  }
}
