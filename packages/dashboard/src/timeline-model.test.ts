import { describe, expect, it } from 'vitest';
import type { JsonValue, NewEvent, SessionId, StoredEvent } from '@longrun/core';
import type { ModelDelta } from '../ui/api-types.ts';
import { TimelineModel } from '../ui/timeline-model.ts';
import type { ModelItem } from '../ui/timeline-types.ts';

/** mulberry32: a small seeded generator, so a failing interleaving can be replayed. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sessionId = 'ses_test' as SessionId;

/** Builds stored events with contiguous seqs, like the store would. */
function log(epoch = 1) {
  const events: StoredEvent[] = [];
  const state = { epoch };
  const add = (e: NewEvent, epochOverride?: number): StoredEvent => {
    const stored: StoredEvent = {
      ...e,
      sessionId,
      seq: events.length + 1,
      v: 1,
      atMs: 1_000 + events.length,
      epoch: epochOverride ?? state.epoch,
    };
    events.push(stored);
    return stored;
  };
  return { events, add, state };
}

/** A log that starts a session and has one model turn with one call of `tool`. */
function logWithOneCall(epoch: number, input: JsonValue, tool: string) {
  const l = log(epoch);
  l.add({ type: 'session.created', data: { agent: 'a', input } }, 0);
  l.add({
    type: 'model.responded',
    data: {
      step: 1,
      text: '',
      toolCalls: [{ callIndex: 0, tool, args: {} }],
      usage: { inputTokens: 1, outputTokens: 1 },
    },
  });
  return l;
}

/** Cuts `text` into pieces of 1..max characters. */
function cut(text: string, random: () => number, max: number): string[] {
  const pieces: string[] = [];
  for (let at = 0; at < text.length;) {
    const size = 1 + Math.floor(random() * max);
    pieces.push(text.slice(at, at + size));
    at += size;
  }
  return pieces;
}

function deltasOf(pieces: string[], step: number, attempt: number): ModelDelta[] {
  let offset = 0;
  return pieces.map((text) => {
    const delta = { step, attempt, offset, text };
    offset += text.length;
    return delta;
  });
}

/** Merges two ordered lists in a random interleaving that keeps each list's own order. */
function interleave<T>(a: T[], b: T[], random: () => number): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    const takeA = j >= b.length || (i < a.length && random() < 0.5);
    out.push(takeA ? (a[i++] as T) : (b[j++] as T));
  }
  return out;
}

type Input = { event: StoredEvent } | { delta: ModelDelta };

/**
 * One model attempt as a live reader may see it: the true deltas (some dropped, as when a live
 * connection is cut), a reconnect that re-sends the text so far as one delta at offset 0 and
 * replays durable events, and durable coalesced `model.streamed` chunks, interleaved at random.
 */
function streamedAttempt(
  random: () => number,
  text: string,
  l: ReturnType<typeof log>,
  where: { step: number; attempt: number; respond: boolean; stopAt?: number },
): Input[] {
  const { step, attempt } = where;
  const upTo = where.stopAt ?? text.length;
  const live = deltasOf(cut(text.slice(0, upTo), random, 6), step, attempt).filter(
    () => random() > 0.2,
  );
  const reconnectAt = Math.floor(random() * (upTo + 1));
  live.splice(Math.floor(random() * (live.length + 1)), 0, {
    step,
    attempt,
    offset: 0,
    text: text.slice(0, reconnectAt),
  });
  const durable: StoredEvent[] = [
    l.add({ type: 'model.requested', data: { step, attempt, modelId: 'm', transcriptSeq: 1 } }),
  ];
  // Durable chunks cover only a prefix: the rest of a responded attempt is in model.responded.
  const durableUpTo = where.respond ? Math.floor(random() * (upTo + 1)) : upTo;
  for (const piece of cut(text.slice(0, durableUpTo), random, 40)) {
    durable.push(l.add({ type: 'model.streamed', data: { step, attempt, text: piece } }));
  }
  if (where.respond) {
    durable.push(
      l.add({
        type: 'model.responded',
        data: {
          step,
          text,
          toolCalls: [],
          usage: { inputTokens: 1, outputTokens: 1 },
          attempt,
        },
      }),
    );
  }
  const replayed = durable.filter(() => random() < 0.3);
  const durableInputs = [...durable, ...replayed].map((event) => ({ event }));
  return interleave<Input>(
    live.map((delta) => ({ delta })),
    durableInputs,
    random,
  );
}

