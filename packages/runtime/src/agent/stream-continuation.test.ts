import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  workerId,
  type ModelClient,
  type ModelMessage,
  type ModelRequest,
  type SessionId,
  type StoredEvent,
} from '@longrun/core';
import { SqliteStore } from '@longrun/store-sqlite';
import { scriptedModel, type ScriptedTurns } from '@longrun/models/testing';
import { allEvents, runUntil, tempDir } from '../testing.ts';
import { defineAgent } from './define-agent.ts';
import { AgentRunner } from './agent-runner.ts';
import { continuedResponse, cutAttemptOf } from './stream-continuation.ts';
import { replaySession } from '../replay/replay-session.ts';
import { ReplayModel } from '../replay/replay-model.ts';
import { requestFingerprints } from '../replay/request-fingerprints.ts';

/** The scripted model's answer to a continuation: the rest of `whole` after the prefill. */
function restAfterPrefill(whole: string, request: ModelRequest): string {
  const last = request.messages.at(-1);
  if (last?.role !== 'assistant') return whole;
  expect(whole.startsWith(last.text)).toBe(true);
  return whole.slice(last.text.length);
}

async function setup(turns: ScriptedTurns, assistantPrefill: boolean) {
  const dir = tempDir('stream-continuation');
  const store = await SqliteStore.open({ path: join(dir, 'db.sqlite') });
  const model = scriptedModel(turns, { assistantPrefill });
  const agent = defineAgent({
    name: 'writer',
    model,
    instructions: 'You write.',
    workspaceRoot: join(dir, 'ws'),
    workspaceSnapshots: false,
  });
  // A budget, so both attempts' charges are recorded (budget.settled).
  const budget = { outputTokens: 1_000_000 };
  const id = (await store.createSession({ agent: agent.name, input: 'write', budget })).id;
  return { store, model, agent, id, run: () => runUntil({ store, agents: [agent] }, id) };
}

const whole = 'The test fails because `add` subtracts its second argument.';

function ofType<T extends StoredEvent['type']>(events: StoredEvent[], type: T) {
  return events.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);
}

/** The text of attempt `attempt`'s `model.streamed` events: what the log holds of it. */
function durableText(events: StoredEvent[], attempt: number): string {
  return ofType(events, 'model.streamed')
    .filter((e) => e.data.attempt === attempt)
    .map((e) => e.data.text)
    .join('');
}

/** Attempt 1 is cut after some text (ending in a space); attempt 2 answers with the rest. */
const cutOnceThenContinued: ScriptedTurns = (request, call) =>
  call === 1
    ? { text: 'The test fails because ', fail: { code: 'MODEL_UNAVAILABLE' } }
    : { text: restAfterPrefill(whole, request) };

const lastMessage = (request: ModelRequest | undefined): ModelMessage | undefined =>
  request?.messages.at(-1);

