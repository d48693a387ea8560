import { describe, expect, it } from 'vitest';
import { encodeCheckpointState, encodePayload } from './json.ts';
import { fold, grantFor, pendingCalls } from './fold.ts';
import {
  event,
  idempotencyKeyFor,
  modelRequestOf,
  type NewEvent,
  type StoredEvent,
} from './events.ts';
import { isLongrunError, LongrunError } from './errors.ts';
import { sessionId } from './ids.ts';

function stored(events: NewEvent[], from = 1): StoredEvent[] {
  return events.map((e, i) => ({
    ...e,
    sessionId: sessionId('ses_t'),
    seq: from + i,
    v: 1,
    atMs: 0,
    epoch: 1,
  }));
}

const turn = event('model.responded', {
  step: 1,
  text: '',
  toolCalls: [
    { callIndex: 0, tool: 'a', args: {} },
    { callIndex: 1, tool: 'b', args: {} },
  ],
  usage: { inputTokens: 3, outputTokens: 4 },
});

describe('fold', () => {
  it('tracks the open calls of the latest turn and their results', () => {
    const state = fold(
      stored([
        event('session.created', { agent: 'x', input: { q: 1 } }),
        turn,
        event('tool.started', {
          step: 1,
          callIndex: 0,
          tool: 'a',
          effect: 'keyed',
          idempotencyKey: 'k',
        }),
        event('tool.completed', {
          step: 1,
          callIndex: 0,
          tool: 'a',
          ok: true,
          output: 1,
          attempt: 1,
        }),
      ]),
    );
    expect(state).toMatchObject({
      agent: 'x',
      steps: 1,
      seq: 4,
      toolCallsCompleted: 1,
      usage: { inputTokens: 3, outputTokens: 4 },
    });
    expect(pendingCalls(state).map((c) => c.callIndex)).toEqual([1]);
  });

  it("reads a tool.started's key written out (older logs, forks) or left to be derived", () => {
    const started = (idempotencyKey?: string) =>
      event('tool.started', {
        step: 1,
        callIndex: 1,
        tool: 'b',
        effect: 'keyed',
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      });
    const created = event('session.created', { agent: 'x', input: null });
    const written = fold(stored([created, turn, started('ses_source:1:1')]));
    expect(written.calls[1]?.started).toEqual({
      effect: 'keyed',
      idempotencyKey: 'ses_source:1:1',
    });
    const derived = fold(stored([created, turn, started()]));
    expect(derived.calls[1]?.started).toEqual({
      effect: 'keyed',
      idempotencyKey: idempotencyKeyFor('ses_t', 1, 1),
    });
    expect(idempotencyKeyFor('ses_t', 1, 1)).toBe('ses_t:1:1');
  });

  it('reads a model request from its own event or from the response that holds it', () => {
    const requested = event('model.requested', {
      step: 2,
      attempt: 3,
      modelId: 'm',
      transcriptSeq: 7,
    });
    expect(modelRequestOf(requested)).toEqual({
      step: 2,
      attempt: 3,
      modelId: 'm',
      transcriptSeq: 7,
    });
    const usage = { inputTokens: 1, outputTokens: 1 };
    const response = { step: 2, text: 't', toolCalls: [], usage };
    expect(modelRequestOf(event('model.responded', { ...response, modelId: 'm' }))).toBeNull();
    expect(
      modelRequestOf(event('model.responded', { ...response, modelId: 'm', transcriptSeq: 7 })),
    ).toEqual({ step: 2, attempt: 1, modelId: 'm', transcriptSeq: 7 });
    expect(
      modelRequestOf(
        event('model.responded', {
          ...response,
          attempt: 2,
          modelId: 'm-2024',
          requestedModelId: 'm',
          transcriptSeq: 7,
        }),
      ),
    ).toEqual({ step: 2, attempt: 2, modelId: 'm', transcriptSeq: 7 });
  });

  it('folds a resume into nothing but its seq: the claim already made the session run', () => {
    const before = stored([event('session.created', { agent: 'x', input: null }), turn]);
    const resumed = stored([event('session.resumed', { by: 'alice', reason: 'fixed' })], 3);
    // Only loop control's windows start afresh (a person looked at the session).
    expect(fold(resumed, fold(before))).toEqual({
      ...fold(before),
      seq: 3,
      loop: { sinceSeq: 3, calls: [], changedAtSeq: 3, progressStep: 1, seen: [], tools: [] },
    });
  });

  it('keeps session-scoped grants across turns; call scope, re-runs and model calls add none', () => {
    const request = (approvalId: string, callIndex: number, tool: string, purpose?: 'rerun') =>
      event('approval.requested', {
        approvalId,
        step: 1,
        callIndex,
        tool,
        argsHash: `hash-${approvalId}`,
        expiresAtMs: null,
        ...(purpose === undefined ? {} : { purpose }),
      });
    const granted = (approvalId: string, scope: 'call' | 'arguments' | 'tool') =>
      event('approval.granted', { approvalId, by: 'api-key:k1', reason: null, scope });
    const state = fold(
      stored([
        event('session.created', { agent: 'x', input: null }),
        turn,
        request('apr_a', 0, 'a'),
        granted('apr_a', 'arguments'),
        request('apr_b', 1, 'b', 'rerun'),
        granted('apr_b', 'tool'),
        event('approval.requested', {
          approvalId: 'apr_m',
          point: 'model.call',
          step: 2,
          gate: 'budget',
          reason: 'spent',
          argsHash: 'hash-m',
          expiresAtMs: null,
        }),
        granted('apr_m', 'tool'),
        event('tool.completed', {
          step: 1,
          callIndex: 0,
          tool: 'a',
          ok: true,
          output: 1,
          attempt: 1,
        }),
        event('tool.completed', {
          step: 1,
          callIndex: 1,
          tool: 'b',
          ok: true,
          output: 1,
          attempt: 1,
        }),
        event('model.responded', {
          step: 2,
          text: '',
          toolCalls: [{ callIndex: 0, tool: 'b', args: {} }],
          usage: { inputTokens: 1, outputTokens: 1 },
        }),
        request('apr_c', 0, 'b'),
        granted('apr_c', 'tool'),
        event('user.messaged', { text: 'more', signalId: null }),
      ]),
    );
    expect(state.grants).toEqual([
      {
        approvalId: 'apr_a',
        tool: 'a',
        scope: 'arguments',
        argsHash: 'hash-apr_a',
        by: 'api-key:k1',
      },
      { approvalId: 'apr_c', tool: 'b', scope: 'tool', argsHash: null, by: 'api-key:k1' },
    ]);
    expect(grantFor(state, 'a', 'hash-apr_a')?.approvalId).toBe('apr_a');
    expect(grantFor(state, 'a', 'other-args')).toBeUndefined();
    expect(grantFor(state, 'b', 'any-args')?.approvalId).toBe('apr_c');
    expect(grantFor(state, 'c', 'hash-apr_a')).toBeUndefined();
  });

  it('refuses a log with a gap', () => {
    const events = stored([event('session.created', { agent: 'x', input: null }), turn]);
    events[1] = { ...events[1]!, seq: 3 };
    expect(() => fold(events)).toThrowError(/expected seq 2 but got 3/);
  });

  it('refuses a result for a call the latest turn did not make', () => {
    const events = stored([
      event('session.created', { agent: 'x', input: null }),
      event('tool.completed', {
        step: 1,
        callIndex: 9,
        tool: 'a',
        ok: true,
        output: 1,
        attempt: 1,
      }),
    ]);
    expect(() => fold(events)).toThrow(LongrunError);
  });
});

