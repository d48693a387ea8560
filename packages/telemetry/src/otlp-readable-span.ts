import { SpanKind, SpanStatusCode, TraceFlags, type SpanContext } from '@opentelemetry/api';
import { hrTimeDuration, millisToHrTime, type InstrumentationScope } from '@opentelemetry/core';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { schemaUrlOf, type SemconvStability } from './trace-semconv.ts';
import type { DerivedSpan } from './span-types.ts';

/** The instrumentation scope of longrun's spans: this package, with the conventions' schema. */
export function traceScopeOf(stability: SemconvStability): InstrumentationScope {
  return { name: '@longrun/telemetry', version: '0.1.0', schemaUrl: schemaUrlOf(stability) };
}

/** The resource spans are reported under: `service.name` from OTEL_SERVICE_NAME, else `longrun`. */
export function traceResourceOf(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Resource {
  return resourceFromAttributes({ 'service.name': env.OTEL_SERVICE_NAME ?? 'longrun' });
}

/**
 * A derived span as the OpenTelemetry SDK's ReadableSpan, with its ids and times set from the
 * log (no clock, no id generator), for the SDK's exporters and serializers. A span still open
 * (`endMs` null) ends at `openEndMs` and says so in `longrun.span.open`.
 */
export function toReadableSpan(
  span: DerivedSpan,
  resource: Resource,
  scope: InstrumentationScope,
  openEndMs = span.startMs,
): ReadableSpan {
  const context: SpanContext = {
    traceId: span.traceId,
    spanId: span.spanId,
    traceFlags: TraceFlags.SAMPLED,
  };
  const startTime = millisToHrTime(span.startMs);
  const endTime = millisToHrTime(span.endMs ?? Math.max(openEndMs, span.startMs));
  return {
    name: span.name,
    kind: span.kind === 'client' ? SpanKind.CLIENT : SpanKind.INTERNAL,
    spanContext: () => context,
    ...(span.parentSpanId === null
      ? {}
      : {
          parentSpanContext: {
            traceId: span.traceId,
            spanId: span.parentSpanId,
            traceFlags: TraceFlags.SAMPLED,
          },
        }),
    startTime,
    endTime,
    duration: hrTimeDuration(startTime, endTime),
    status:
      span.status === 'error'
        ? {
            code: SpanStatusCode.ERROR,
            ...(span.statusMessage ? { message: span.statusMessage } : {}),
          }
        : { code: SpanStatusCode.UNSET },
    attributes:
      span.endMs === null ? { ...span.attributes, 'longrun.span.open': true } : span.attributes,
    links: [],
    events: span.events.map((e) => ({
      name: e.name,
      time: millisToHrTime(e.atMs),
      attributes: e.attributes,
    })),
    ended: span.endMs !== null,
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