describe('a model stream cut mid-text', () => {
  it('is continued from its durable text by a model that takes a prefill; the turn is whole', async () => {
    const { store, model, id, run } = await setup(cutOnceThenContinued, true);
    await run();
    const events = await allEvents(store, id);
    const partial = durableText(events, 1);
    expect(partial).toBe('The test fails because ');
    // Anthropic refuses a prefill that ends with whitespace: it is sent without it.
    expect(lastMessage(model.requests[1])).toEqual({
      role: 'assistant',
      text: 'The test fails because',
      toolCalls: [],
    });
    expect(ofType(events, 'model.requested').map((e) => e.data)).toEqual([
      expect.objectContaining({ attempt: 1 }),
      expect.objectContaining({ attempt: 2, continues: { attempt: 1, chars: 22 } }),
    ]);
    expect(ofType(events, 'model.requested')[0]?.data.continues).toBeUndefined();
    const [responded] = ofType(events, 'model.responded');
    expect(responded?.data).toMatchObject({ attempt: 2, text: whole });
    // Its request is its own event, which says it continued: the response does not stand for it.
    expect(responded?.data.transcriptSeq).toBeUndefined();
    // Both attempts are charged: the cut one for what it streamed, the other as billed.
    const settled = ofType(events, 'budget.settled');
    expect(settled.map((e) => e.data.outcome)).toEqual(['failed', 'responded']);
    expect(settled[0]?.data.outputTokens).toBe(Math.ceil(partial.length / 4));
    expect(settled[1]?.data.outputTokens).toBe(responded?.data.usage.outputTokens);
    expect((await store.getSession(id)).status).toBe('completed');
  });

  it('starts again from scratch with a model that takes no prefill, recorded as a restart', async () => {
    const { store, model, id, run } = await setup(
      [
        { text: 'The test fails because ', fail: { code: 'MODEL_OUTPUT_INVALID' } },
        { text: whole },
      ],
      false,
    );
    await run();
    const events = await allEvents(store, id);
    expect(model.requests[1]?.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(ofType(events, 'model.requested').every((e) => e.data.continues === undefined)).toBe(
      true,
    );
    expect(ofType(events, 'model.responded')[0]?.data).toMatchObject({ attempt: 2, text: whole });
  });

  it('continues a continuation that was cut too, from the text of both', async () => {
    const { store, model, id, run } = await setup((request, call) => {
      const rest = restAfterPrefill(whole, request);
      if (call === 1) return { text: 'The test fails', fail: { code: 'MODEL_UNAVAILABLE' } };
      if (call === 2) return { text: rest.slice(0, 9), fail: { code: 'MODEL_OUTPUT_INVALID' } };
      return { text: rest };
    }, true);
    await run();
    const events = await allEvents(store, id);
    expect(lastMessage(model.requests[2])).toMatchObject({ text: 'The test fails because' });
    expect(ofType(events, 'model.requested').map((e) => e.data.continues)).toEqual([
      undefined,
      { attempt: 1, chars: 14 },
      { attempt: 2, chars: 22 },
    ]);
    expect(ofType(events, 'model.responded')[0]?.data.text).toBe(whole);
  });

  it('starts again, at once, when the provider refuses the continuation', async () => {
    const { store, model, id, run } = await setup((request, call) => {
      if (call === 1) return { text: 'The test', fail: { code: 'MODEL_UNAVAILABLE' } };
      if (call === 2) return { fail: { code: 'MODEL_REJECTED', message: 'no prefill' } };
      return { text: restAfterPrefill(whole, request) };
    }, true);
    await run();
    const events = await allEvents(store, id);
    expect(model.requests.map((r) => lastMessage(r)?.role)).toEqual(['user', 'assistant', 'user']);
    expect(ofType(events, 'model.failed')[1]?.data).toMatchObject({
      code: 'MODEL_REJECTED',
      retryable: true,
      retryInMs: 0,
    });
    expect(ofType(events, 'model.responded')[0]?.data).toMatchObject({ attempt: 3, text: whole });
  });

  it('is continued by the next worker from the text a dead worker left durable', async () => {
    const { store, model, agent, id } = await setup(
      (request) => ({ text: restAfterPrefill(whole, request) }),
      true,
    );
    // The first worker streams some text, made durable by the coalescer within 250 ms, and then
    // is never heard from again: the log is what a kill -9 leaves.
    const lease = (await store.claim(id, workerId('doomed'), 60_000))!;
    const hung: ModelClient = {
      id: 'hung',
      supportsAssistantPrefill: true,
      stream: (_request, onDelta) => {
        onDelta('The test fails because `add`');
        return new Promise<never>(() => undefined);
      },
    };
    void new AgentRunner({ store, agent, model: hung, lease, signal: new AbortController().signal })
      .run()
      .catch(() => undefined);
    for (let i = 0; i < 400 && !(await hasStreamed(store, id)); i++)
      await new Promise((r) => setTimeout(r, 5));
    await store.releaseLease(lease);
    await runUntil({ store, agents: [agent] }, id);
    const events = await allEvents(store, id);
    expect(ofType(events, 'model.failed')[0]?.data).toMatchObject({ code: 'WORKER_STOPPED' });
    expect(lastMessage(model.requests[0])).toMatchObject({
      role: 'assistant',
      text: durableText(events, 1),
    });
    expect(ofType(events, 'model.requested')[1]?.data.continues).toEqual({
      attempt: 1,
      chars: 'The test fails because `add`'.length,
    });
    expect(ofType(events, 'model.responded')[0]?.data.text).toBe(whole);
  });
});

describe('a continued turn, replayed', () => {
  it('replays with no divergence: the replay model answers with the whole recorded turn', async () => {
    const { store, agent, id, run } = await setup(cutOnceThenContinued, true);
    await run();
    const events = await allEvents(store, id);
    expect(ofType(events, 'model.requested')[1]?.data.continues).toBeDefined();
    const replayStore = await SqliteStore.open({
      path: join(tempDir('stream-continuation-replay'), 'db.sqlite'),
    });
    const result = await replaySession({
      store: replayStore,
      agent,
      events,
      requests: requestFingerprints(events),
    });
    expect(result.divergence).toBeNull();
    expect(result.status).toBe('completed');
  });
});

describe('cutAttemptOf', () => {
  const at = { sessionId: 's' as SessionId, v: 1, atMs: 0, epoch: 1 };
  const requested = (attempt: number, continues?: { attempt: number; chars: number }) =>
    ({
      ...at,
      seq: 0,
      type: 'model.requested',
      data: {
        step: 1,
        attempt,
        modelId: 'm',
        transcriptSeq: 0,
        ...(continues ? { continues } : {}),
      },
    }) as StoredEvent;
  const streamed = (attempt: number, text: string) =>
    ({ ...at, seq: 0, type: 'model.streamed', data: { step: 1, attempt, text } }) as StoredEvent;
  const failed = (attempt: number, code: 'MODEL_UNAVAILABLE' | 'MODEL_REJECTED') =>
    ({
      ...at,
      seq: 0,
      type: 'model.failed',
      data: { step: 1, attempt, code, message: '', retryable: true, retryInMs: 0 },
    }) as StoredEvent;

  it('knows an attempt only from its request: a continuation of an unseen one is no cut to continue', () => {
    const cut = [requested(1), streamed(1, 'Hello '), failed(1, 'MODEL_UNAVAILABLE')];
    expect(cutAttemptOf(cut, 1)).toEqual({ attempt: 1, text: 'Hello' });
    expect(cutAttemptOf(cut, 2)).toBeNull();
    const unseen = [
      requested(2, { attempt: 1, chars: 5 }),
      streamed(2, ' world'),
      failed(2, 'MODEL_UNAVAILABLE'),
    ];
    expect(cutAttemptOf(unseen, 1)).toBeNull();
    expect(
      cutAttemptOf([...cut, requested(2, { attempt: 1, chars: 5 }), streamed(2, ' world')], 1),
    ).toEqual({
      attempt: 1,
      text: 'Hello',
    });
    expect(cutAttemptOf([...cut, requested(2), failed(2, 'MODEL_REJECTED')], 1)).toBeNull();
  });
});

describe('the replay model, for a continued turn', () => {
  it('streams the cut attempt again, then answers the prefill with the rest, parts included', async () => {
    const at = { sessionId: 's' as SessionId, v: 1, atMs: 0, epoch: 1 };
    const parts = [
      {
        type: 'reasoning' as const,
        text: 'hm',
        providerMetadata: { anthropic: { signature: 'x' } },
      },
      { type: 'text' as const, text: whole },
    ];
    const usage = { inputTokens: 1, outputTokens: 1 };
    const recorded: StoredEvent[] = [
      {
        ...at,
        seq: 1,
        type: 'model.requested',
        data: { step: 1, attempt: 1, modelId: 'm', transcriptSeq: 0 },
      },
      {
        ...at,
        seq: 2,
        type: 'model.streamed',
        data: { step: 1, attempt: 1, text: 'The test fails ' },
      },
      {
        ...at,
        seq: 3,
        type: 'model.failed',
        data: {
          step: 1,
          attempt: 1,
          code: 'MODEL_UNAVAILABLE',
          message: 'cut',
          retryable: true,
          retryInMs: 0,
        },
      },
      {
        ...at,
        seq: 4,
        type: 'model.requested',
        data: {
          step: 1,
          attempt: 2,
          modelId: 'm',
          transcriptSeq: 0,
          continues: { attempt: 1, chars: 14 },
        },
      },
      {
        ...at,
        seq: 5,
        type: 'model.responded',
        data: { step: 1, attempt: 2, text: whole, toolCalls: [], usage, parts },
      },
    ];
    const model = new ReplayModel(recorded);
    expect(model.supportsAssistantPrefill).toBe(true);
    const context = { sessionId: at.sessionId, step: 1, attempt: 1 };
    const streamed: string[] = [];
    await expect(
      model.stream({ messages: [], tools: [], context }, (t) => streamed.push(t)),
    ).rejects.toThrow('cut');
    expect(streamed).toEqual(['The test fails ']);
    const prefill = { role: 'assistant' as const, text: 'The test fails', toolCalls: [] };
    const rest = await model.stream(
      { messages: [prefill], tools: [], context: { ...context, attempt: 2 } },
      () => undefined,
    );
    expect(rest.text).toBe(whole.slice(14));
    expect(continuedResponse(rest, 'The test fails')).toMatchObject({ text: whole, parts });
  });
});

async function hasStreamed(store: SqliteStore, id: SessionId): Promise<boolean> {
  return (await allEvents(store, id)).some((e) => e.type === 'model.streamed');
}

describe('continuedResponse', () => {
  const base = {
    toolCalls: [],
    finishReason: 'stop' as const,
    usage: { inputTokens: 1, outputTokens: 1 },
    modelId: 'm',
  };

  it('puts the continued text first, in the first text part, after reasoning', () => {
    const joined = continuedResponse(
      {
        ...base,
        text: ' world',
        parts: [
          { type: 'reasoning', text: 'hm' },
          { type: 'text', text: ' world' },
        ],
      },
      'Hello',
    );
    expect(joined.text).toBe('Hello world');
    expect(joined.parts).toEqual([
      { type: 'reasoning', text: 'hm' },
      { type: 'text', text: 'Hello world' },
    ]);
  });

  it('adds a text part before the calls of a continuation that only called tools', () => {
    const joined = continuedResponse(
      { ...base, text: '', parts: [{ type: 'tool-call', callIndex: 0 }] },
      'Let me look.',
    );
    expect(joined.parts).toEqual([
      { type: 'text', text: 'Let me look.' },
      { type: 'tool-call', callIndex: 0 },
    ]);
  });
});