function feed(model: TimelineModel, inputs: Input[], check: (m: TimelineModel) => void): void {
  for (const input of inputs) {
    if ('event' in input) model.applyEvent(input.event);
    else model.applyDelta(input.delta);
    check(model);
  }
}

const lorem =
  'Checking the repository layout first, then running the tests to see what fails. ' +
  'The slug function keeps double dashes; fixing it means collapsing runs of separators. ';

describe('timeline model: deltas and durable events', () => {
  const seed = Number(process.env.LONGRUN_SEED ?? Date.now() % 1_000_000);
  console.log(`timeline-model interleaving seed: ${seed} (LONGRUN_SEED=${seed} to replay)`);

  it('shows every character exactly once in every interleaving, at every point in time', () => {
    const random = seededRandom(seed);
    for (let trial = 0; trial < 500; trial++) {
      const text = lorem.slice(0, 1 + Math.floor(random() * lorem.length));
      const l = log();
      l.add({ type: 'session.created', data: { agent: 'a', input: 'go' } }, 0);
      const model = new TimelineModel();
      model.applyEvent(l.events[0] as StoredEvent);
      const inputs = streamedAttempt(random, text, l, { step: 1, attempt: 1, respond: true });
      feed(model, inputs, (m) => {
        const shown = m.items.find((i): i is ModelItem => i.kind === 'model')?.text;
        if (shown !== undefined && !text.startsWith(shown)) {
          throw new Error(`seed ${seed} trial ${trial}: shown text is not a prefix: ${shown}`);
        }
      });
      expect(model.finalTexts(), `seed ${seed} trial ${trial}`).toEqual([text]);
    }
  });

  it('supersedes an attempt cut by a crash; the retry alone counts', () => {
    const random = seededRandom(seed + 1);
    for (let trial = 0; trial < 300; trial++) {
      const text = lorem.slice(0, 20 + Math.floor(random() * (lorem.length - 20)));
      const l = log(1);
      l.add({ type: 'session.created', data: { agent: 'a', input: 'go' } }, 0);
      const model = new TimelineModel();
      model.applyEvent(l.events[0] as StoredEvent);
      const stopAt = Math.floor(random() * text.length);
      feed(
        model,
        streamedAttempt(random, text, l, { step: 1, attempt: 1, respond: false, stopAt }),
        () => {},
      );
      l.state.epoch = 2;
      const failed = l.add({
        type: 'model.failed',
        data: {
          step: 1,
          attempt: 1,
          code: 'WORKER_STOPPED',
          message: 'stopped',
          retryable: true,
          retryInMs: 0,
        },
      });
      const retry = streamedAttempt(random, text, l, { step: 1, attempt: 2, respond: true });
      // Live deltas of the retry may arrive before the failure event of the first attempt;
      // durable events arrive in seq order.
      const firstDurable = retry.findIndex((input) => 'event' in input);
      retry.splice(Math.floor(random() * (firstDurable + 1)), 0, { event: failed });
      feed(model, retry, () => {});
      expect(model.finalTexts(), `seed ${seed} trial ${trial}`).toEqual([text]);
      const attempts = model.items.filter((i): i is ModelItem => i.kind === 'model');
      expect(attempts.map((a) => [a.attempt, a.state])).toEqual([
        [1, 'superseded'],
        [2, 'responded'],
      ]);
      expect(attempts[0]?.failure?.code).toBe('WORKER_STOPPED');
      expect(text.startsWith(attempts[0]?.text ?? 'x')).toBe(true);
      expect(model.items.filter((i) => i.kind === 'resume')).toHaveLength(1);
    }
  });
});

