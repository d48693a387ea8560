import { describe, expect, it } from 'vitest';
import type { NewEvent, SessionId, StoredEvent } from '@longrun/core';
import { SessionSpanDeriver, deriveSessionSpans } from './span-deriver.ts';
import { spanIdFor, toolSpanIdFor, traceIdFor } from './trace-ids.ts';
import type { DerivedSpan } from './span-types.ts';

/** A log of `sessionId`: each event at the time given (ms after t0), seq from 1. */
function log(sessionId: string, entries: [number, NewEvent][]): StoredEvent[] {
  const t0 = 1_760_000_000_000;
  return entries.map(([ms, e], i) => ({
    ...e,
    sessionId: sessionId as SessionId,
    seq: i + 1,
    v: 1,
    atMs: t0 + ms,
    epoch: 1,
  }));
}

const usage = { inputTokens: 100, outputTokens: 20, cacheReadTokens: 60 };
const created = (input = 'fix the build'): NewEvent => ({
  type: 'session.created',
  data: { agent: 'coder', input },
});
const responded = (step: number, calls: string[], attempt = 1): NewEvent => ({
  type: 'model.responded',
  data: {
    step,
    attempt,
    text: `answer ${step}`,
    toolCalls: calls.map((tool, callIndex) => ({
      callIndex,
      tool,
      args: { n: callIndex },
      id: `call_${step}_${callIndex}`,
    })),
    usage,
    finishReason: calls.length > 0 ? 'tool-calls' : 'stop',
    modelId: 'openai:gpt-5-mini-2026-01-01',
    requestedModelId: 'openai:gpt-5-mini',
    transcriptSeq: 1,
  },
});
const started = (step: number, callIndex: number, tool: string): NewEvent => ({
  type: 'tool.started',
  data: { step, callIndex, tool, effect: 'idempotent' },
});
const completed = (step: number, callIndex: number, tool: string, ok = true): NewEvent => ({
  type: 'tool.completed',
  data: { step, callIndex, tool, ok, output: ok ? 'done' : 'boom', attempt: 1 },
});

function byName(spans: DerivedSpan[], name: string): DerivedSpan[] {
  return spans.filter((s) => s.name === name);
}

function only(spans: DerivedSpan[], name: string): DerivedSpan {
  const found = byName(spans, name);
  expect(found, name).toHaveLength(1);
  return found[0] as DerivedSpan;
}

