// @longrun/telemetry: traces and metrics derived from the session log (DESIGN §8).
export { deriveSessionSpans, SessionSpanDeriver } from './span-deriver.ts';
export type {
  DerivedSpan,
  DerivedSpanEvent,
  DeriveSpansOptions,
  SpanAttributes,
  SpanAttributeValue,
} from './span-types.ts';
export { otlpTraceJson, type OtlpTraceJson } from './otlp-json.ts';
export { toReadableSpan, traceResourceOf, traceScopeOf } from './otlp-readable-span.ts';
export { spanIdFor, toolSpanIdFor, traceIdFor } from './trace-ids.ts';
export {
  genAi,
  latestSemconvVersion,
  semconvVersion,
  semconvStabilityFrom,
  type SemconvStability,
} from './trace-semconv.ts';
export { OtlpSpanSink, type OtlpSpanSinkOptions, type SpanSink } from './otlp-span-sink.ts';
export { TraceSessionFeed, type ReadEvents } from './trace-session-feed.ts';
export {
  ProcessMetrics,
  type ProcessMetricsOptions,
  type SandboxPoolUse,
} from './metric-process.ts';
export { MetricDerivation } from './metric-derivation.ts';
export { durationBucketsS, tokenBuckets } from './metric-instruments.ts';
export { prometheusContentType } from './prometheus-exposition.ts';
export { serveMetrics, type MetricsServer, type MetricsSource } from './prometheus-server.ts';