describe('payloads and ids', () => {
  it('encodes plain JSON and names the offending path otherwise', () => {
    expect(encodePayload({ a: [1, 'x', null, { b: true }] })).toBe('{"a":[1,"x",null,{"b":true}]}');
    expect(() => encodePayload({ a: { b: [1, 2n] } })).toThrowError(
      /payload\.a\.b\[1\] is a bigint/,
    );
    expect(() => encodePayload({ when: new Date() })).toThrowError(
      /payload\.when is not a plain object/,
    );
    let deep: unknown = 1;
    for (let i = 0; i < 100; i++) deep = [deep];
    expect(() => encodePayload(deep)).toThrowError(/nests deeper than 64/);
  });

  it('refuses every kind of value JSON cannot round-trip, wherever it sits', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = { back: cyclic };
    const refused: [unknown, RegExp][] = [
      [{ x: [1, { y: Number.NaN }] }, /payload\.x\[1\]\.y is NaN/],
      [[Infinity], /payload\[0\] is Infinity/],
      [{ n: 2 ** 60 }, /payload\.n is 1152921504606847000, at or past 2\^53 in size/],
      [{ n: 1e300 }, /payload\.n is 1e\+300, at or past 2\^53 in size.*send a number under 2\^53/],
      [{ f: () => 1 }, /payload\.f is a function/],
      [{ u: undefined }, /payload\.u is a undefined/],
      [{ s: Symbol('s') }, /payload\.s is a symbol/],
      [cyclic, /payload\.self\.back is a cycle/],
      [{ m: new Map() }, /payload\.m is not a plain object/],
    ];
    for (const [value, message] of refused) {
      expect(() => encodePayload(value)).toThrowError(message);
      expect(() => encodeCheckpointState(value)).toThrowError(LongrunError);
    }
    // The same object twice is not a cycle; an object without a prototype is plain.
    const shared = { k: 1 };
    const bare = Object.assign(Object.create(null) as object, { z: 2 });
    expect(encodePayload({ a: shared, b: [shared], bare })).toBe(
      '{"a":{"k":1},"b":[{"k":1}],"bare":{"z":2}}',
    );
  });

  it('keeps a checkpoint in ASCII, every other character escaped, and reads it back the same', () => {
    const state = {
      summary: 'events 1–5000 ‘quoted’ é\u0000"\\',
      astral: '\u{1F600}\u{10FFFF}',
      lone: ['\uD83D', '\uDE00', '\uDFFF\uD800'],
      plain: 'ascii',
    };
    const text = encodeCheckpointState(state);
    expect(/[\u0080-\uffff]/.test(text)).toBe(false);
    expect(text).toContain('events 1\\u2013');
    expect(JSON.parse(text)).toEqual(state);
    // Plain ASCII is written as encodePayload writes it.
    expect(encodeCheckpointState({ a: 'x' })).toBe(encodePayload({ a: 'x' }));
    expect(() => encodeCheckpointState({ a: 1n })).toThrowError(/checkpoint\.state\.a is a bigint/);
  });

  it('accepts safe ids and refuses traversal, separators and empties', () => {
    expect(sessionId('ses_abc-1.2:3')).toBe('ses_abc-1.2:3');
    for (const bad of ['', '../x', 'a/b', 'a\\b', '.hidden', 'a..b', 'x'.repeat(129), 42, null]) {
      let error: unknown;
      try {
        sessionId(bad);
      } catch (e) {
        error = e;
      }
      expect(isLongrunError(error, 'INVALID_ARGUMENT'), String(bad)).toBe(true);
    }
  });
});
