/**
 * The harness of the agent crash tests (agent-kill9.test.ts): one session of the crash agent on a
 * fresh database with the worker processes that ran it, the invariants every run must keep, and
 * a reader that reconnects at random.
 */
import { expect } from 'vitest';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  modelRequestOf,
  startedKeyOf,
  terminalStatuses,
  type EventType,
  type ModelMessage,
  type SessionId,
  type SessionStore,
  type StoredEvent,
} from '@longrun/core';
import { approvalSignal } from '@longrun/runtime';
import { checkTranscript, stepsOfModelMessages } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { FileLedger } from '../ledger/file-ledger.ts';
import { checkpointMismatch } from '../checkpoint-readback.ts';
import { AgentWorkerHandle, type AckedEvent } from './agent-worker-handle.ts';
import { crashAgentName, scriptCalls, scriptSteps, scriptText, toolNames } from './agent-script.ts';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export type Of<T extends EventType> = Extract<StoredEvent, { type: T }>;
export function ofType<T extends EventType>(events: readonly StoredEvent[], type: T): Of<T>[] {
  return events.filter((e): e is Of<T> => e.type === type);
}

/** One session of the crash agent on a fresh database, and the worker processes that ran it. */
export class CrashRun {
  readonly workers: AgentWorkerHandle[] = [];
  approverError: unknown = null;
  readonly #answered = new Set<string>();
  #approver: Promise<void> | null = null;
  #stopApprover = false;

  readonly target: StoreTarget;
  readonly store: SessionStore;
  readonly sessionId: SessionId;
  readonly dir: string;
  readonly env: Record<string, string>;
  readonly textChars: number;
  /** Model steps the session takes to complete. */
  readonly steps: number;

  private constructor(fields: {
    target: StoreTarget;
    store: SessionStore;
    sessionId: SessionId;
    dir: string;
    env: Record<string, string>;
    textChars: number;
    steps: number;
  }) {
    this.target = fields.target;
    this.store = fields.store;
    this.sessionId = fields.sessionId;
    this.dir = fields.dir;
    this.env = fields.env;
    this.textChars = fields.textChars;
    this.steps = fields.steps;
  }

  static async start(
    make: () => Promise<StoreTarget>,
    options: { chunkDelayMs: number; textChars: number; toolHoldMs?: number; outcome?: boolean },
  ): Promise<CrashRun> {
    const target = await make();
    const store = await openStore(target.url);
    const dir = join(target.dir, 'agent');
    mkdirSync(join(dir, 'gates'), { recursive: true });
    const session = await store.createSession({
      agent: crashAgentName,
      input: { task: 'run the crash script' },
    });
    const env = {
      LONGRUN_AGENT_CHUNK_DELAY_MS: String(options.chunkDelayMs),
      LONGRUN_AGENT_TEXT_CHARS: String(options.textChars),
      LONGRUN_AGENT_TOOL_HOLD_MS: String(options.toolHoldMs ?? 0),
      LONGRUN_AGENT_OUTCOME: options.outcome === true ? '1' : '0',
    };
    return new CrashRun({
      target,
      store,
      sessionId: session.id,
      dir,
      env,
      textChars: options.textChars,
      // With an outcome the evaluator fails the last answer once: the script answers once more.
      steps: scriptSteps + (options.outcome === true ? 1 : 0),
    });
  }

  /**
   * A new worker process. On SQLite it keeps one worker id, so the restarted process reclaims
   * the session at boot; on Postgres each is new and takes over because the dead one's
   * connection-scoped registration is gone.
   */
  spawn(env: Record<string, string> = {}): AgentWorkerHandle {
    const previous = this.workers.at(-1);
    if (previous !== undefined && !previous.dead) throw new Error('the previous worker still runs');
    const id =
      this.target.kind === 'sqlite' ? 'agent-worker' : `agent-worker-${this.workers.length}`;
    const worker = new AgentWorkerHandle(this.target.url, id, this.dir, { ...this.env, ...env });
    this.workers.push(worker);
    return worker;
  }

  /** Lets a tool blocked after its effect return (and every later run of it pass at once). */
  open(gate: string): void {
    writeFileSync(join(this.dir, 'gates', gate), '');
  }

