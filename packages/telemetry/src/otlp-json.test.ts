import { describe, expect, it } from 'vitest';
import type { SessionId, StoredEvent } from '@longrun/core';
import { otlpTraceJson } from './otlp-json.ts';
import { spanIdFor, traceIdFor } from './trace-ids.ts';

const t0 = 1_760_000_000_000;
const events = [
  { type: 'session.created', data: { agent: 'coder', input: 'hi' } },
  {
    type: 'model.responded',
    data: {
      step: 1,
      text: 'hello',
      toolCalls: [],
      usage: { inputTokens: 5, outputTokens: 2 },
      finishReason: 'stop',
      attempt: 1,
      modelId: 'anthropic:claude-sonnet-5',
      transcriptSeq: 1,
    },
  },
  { type: 'session.completed', data: { output: 'hello' } },
].map((e, i) => ({
  ...e,
  sessionId: 'ses_j' as SessionId,
  seq: i + 1,
  v: 1,
  atMs: t0 + i * 250,
  epoch: 1,
})) as StoredEvent[];

describe('otlpTraceJson', () => {
  it("is OTLP/JSON as OpenTelemetry's serializer writes it, with the log's ids and times", () => {
    const json = otlpTraceJson(events, { semconv: 'default', serviceName: 'longrun-test' });
    const [resourceSpans] = json.resourceSpans;
    expect(JSON.stringify(resourceSpans?.resource)).toContain('longrun-test');
    const [scopeSpans] = resourceSpans?.scopeSpans ?? [];
    expect(scopeSpans?.scope).toMatchObject({ name: '@longrun/telemetry' });
    const spans = scopeSpans?.spans ?? [];
    expect(spans.map((s) => s.name)).toEqual(['chat claude-sonnet-5', 'invoke_agent coder']);
    const [chat, turn] = spans;
    expect(turn?.traceId).toBe(traceIdFor('ses_j'));
    expect(turn?.spanId).toBe(spanIdFor('ses_j', 'turn:1'));
    expect(chat?.parentSpanId).toBe(turn?.spanId);
    expect(String(turn?.startTimeUnixNano)).toBe(`${t0}000000`);
    expect(String(turn?.endTimeUnixNano)).toBe(`${t0 + 500}000000`);
    expect(chat?.kind).toBe(3); // SPAN_KIND_CLIENT
    expect(chat?.attributes).toContainEqual({
      key: 'gen_ai.provider.name',
      value: { stringValue: 'anthropic' },
    });
  });

  it('ends spans still open at the last event, marked open', () => {
    const json = otlpTraceJson(events.slice(0, 2), { semconv: 'latest' });
    const spans = json.resourceSpans[0]?.scopeSpans[0]?.spans ?? [];
    const turn = spans.find((s) => s.name === 'invoke_agent coder');
    expect(String(turn?.endTimeUnixNano)).toBe(`${t0 + 250}000000`);
    expect(turn?.attributes).toContainEqual({
      key: 'longrun.span.open',
      value: { boolValue: true },
    });
  });
});
