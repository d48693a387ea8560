import type { StoredEvent } from '@longrun/core';
import { JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { deriveSessionSpans } from './span-deriver.ts';
import { toReadableSpan, traceResourceOf, traceScopeOf } from './otlp-readable-span.ts';
import { semconvStabilityFrom } from './trace-semconv.ts';
import type { DeriveSpansOptions } from './span-types.ts';

/** OTLP/JSON's `ExportTraceServiceRequest`, as OpenTelemetry's JSON serializer writes it. */
export interface OtlpTraceJson {
  resourceSpans: {
    resource?: unknown;
    scopeSpans: { scope?: unknown; schemaUrl?: string; spans: Record<string, unknown>[] }[];
  }[];
}

/**
 * The spans of one session's log as an OTLP/JSON `ExportTraceServiceRequest` (a debug bundle's
 * `trace.json`): derived by `deriveSessionSpans`, serialized by OpenTelemetry's own
 * JsonTraceSerializer. Spans still open at the end of the log end at its last event and carry
 * `longrun.span.open: true`. A sub-agent's spans are in its root's trace: give each session's
 * events to its own call and concatenate `resourceSpans`, or read them with an OTLP tool.
 */
export function otlpTraceJson(
  events: readonly StoredEvent[],
  options: DeriveSpansOptions & { serviceName?: string } = {},
): OtlpTraceJson {
  const semconv = options.semconv ?? semconvStabilityFrom(process.env);
  const spans = deriveSessionSpans(events, { ...options, semconv });
  const resource = traceResourceOf(
    options.serviceName === undefined ? process.env : { OTEL_SERVICE_NAME: options.serviceName },
  );
  const scope = traceScopeOf(semconv);
  const lastAtMs = events.at(-1)?.atMs ?? 0;
  const readable = spans.map((s) => toReadableSpan(s, resource, scope, lastAtMs));
  const bytes = JsonTraceSerializer.serializeRequest(readable);
  if (bytes === undefined) throw new Error('the OTLP JSON serializer returned nothing');
  return JSON.parse(new TextDecoder().decode(bytes)) as OtlpTraceJson;
}
