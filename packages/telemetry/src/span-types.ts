import type { SemconvStability } from './trace-semconv.ts';

/** A span attribute's value, as OpenTelemetry allows them. */
export type SpanAttributeValue = string | number | boolean | string[];
export type SpanAttributes = Record<string, SpanAttributeValue>;

/** A point in a span's life: a log event that is a decision rather than an operation. */
export interface DerivedSpanEvent {
  /** The log event's type (`policy.decided`, `gate.decided`, `budget.reserved`…). */
  name: string;
  atMs: number;
  attributes: SpanAttributes;
}

/**
 * A span derived from a session's log: plain data (ids in lowercase hex, times in epoch
 * milliseconds from the events' `atMs`), turned into OpenTelemetry's ReadableSpan only to export.
 */
export interface DerivedSpan {
  traceId: string;
  spanId: string;
  /** Null for the root session's turns. */
  parentSpanId: string | null;
  /** `invoke_agent {agent}`, `chat {model}`, `execute_tool {tool}`, `wait {kind}`, `await_approval`. */
  name: string;
  kind: 'internal' | 'client';
  startMs: number;
  /** Null while the span is still open at the end of the events given. */
  endMs: number | null;
  status: 'unset' | 'error';
  /** With status `error`: what went wrong, in words. */
  statusMessage?: string;
  attributes: SpanAttributes;
  events: DerivedSpanEvent[];
  /** The session whose log it comes from; the seqs of the events that opened and closed it. */
  sessionId: string;
  openSeq: number;
  closeSeq: number | null;
}

export interface DeriveSpansOptions {
  /**
   * Record content (messages, tool arguments and results) in `gen_ai.input.messages`,
   * `gen_ai.output.messages`, `gen_ai.tool.call.arguments` and `gen_ai.tool.call.result`. Off by
   * default: content may hold what a user would not want in a tracing backend.
   */
  captureContent?: boolean;
  /**
   * Which version of the GenAI conventions to follow; by default read from
   * `OTEL_SEMCONV_STABILITY_OPT_IN` (see trace-semconv.ts).
   */
  semconv?: SemconvStability;
}