describe('deriveSessionSpans', () => {
  const simple = log('ses_a', [
    [0, created()],
    [500, responded(1, ['read_file'])],
    [500, started(1, 0, 'read_file')],
    [700, completed(1, 0, 'read_file')],
    [1_200, responded(2, [])],
    [1_200, { type: 'session.completed', data: { output: 'fixed' } }],
  ]);

  it('gives a turn, its model calls and its tool call, linked and timed from the log', () => {
    const spans = deriveSessionSpans(simple, { semconv: 'default' });
    expect(spans.map((s) => s.name)).toEqual([
      'chat gpt-5-mini',
      'execute_tool read_file',
      'chat gpt-5-mini',
      'invoke_agent coder',
    ]);
    const turn = only(spans, 'invoke_agent coder');
    const [chat1, chat2] = byName(spans, 'chat gpt-5-mini') as [DerivedSpan, DerivedSpan];
    const tool = only(spans, 'execute_tool read_file');
    expect(spans.every((s) => s.traceId === traceIdFor('ses_a'))).toBe(true);
    expect(turn.parentSpanId).toBeNull();
    expect(turn.spanId).toBe(spanIdFor('ses_a', 'turn:1'));
    expect([chat1.parentSpanId, chat2.parentSpanId, tool.parentSpanId]).toEqual([
      turn.spanId,
      turn.spanId,
      turn.spanId,
    ]);
    expect(tool.spanId).toBe(toolSpanIdFor('ses_a', 1, 0));
    expect(new Set(spans.map((s) => s.spanId)).size).toBe(spans.length);
    // A call recorded only by its response started when the event before it committed.
    expect([chat2.startMs - turn.startMs, chat2.endMs! - turn.startMs]).toEqual([700, 1_200]);
    expect([tool.startMs - turn.startMs, tool.endMs! - turn.startMs]).toEqual([500, 700]);
    expect([turn.endMs! - turn.startMs, turn.closeSeq]).toEqual([1_200, 6]);
    expect(chat1.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'openai',
      'gen_ai.request.model': 'gpt-5-mini',
      'gen_ai.response.model': 'gpt-5-mini-2026-01-01',
      'gen_ai.conversation.id': 'ses_a',
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 20,
      'gen_ai.usage.cache_read.input_tokens': 60,
      'gen_ai.response.finish_reasons': ['tool_calls'],
      'longrun.chat.superseded': false,
    });
    expect(chat1.kind).toBe('client');
    expect(tool.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'read_file',
      'gen_ai.tool.call.id': 'call_1_0',
      'gen_ai.tool.type': 'function',
    });
    expect(turn.attributes).toMatchObject({
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'coder',
      'gen_ai.agent.id': 'coder',
      'gen_ai.conversation.id': 'ses_a',
      'gen_ai.provider.name': 'openai',
      'gen_ai.usage.input_tokens': 200,
      'gen_ai.usage.output_tokens': 40,
      'longrun.turn.end': 'completed',
    });
    expect(spans.every((s) => s.status === 'unset' && s.endMs !== null)).toBe(true);
  });

  it('counts the workspace edits a call carried in its result on its tool span', () => {
    const edited: NewEvent = {
      type: 'tool.completed',
      data: {
        step: 1,
        callIndex: 0,
        tool: 'append',
        ok: true,
        output: 'done',
        attempt: 1,
        workspaceEdits: [
          { path: 'log.txt', at: 10, text: 'one more line\n' },
          { path: 'old.txt', removed: true },
        ],
      },
    };
    const spans = deriveSessionSpans(
      log('ses_e', [
        [0, created()],
        [10, responded(1, ['append', 'read_file'])],
        [10, started(1, 0, 'append')],
        [20, edited],
        [20, started(1, 1, 'read_file')],
        [30, completed(1, 1, 'read_file')],
      ]),
      { semconv: 'default' },
    );
    expect(only(spans, 'execute_tool append').attributes['longrun.workspace.edits']).toBe(2);
    expect(only(spans, 'execute_tool read_file').attributes).not.toHaveProperty(
      'longrun.workspace.edits',
    );
  });

  it('is deterministic, and pushing events one at a time closes each span exactly once', () => {
    expect(deriveSessionSpans(simple)).toEqual(deriveSessionSpans(simple));
    const deriver = new SessionSpanDeriver({ semconv: 'default' });
    const closedAt: number[] = [];
    for (const e of simple) for (const s of deriver.push(e)) closedAt.push(s.closeSeq ?? -1);
    expect(closedAt).toEqual([2, 4, 5, 6]);
    expect(deriver.openSpans()).toEqual([]);
  });

  it('reports what is still open at the end of a log with endMs null', () => {
    const spans = deriveSessionSpans(simple.slice(0, 3));
    expect(spans.filter((s) => s.endMs === null).map((s) => s.name)).toEqual([
      'invoke_agent coder',
      'execute_tool read_file',
    ]);
  });

  it('starts a turn per user message', () => {
    const events = log('ses_t', [
      [0, created()],
      [10, responded(1, [])],
      [10, { type: 'session.completed', data: { output: 'one' } }],
      [5_000, { type: 'user.messaged', data: { text: 'and now?', signalId: 'sig_1' } }],
      [5_100, responded(2, [])],
      [5_100, { type: 'session.completed', data: { output: 'two' } }],
    ]);
    const turns = byName(deriveSessionSpans(events), 'invoke_agent coder');
    expect(turns.map((t) => [t.openSeq, t.closeSeq, t.attributes['longrun.turn']])).toEqual([
      [1, 3, 1],
      [4, 6, 2],
    ]);
    const chats = byName(deriveSessionSpans(events), 'chat gpt-5-mini');
    expect(chats.map((c) => c.parentSpanId)).toEqual(turns.map((t) => t.spanId));
  });

  it('includes superseded attempts, failed or left open by a crash, marked', () => {
    const events = log('ses_s', [
      [0, created()],
      [0, { type: 'budget.set', data: { budget: { costUsd: 5 }, by: 'agent', reason: null } }],
      [100, reserved('r3', 1)],
      // The worker died here, before the attempt wrote anything: the next one settles it.
      [3_000, settled('r3', 'interrupted')],
      [3_000, reserved('r5', 1)],
      [
        3_050,
        {
          type: 'model.requested',
          data: { step: 1, attempt: 1, modelId: 'openai:gpt-5-mini', transcriptSeq: 1 },
        },
      ],
      [3_050, { type: 'model.streamed', data: { step: 1, attempt: 1, text: 'partial' } }],
      // Died mid-stream: the next worker records the attempt as stopped.
      [
        9_000,
        {
          type: 'model.failed',
          data: {
            step: 1,
            attempt: 1,
            code: 'WORKER_STOPPED',
            message: 'stopped',
            retryable: true,
            retryInMs: 0,
          },
        },
      ],
      [9_000, settled('r5', 'interrupted')],
      [9_100, reserved('r10', 2)],
      [9_400, responded(1, [], 2)],
      [9_400, settled('r10', 'responded')],
      [9_400, { type: 'session.completed', data: { output: 'ok' } }],
    ]);
    const spans = deriveSessionSpans(events);
    const chats = byName(spans, 'chat gpt-5-mini');
    expect(
      chats.map((c) => [
        c.attributes['longrun.chat.attempt'],
        c.attributes['longrun.chat.superseded'],
        c.attributes['error.type'] ?? null,
      ]),
    ).toEqual([
      [1, true, 'WORKER_STOPPED'],
      [1, true, 'WORKER_STOPPED'],
      [2, false, null],
    ]);
    expect(chats.map((c) => c.spanId)).toEqual([
      spanIdFor('ses_s', 'chat:3'),
      spanIdFor('ses_s', 'chat:5'),
      spanIdFor('ses_s', 'chat:10'),
    ]);
    // Attempts start at their reservation, committed before the call was sent.
    expect(chats.map((c) => c.startMs - (events[0] as StoredEvent).atMs)).toEqual([
      100, 3_000, 9_100,
    ]);
    expect(chats[0]?.events.map((e) => e.name)).toEqual(['budget.reserved', 'budget.settled']);
    const turn = only(spans, 'invoke_agent coder');
    // Settlements of attempts already closed (by their model.failed, by their response) are on the turn.
    expect(turn.events.map((e) => e.name)).toEqual([
      'budget.set',
      'budget.settled',
      'budget.settled',
    ]);
  });

  it('closes an interrupted unsafe call as outcome_unknown, and keeps a re-run call one span', () => {
    const events = log('ses_i', [
      [0, created()],
      [10, responded(1, ['send_email', 'note'])],
      [
        10,
        {
          type: 'policy.decided',
          data: {
            point: 'tool.call',
            decision: 'allow',
            layer: 'agent',
            rule: 'tools[0]',
            reason: 'listed',
            step: 1,
            callIndex: 0,
            tool: 'send_email',
          },
        },
      ],
      [
        10,
        {
          type: 'tool.started',
          data: { step: 1, callIndex: 0, tool: 'send_email', effect: 'unsafe' },
        },
      ],
      [
        4_000,
        {
          type: 'tool.interrupted',
          data: { step: 1, callIndex: 0, tool: 'send_email', outcome: 'unknown' },
        },
      ],
      [4_010, started(1, 1, 'note')],
      [8_000, started(1, 1, 'note')],
      [8_100, completed(1, 1, 'note', false)],
      [8_200, { type: 'session.failed', data: { code: 'GATE_DENIED', message: 'fail closed' } }],
    ]);
    const spans = deriveSessionSpans(events);
    const email = only(spans, 'execute_tool send_email');
    expect([
      email.status,
      email.attributes['error.type'],
      email.attributes['longrun.tool.effect'],
    ]).toEqual(['error', 'outcome_unknown', 'unsafe']);
    expect(email.events.map((e) => e.name)).toEqual(['policy.decided', 'tool.started']);
    expect(email.events[0]?.attributes).toMatchObject({
      'longrun.policy.decision': 'allow',
      'gen_ai.tool.name': 'send_email',
    });
    const note = only(spans, 'execute_tool note');
    expect(note.events.map((e) => e.name)).toEqual(['tool.started', 'tool.started']);
    expect([note.status, note.attributes['error.type'], note.statusMessage]).toEqual([
      'error',
      'tool_error',
      'boom',
    ]);
    const turn = only(spans, 'invoke_agent coder');
    expect([turn.status, turn.attributes['error.type']]).toEqual(['error', 'GATE_DENIED']);
  });

  it('puts a sub-agent in its root trace, under its parent tool call, waits inside the call', () => {
    const parentLog = log('ses_root', [
      [0, created()],
      [10, responded(1, ['run_subagents'])],
      [10, started(1, 0, 'run_subagents')],
      [
        20,
        {
          type: 'wait.started',
          data: {
            waitId: 'w1',
            kind: 'signal',
            signal: 'child.ended',
            call: { step: 1, callIndex: 0, ordinal: 0 },
          },
        },
      ],
      [900, { type: 'wait.resolved', data: { waitId: 'w1', signalId: 'sig', payload: null } }],
      [900, { type: 'tool.resumed', data: { step: 1, callIndex: 0, tool: 'run_subagents' } }],
      [910, completed(1, 0, 'run_subagents')],
    ]);
    const childLog = log('ses_child', [
      [
        15,
        {
          type: 'session.created',
          data: {
            agent: 'researcher',
            input: 'look',
            parent: {
              sessionId: 'ses_root',
              rootSessionId: 'ses_root',
              step: 1,
              callIndex: 0,
              policies: [],
            },
          },
        },
      ],
      [300, responded(1, [])],
      [300, { type: 'session.completed', data: { output: 'found' } }],
    ]);
    const parent = deriveSessionSpans(parentLog);
    const child = deriveSessionSpans(childLog);
    const call = only(parent, 'execute_tool run_subagents');
    const wait = only(parent, 'wait signal');
    expect(wait.parentSpanId).toBe(call.spanId);
    expect(wait.attributes).toMatchObject({ 'longrun.wait.signal': 'child.ended' });
    const childTurn = only(child, 'invoke_agent researcher');
    expect(childTurn.traceId).toBe(traceIdFor('ses_root'));
    expect(childTurn.parentSpanId).toBe(call.spanId);
    expect(child.every((s) => s.traceId === call.traceId)).toBe(true);
  });

  it('captures no content unless asked to', () => {
    const keys = (spans: DerivedSpan[]): string[] =>
      [...new Set(spans.flatMap((s) => Object.keys(s.attributes)))].filter((k) =>
        /messages|arguments|result/.test(k),
      );
    expect(keys(deriveSessionSpans(simple))).toEqual([]);
    const spans = deriveSessionSpans(simple, { captureContent: true });
    expect(keys(spans).sort()).toEqual([
      'gen_ai.input.messages',
      'gen_ai.output.messages',
      'gen_ai.tool.call.arguments',
      'gen_ai.tool.call.result',
    ]);
    const turn = only(spans, 'invoke_agent coder');
    expect(JSON.parse(String(turn.attributes['gen_ai.input.messages']))).toEqual([
      { role: 'user', parts: [{ type: 'text', content: 'fix the build' }] },
    ]);
    expect(only(spans, 'execute_tool read_file').attributes['gen_ai.tool.call.arguments']).toBe(
      '{"n":0}',
    );
  });

  it('follows the latest conventions when asked: no gen_ai.agent.id on an in-process agent', () => {
    const turn = only(deriveSessionSpans(simple, { semconv: 'latest' }), 'invoke_agent coder');
    expect(turn.attributes['gen_ai.agent.id']).toBeUndefined();
    expect(turn.attributes['gen_ai.agent.name']).toBe('coder');
  });

  it('ends a turn at a pause and opens the next at the resume', () => {
    const events = log('ses_p', [
      [0, created()],
      [
        10,
        {
          type: 'gate.decided',
          data: {
            gate: 'budget',
            point: 'model.call',
            decision: 'pause',
            reason: 'over budget',
            step: 1,
            code: 'BUDGET_EXCEEDED',
          },
        },
      ],
      [60_000, { type: 'session.resumed', data: { by: 'api-key:k1', reason: 'raised' } }],
      [60_100, responded(1, [])],
      [60_100, { type: 'session.completed', data: { output: 'ok' } }],
    ]);
    const turns = byName(deriveSessionSpans(events), 'invoke_agent coder');
    expect(turns.map((t) => [t.openSeq, t.closeSeq, t.attributes['longrun.turn.end']])).toEqual([
      [1, 2, 'paused'],
      [3, 5, 'completed'],
    ]);
    expect(turns[0]?.events[0]?.attributes).toMatchObject({
      'longrun.gate.decision': 'pause',
      'longrun.gate.code': 'BUDGET_EXCEEDED',
    });
  });
});

function reserved(reservationId: string, attempt: number): NewEvent {
  return {
    type: 'budget.reserved',
    data: {
      reservationId,
      kind: 'step',
      step: 1,
      attempt,
      modelId: 'openai:gpt-5-mini',
      costUsd: 0.01,
      inputTokens: 100,
      outputTokens: 100,
      cacheTokens: 0,
    },
  };
}

function settled(reservationId: string, outcome: 'responded' | 'interrupted'): NewEvent {
  return {
    type: 'budget.settled',
    data: {
      reservationId,
      outcome,
      costUsd: 0.01,
      inputTokens: 100,
      outputTokens: 20,
      cacheTokens: 0,
    },
  };
}