describe('timeline model: the rest of a session', () => {
  function approvalSession() {
    const l = log(1);
    l.add({ type: 'session.created', data: { agent: 'deployer', input: 'deploy api' } }, 0);
    l.add({
      type: 'model.requested',
      data: { step: 1, attempt: 1, modelId: 'm', transcriptSeq: 1 },
    });
    l.add({
      type: 'model.responded',
      data: {
        step: 1,
        text: 'Deploying.',
        toolCalls: [{ callIndex: 0, tool: 'deploy', args: { service: 'api' } }],
        usage: { inputTokens: 10, outputTokens: 3 },
        attempt: 1,
      },
    });
    l.add({
      type: 'approval.requested',
      data: {
        approvalId: 'apr_1',
        step: 1,
        callIndex: 0,
        tool: 'deploy',
        argsHash: 'h',
        expiresAtMs: null,
      },
    });
    l.add({
      type: 'wait.started',
      data: { waitId: 'apr_1', kind: 'signal', signal: 'approval:apr_1' },
    });
    l.state.epoch = 2; // a new claim after the wait: no crash
    l.add({ type: 'wait.resolved', data: { waitId: 'apr_1', signalId: 's1', payload: null } });
    l.add({ type: 'approval.granted', data: { approvalId: 'apr_1', by: 'ops', reason: null } });
    l.add({
      type: 'tool.started',
      data: { step: 1, callIndex: 0, tool: 'deploy', effect: 'keyed', idempotencyKey: 'k' },
    });
    l.add({
      type: 'tool.completed',
      data: { step: 1, callIndex: 0, tool: 'deploy', ok: true, output: 'deployed api', attempt: 1 },
    });
    l.add({
      type: 'workspace.snapshotted',
      data: { step: 1, manifestHash: 'mh', files: 1, bytes: 4, changed: 1 },
    });
    l.add({ type: 'session.completed', data: { output: 'Deployed.' } });
    return l;
  }

  it('folds an approval, its wait, the tool call and the end into items', () => {
    const model = new TimelineModel();
    for (const e of approvalSession().events) model.applyEvent(e);
    expect(model.items.map((i) => i.kind)).toEqual([
      'user',
      'model',
      'tool',
      'approval',
      'wait',
      'snapshot',
      'end',
    ]);
    const approval = model.items.find((i) => i.kind === 'approval');
    expect(approval).toMatchObject({ state: 'granted', by: 'ops', args: { service: 'api' } });
    const tool = model.items.find((i) => i.kind === 'tool');
    expect(tool).toMatchObject({ state: 'completed', ok: true, output: 'deployed api' });
    expect(model.items.some((i) => i.kind === 'resume')).toBe(false);
  });

  it('ignores replayed events and changes nothing on a full reconnect replay', () => {
    const events = approvalSession().events;
    const model = new TimelineModel();
    for (const e of events.slice(0, 6)) model.applyEvent(e);
    const revs = model.items.map((i) => i.rev);
    for (const e of events.slice(0, 6)) expect(model.applyEvent(e)).toBe(false);
    expect(model.items.map((i) => i.rev)).toEqual(revs);
    for (const e of events) model.applyEvent(e);
    expect(model.lastSeq).toBe(events.length);
    expect(model.items).toHaveLength(7);
  });

  it('marks a resume when the epoch changes mid-step, and records interrupted tools', () => {
    const l = logWithOneCall(3, { message: 'hi' }, 'rm');
    l.add({
      type: 'tool.started',
      data: { step: 1, callIndex: 0, tool: 'rm', effect: 'unsafe', idempotencyKey: 'k' },
    });
    l.state.epoch = 4;
    l.add({
      type: 'tool.interrupted',
      data: { step: 1, callIndex: 0, tool: 'rm', outcome: 'unknown' },
    });
    l.add({ type: 'session.failed', data: { code: 'INTERNAL', message: 'gave up' } });
    const model = new TimelineModel();
    for (const e of l.events) model.applyEvent(e);
    expect(model.items.map((i) => i.kind)).toEqual(['user', 'model', 'tool', 'resume', 'end']);
    expect(model.items[0]).toMatchObject({ text: 'hi' });
    expect(model.items[3]).toMatchObject({ fromEpoch: 3, toEpoch: 4 });
    expect(model.items[2]).toMatchObject({ state: 'interrupted', ok: false });
    expect(model.items[4]).toMatchObject({
      outcome: 'failed',
      code: 'INTERNAL',
      message: 'gave up',
    });
  });

  it('shows who resumed a paused session and why, and no worker takeover for it', () => {
    const l = logWithOneCall(1, 'deploy', 'deploy');
    // The worker paused the session mid-step, writing no event; a person resumed it.
    l.state.epoch = 3;
    l.add({ type: 'session.resumed', data: { by: 'alice@ops', reason: 'sandbox fixed' } });
    l.add({ type: 'session.resumed', data: { by: 'bob@ops', reason: null } });
    const model = new TimelineModel();
    for (const e of l.events) model.applyEvent(e);
    expect(model.items.map((i) => i.kind)).toEqual([
      'user',
      'model',
      'tool',
      'session-resumed',
      'session-resumed',
    ]);
    expect(model.items.slice(3)).toMatchObject([
      {
        key: 'session-resumed:3',
        by: 'alice@ops',
        reason: 'sandbox fixed',
        atMs: l.events[2]!.atMs,
      },
      { key: 'session-resumed:4', by: 'bob@ops', reason: null },
    ]);
    for (const e of l.events) expect(model.applyEvent(e)).toBe(false);
    expect(model.items).toHaveLength(5);
  });

  it('shows a compaction with the range it replaced and its summary', () => {
    const l = logWithOneCall(1, 'task', 'note');
    const data = {
      fromSeq: 1,
      throughSeq: 2,
      messages: 2,
      summary: 'noted a line',
      modelId: 'm',
      usage: { inputTokens: 100, outputTokens: 10 },
      tokensBefore: 1_000,
      tokensAfter: 100,
      reason: 'threshold' as const,
    };
    l.add({ type: 'context.compacted', data });
    const model = new TimelineModel();
    for (const e of l.events) model.applyEvent(e);
    expect(model.items.map((i) => i.kind)).toEqual(['user', 'model', 'tool', 'compaction']);
    const { modelId: _modelId, usage: _usage, ...shown } = data;
    expect(model.items[3]).toMatchObject({ key: 'compaction:3', ...shown });
  });

  it("shows each gate decision with the gate, the call it stopped and the gate's reason", () => {
    const l = logWithOneCall(1, 'deploy', 'deploy');
    l.add({
      type: 'gate.decided',
      data: {
        gate: 'policy',
        point: 'tool.call',
        decision: 'deny',
        reason: 'deploys are frozen',
        step: 1,
        callIndex: 0,
      },
    });
    l.add({
      type: 'gate.decided',
      data: {
        gate: 'maxSteps',
        point: 'model.call',
        decision: 'pause',
        reason: 'the agent took its 1 steps',
        step: 2,
      },
    });
    const model = new TimelineModel();
    for (const e of l.events) model.applyEvent(e);
    expect(model.items.map((i) => i.kind)).toEqual(['user', 'model', 'tool', 'gate', 'gate']);
    expect(model.items.slice(3)).toMatchObject([
      {
        gate: 'policy',
        point: 'tool.call',
        decision: 'deny',
        reason: 'deploys are frozen',
        step: 1,
        callIndex: 0,
      },
      { gate: 'maxSteps', point: 'model.call', decision: 'pause', step: 2, callIndex: null },
    ]);
    for (const e of l.events) expect(model.applyEvent(e)).toBe(false);
    expect(model.items).toHaveLength(5);
  });

  it("shows an evaluator's verdicts, criterion by criterion, and the outcome the session ended with", () => {
    const l = log();
    l.add({ type: 'session.created', data: { agent: 'a', input: 'find the answer' } }, 0);
    const evaluation = (iteration: number, passed: boolean, continues: boolean) => ({
      type: 'outcome.evaluated' as const,
      data: {
        iteration,
        step: iteration,
        passed,
        criteria: [{ criterion: 'says 42', passed, reason: passed ? 'it does' : 'it says 41' }],
        feedback: passed ? '' : 'fix it',
        continues,
        evaluatorSteps: 1,
        usage: { inputTokens: 5, outputTokens: 1 },
        modelId: 'm',
      },
    });
    l.add(evaluation(1, false, true));
    l.add(evaluation(2, true, false));
    l.add({ type: 'session.completed', data: { output: '42', outcome: 'satisfied' } });
    const model = new TimelineModel();
    for (const e of l.events) model.applyEvent(e);
    expect(model.items.map((i) => i.kind)).toEqual(['user', 'evaluation', 'evaluation', 'end']);
    expect(model.items.slice(1)).toMatchObject([
      { iteration: 1, passed: false, continues: true, criteria: [{ reason: 'it says 41' }] },
      { iteration: 2, passed: true, continues: false },
      { outcome: 'completed', evaluatedOutcome: 'satisfied', output: '42' },
    ]);
  });

  it('holds a delta past a gap until the gap is filled', () => {
    const model = new TimelineModel();
    model.applyDelta({ step: 1, attempt: 1, offset: 5, text: 'world' });
    expect(model.finalTexts()).toEqual(['']);
    model.applyDelta({ step: 1, attempt: 1, offset: 0, text: 'hello' });
    expect(model.finalTexts()).toEqual(['helloworld']);
    model.applyDelta({ step: 1, attempt: 1, offset: 3, text: 'lowor' });
    expect(model.finalTexts()).toEqual(['helloworld']);
  });

  it('treats a late delta of an old attempt as superseded text', () => {
    const model = new TimelineModel();
    model.applyDelta({ step: 2, attempt: 2, offset: 0, text: 'new' });
    model.applyDelta({ step: 2, attempt: 1, offset: 0, text: 'old' });
    expect(model.finalTexts()).toEqual(['new']);
    const old = model.items.find((i) => i.kind === 'model' && i.attempt === 1);
    expect(old).toMatchObject({ state: 'superseded', text: 'old' });
  });
});