  /**
   * Grants every approval the session asks for, after up to `maxDelayMs` (seeded), as a person
   * would, until the run is closed. A failure is kept and reported by `finish` and `checkRun`.
   */
  approveAsRequested(random: () => number = () => 0, maxDelayMs = 0): void {
    this.#approver = (async () => {
      let cursor = 0;
      const deadline = Date.now() + 180_000;
      while (!this.#stopApprover && Date.now() < deadline) {
        const page = await this.store.readEvents(this.sessionId, cursor, 500);
        cursor = page.at(-1)?.seq ?? cursor;
        for (const e of ofType(page, 'approval.requested')) {
          if (this.#answered.has(e.data.approvalId)) continue;
          this.#answered.add(e.data.approvalId);
          if (maxDelayMs > 0) await sleep(random() * maxDelayMs);
          await this.grant(e);
        }
        if (page.length < 500) await sleep(20);
      }
    })().catch((error: unknown) => {
      this.approverError = error;
    });
  }

  async grant(request: Of<'approval.requested'>): Promise<void> {
    await this.store.sendSignal(this.sessionId, approvalSignal(request.data.approvalId), {
      decision: 'granted',
      by: 'test',
      reason: null,
      argsHash: request.data.argsHash,
    });
  }

  async events(): Promise<StoredEvent[]> {
    return this.store.readEvents(this.sessionId, 0, 100_000);
  }

  async terminal(): Promise<boolean> {
    return terminalStatuses.includes((await this.store.getSession(this.sessionId)).status);
  }

  /**
   * Runs a worker until the store says the session is finished, then stops it gracefully. The
   * store, not the worker's `ended` report, is the judge: that report can say `stopped` for a
   * session it completed (agent-completion-races.test.ts).
   */
  async finish(timeoutMs = 60_000, env: Record<string, string> = {}): Promise<void> {
    if (await this.terminal()) return; // a killed worker had finished it already
    const worker = this.spawn(env);
    const deadline = Date.now() + timeoutMs;
    while (!(await this.terminal())) {
      if (worker.dead || Date.now() > deadline) {
        const why = worker.dead ? 'the worker exited' : `not finished in ${timeoutMs} ms`;
        const session = await this.store.getSession(this.sessionId);
        const tail = (await this.events())
          .slice(-12)
          .map((e) => `${e.seq} ${e.type} ${JSON.stringify(e.data).slice(0, 160)}`);
        throw new Error(
          `session ${this.sessionId}: ${why}\nsession: ${JSON.stringify(session)}\napprover error: ${String(this.approverError)}\nlog tail:\n${tail.join('\n')}\nworker stderr:\n${worker.stderr.slice(-3000)}`,
        );
      }
      await sleep(25);
    }
    await worker.kill('SIGTERM');
  }

  acked(): AckedEvent[] {
    return this.workers.flatMap((w) => w.acked.filter((a) => a.sessionId === this.sessionId));
  }

  file(name: string): string {
    const path = join(this.dir, name);
    return existsSync(path) ? readFileSync(path, 'utf8') : '';
  }

  lines(name: string): string[][] {
    return this.file(name)
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\t'));
  }

  /** Tool runs recorded by the tools themselves, for one idempotency key. */
  runs(key: string): string[][] {
    return this.lines('calls.log').filter((l) => l[0] === 'run' && l[2] === key);
  }

  requests(): { pid: number; step: number; messages: ModelMessage[] }[] {
    return this.file('requests.jsonl')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as { pid: number; step: number; messages: ModelMessage[] });
  }

  key(step: number, callIndex: number): string {
    return `${this.sessionId}:${step}:${callIndex}`;
  }

  async close(): Promise<void> {
    this.#stopApprover = true;
    await this.#approver;
    await Promise.all(this.workers.map((w) => w.kill()));
    await this.store.close();
    await this.target.drop();
  }
}

/**
 * What holds after any number of kills at any instants, checked on the final log and on what the
 * tools and the model recorded outside longrun.
 */
