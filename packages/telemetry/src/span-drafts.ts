import type { JsonValue, StoredEvent, TokenUsage, ToolCall } from '@longrun/core';
import { genAi } from './trace-semconv.ts';
import type { DerivedSpan, DerivedSpanEvent, SpanAttributes } from './span-types.ts';

/** A span still open: what its closing event will complete. */
export interface SpanDraft {
  spanId: string;
  parentSpanId: string | null;
  name: string;
  kind: DerivedSpan['kind'];
  startMs: number;
  openSeq: number;
  attributes: SpanAttributes;
  events: DerivedSpanEvent[];
}

/** What the span builders of one session share: ids, options, the open turn. */
export interface SessionSpanContext {
  readonly traceId: string;
  readonly sessionId: string;
  readonly captureContent: boolean;
  /** The open turn's span, opened by the event given if there is none. */
  turnFor(e: StoredEvent): SpanDraft;
  /** The open turn's span, if there is one. */
  currentTurn(): SpanDraft | null;
  /** Adds a span event to the open turn, if there is one. */
  noteOnTurn(e: StoredEvent, attributes?: SpanAttributes): void;
  close(draft: SpanDraft, e: StoredEvent | null, end: SpanEnd): DerivedSpan;
  /** When the event before the one being applied committed (for spans that open at their end). */
  readonly previousAtMs: number;
}

/** How a span ended: by its own closing event, or as an error (what `error.type` says). */
export type SpanEnd = { ok: true } | { ok: false; errorType: string; message?: string };

export function closeDraft(
  draft: SpanDraft,
  traceId: string,
  sessionId: string,
  at: { atMs: number; seq: number } | null,
  end: SpanEnd,
): DerivedSpan {
  const attributes = { ...draft.attributes };
  if (!end.ok) attributes[genAi.errorType] = end.errorType;
  return {
    traceId,
    spanId: draft.spanId,
    parentSpanId: draft.parentSpanId,
    name: draft.name,
    kind: draft.kind,
    startMs: draft.startMs,
    // A span never ends before it started, whatever the clocks of two workers said.
    endMs: at === null ? null : Math.max(at.atMs, draft.startMs),
    status: end.ok ? 'unset' : 'error',
    ...(end.ok ? {} : { statusMessage: end.message ?? end.errorType }),
    attributes,
    events: draft.events,
    sessionId,
    openSeq: draft.openSeq,
    closeSeq: at === null ? null : at.seq,
  };
}

/** The span event a log event becomes: its type, time and seq, and the attributes given. */
export function spanEventOf(e: StoredEvent, attributes: SpanAttributes = {}): DerivedSpanEvent {
  return { name: e.type, atMs: e.atMs, attributes: { 'longrun.seq': e.seq, ...attributes } };
}

/** Token usage as the conventions name it (input includes cached input, as longrun counts it). */
export function usageAttributes(usage: TokenUsage): SpanAttributes {
  const attributes: SpanAttributes = {
    [genAi.inputTokens]: usage.inputTokens,
    [genAi.outputTokens]: usage.outputTokens,
  };
  if (usage.cacheReadTokens !== undefined)
    attributes[genAi.cacheReadInputTokens] = usage.cacheReadTokens;
  if (usage.cacheWriteTokens !== undefined)
    attributes[genAi.cacheCreationInputTokens] = usage.cacheWriteTokens;
  if (usage.costUsd !== undefined) attributes['longrun.usage.cost_usd'] = usage.costUsd;
  return attributes;
}

/** The AI SDK's finish reasons (`tool-calls`) in the conventions' spelling (`tool_calls`). */
export function finishReasonOf(reason: string): string {
  return reason.replaceAll('-', '_');
}

/** A JSON value as an attribute: strings as they are, anything else as JSON. */
export function contentText(value: JsonValue): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** `gen_ai.input.messages` / `gen_ai.output.messages`: one text message of `role`. */
export function textMessages(role: 'user' | 'assistant', text: string): string {
  return JSON.stringify([{ role, parts: [{ type: 'text', content: text }] }]);
}

/** A model turn as `gen_ai.output.messages`: its text, then its tool calls. */
export function responseMessages(text: string, calls: ToolCall[], finishReason?: string): string {
  const parts: JsonValue[] = [];
  if (text !== '') parts.push({ type: 'text', content: text });
  for (const c of calls)
    parts.push({
      type: 'tool_call',
      id: c.id ?? `${c.callIndex}`,
      name: c.tool,
      arguments: c.args,
    });
  return JSON.stringify([
    {
      role: 'assistant',
      parts,
      ...(finishReason === undefined ? {} : { finish_reason: finishReasonOf(finishReason) }),
    },
  ]);
}