export async function checkRun(run: CrashRun, context: string): Promise<StoredEvent[]> {
  expect(run.approverError, context).toBeNull();
  const events = await run.events();
  const last = events.at(-1);
  const failure = ofType(events, 'session.failed')[0]?.data.message;
  expect(
    last?.type,
    `${context}: the session completes${failure ? ` (failed: ${failure})` : ''}`,
  ).toBe('session.completed');
  expect((await run.store.getSession(run.sessionId)).status, context).toBe('completed');

  // No lost events: seq contiguous, and every acknowledged event is there, as acknowledged.
  expect(
    events.map((e) => e.seq),
    `${context}: seq contiguous`,
  ).toEqual(events.map((_, i) => i + 1));
  const lost = run
    .acked()
    .filter((a) => events[a.seq - 1]?.type !== a.type)
    .map((a) => `${a.seq} ${a.type}`);
  expect(lost, `${context}: acknowledged events lost or changed`).toEqual([]);

  // Model attempts: each recorded with its first durable output; interrupted ones superseded by
  // WORKER_STOPPED; one response per step, holding the scripted text whole.
  const attemptKey = (d: { step: number; attempt?: number }): string => `${d.step}/${d.attempt}`;
  const requested = new Set<string>();
  for (const e of events) {
    const request = modelRequestOf(e);
    if (request !== null) requested.add(attemptKey(request));
    if (e.type === 'model.streamed' || e.type === 'model.failed' || e.type === 'model.responded') {
      expect(
        requested.has(attemptKey(e.data)),
        `${context}: seq ${e.seq} has its request first`,
      ).toBe(true);
    }
  }
  for (const f of ofType(events, 'model.failed')) {
    expect(f.data.code, `${context}: only crashes fail model calls`).toBe('WORKER_STOPPED');
  }
  const responses = ofType(events, 'model.responded');
  expect(
    responses.map((r) => r.data.step),
    `${context}: one response per step`,
  ).toEqual(Array.from({ length: run.steps }, (_, i) => i + 1));
  for (const r of responses) {
    expect(r.data.text, context).toBe(scriptText(r.data.step, run.textChars));
    expect(
      r.data.toolCalls.map((c) => c.tool),
      context,
    ).toEqual((scriptCalls[r.data.step - 1] ?? []).map((c) => c.name));
    expect(
      ofType(events, 'model.failed').some((f) => attemptKey(f.data) === attemptKey(r.data)),
      `${context}: a responded attempt is never superseded`,
    ).toBe(false);
  }
  const streamedByAttempt = new Map<string, string>();
  for (const s of ofType(events, 'model.streamed')) {
    const k = attemptKey(s.data);
    streamedByAttempt.set(k, (streamedByAttempt.get(k) ?? '') + s.data.text);
  }
  for (const [k, text] of streamedByAttempt) {
    const step = Number(k.split('/')[0]);
    expect(
      scriptText(step, run.textChars).startsWith(text),
      `${context}: streamed text of attempt ${k} is the scripted text in order, no repeats`,
    ).toBe(true);
  }

  // What the model received: each request well-formed (every tool call answered) and built
  // only from whole responses — never from superseded streamed text.
  const requests = run.requests();
  expect(requests.length, context).toBeGreaterThanOrEqual(run.steps);
  for (const request of requests) {
    expect(checkTranscript(stepsOfModelMessages(request.messages)), context).toEqual([]);
    const texts = request.messages.flatMap((m) => (m.role === 'assistant' ? [m.text] : []));
    expect(texts, `${context}: the transcript of step ${request.step}`).toEqual(
      Array.from({ length: request.step - 1 }, (_, i) => scriptText(i + 1, run.textChars)),
    );
  }

  // Every call has exactly one result.
  for (const r of responses) {
    for (const call of r.data.toolCalls) {
      const results = events.filter(
        (e) =>
          (e.type === 'tool.completed' || e.type === 'tool.interrupted') &&
          e.data.step === r.data.step &&
          e.data.callIndex === call.callIndex,
      );
      expect(results.length, `${context}: results of call ${r.data.step}:${call.callIndex}`).toBe(
        1,
      );
    }
  }

  // Keyed effects: applied once per key, under the key of the call, whatever was re-run.
  const keyedCalls = responses.flatMap((r) =>
    r.data.toolCalls
      .filter((c) => c.tool === toolNames.keyed || c.tool === toolNames.approval)
      .map((c) => ({
        key: run.key(r.data.step, c.callIndex),
        entry:
          c.tool === toolNames.keyed
            ? `charge ${c.args.amount as number}`
            : `deploy ${c.args.service as string}`,
      })),
  );
  const ledger = new FileLedger(join(run.dir, 'ledger'));
  const byKey = (a: { key: string }, b: { key: string }): number => a.key.localeCompare(b.key);
  expect(ledger.applied().sort(byKey), `${context}: keyed effects applied once each`).toEqual(
    keyedCalls.sort(byKey),
  );
  for (const started of ofType(events, 'tool.started')) {
    expect(startedKeyOf(started), context).toBe(run.key(started.data.step, started.data.callIndex));
  }
  for (const line of run.lines('calls.log').filter((l) => l[0] === 'run')) {
    expect(line[2]?.startsWith(`${run.sessionId}:`), context).toBe(true);
  }

  // Unsafe without verify: never run twice for one call; run once when it completed.
  const unsafeRuns = new Map<string, number>();
  for (const [key = ''] of run.lines('unsafe-attempts.log'))
    unsafeRuns.set(key, (unsafeRuns.get(key) ?? 0) + 1);
  for (const [key, count] of unsafeRuns) {
    expect(count, `${context}: unsafe call ${key} ran ${count} times`).toBe(1);
  }
  for (const c of ofType(events, 'tool.completed').filter(
    (e) => e.data.tool === toolNames.unsafe,
  )) {
    expect(unsafeRuns.get(run.key(c.data.step, c.data.callIndex)), context).toBe(1);
  }
  for (const i of ofType(events, 'tool.interrupted')) {
    expect(i.data.tool, `${context}: only an unsafe call without verify is left unknown`).toBe(
      toolNames.unsafe,
    );
  }

  // Unsafe with verify: settled by verify — never run again once verify saw it applied.
  const transfers = new FileLedger(join(run.dir, 'transfers'));
  const transferKey = run.key(5, 0);
  expect(
    transfers.applied().map((a) => a.key),
    context,
  ).toEqual([transferKey]);
  const calls = run.lines('calls.log');
  const verifiedAt = calls.findIndex(
    (l) => l[0] === 'verify' && l[2] === transferKey && l[3] === 'true',
  );
  if (verifiedAt >= 0) {
    expect(
      calls.slice(verifiedAt).filter((l) => l[0] === 'run' && l[2] === transferKey),
      `${context}: ${toolNames.unsafeVerified} ran again after verify found it applied`,
    ).toEqual([]);
  }

  // The store's effect records agree.
  for (const record of await run.store.listEffects(run.sessionId)) {
    const expected = record.tool === toolNames.unsafe ? ['completed', 'unknown'] : ['completed'];
    expect(expected, `${context}: effect ${record.idempotencyKey}`).toContain(record.status);
  }

  // A checkpoint, written across the kills, reads back as the log up to its seq.
  const checkpoint = await run.store.latestCheckpoint(run.sessionId);
  if (checkpoint !== null) {
    expect(checkpointMismatch(events, checkpoint), `${context}: the checkpoint`).toBeNull();
  }
  return events;
}

/** Where a kill landed, judged by the last event the killed worker had acknowledged. */
export function landing(last: AckedEvent | undefined): string {
  switch (last?.type) {
    case undefined:
      return 'before any commit';
    case 'model.requested':
    case 'model.streamed':
      return 'model stream (durable)';
    case 'tool.completed':
    case 'session.created':
    case 'model.failed':
      return 'model call (before its first durable flush)';
    case 'tool.started':
      return `tool running (${last.tool ?? '?'})`;
    case 'wait.started':
      return 'approval wait';
    case 'wait.resolved':
    case 'approval.granted':
      return 'after approval granted';
    default:
      return `after ${String(last?.type)}`;
  }
}

/**
 * A reader that reads the log by seq in small pages, disconnects (closes its store) at random
 * points and resumes from the last seq it saw, until the session completed. Returns what it read;
 * it throws on any gap or repeat.
 */
export async function reconnectingReader(
  url: string,
  sessionId: SessionId,
  random: () => number,
): Promise<{ events: StoredEvent[]; connections: number }> {
  const events: StoredEvent[] = [];
  let lastSeq = 0;
  let connections = 0;
  let done = false;
  const deadline = Date.now() + 120_000;
  while (!done) {
    if (Date.now() > deadline || connections > 500) throw new Error('the reader never finished');
    const store = await openStore(url);
    connections++;
    try {
      const reads = 1 + Math.floor(random() * 8);
      for (let i = 0; i < reads && !done; i++) {
        const page = await store.readEvents(sessionId, lastSeq, 1 + Math.floor(random() * 4));
        for (const e of page) {
          if (e.seq !== lastSeq + 1) throw new Error(`reader: seq ${e.seq} after ${lastSeq}`);
          lastSeq = e.seq;
          events.push(e);
          if (e.type === 'session.completed') done = true;
        }
        await sleep(page.length === 0 ? 25 : random() * 15);
      }
    } finally {
      await store.close();
    }
    await sleep(random() * 60);
  }
  return { events, connections };
}
