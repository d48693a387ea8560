import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import type { SpanExporter } from '@opentelemetry/sdk-trace';
import { toReadableSpan, traceResourceOf, traceScopeOf } from './otlp-readable-span.ts';
import type { SemconvStability } from './trace-semconv.ts';
import type { DerivedSpan } from './span-types.ts';

/** Where closed spans go. `send` never throws; `close` sends what is queued, then stops. */
export interface SpanSink {
  send(spans: readonly DerivedSpan[]): void;
  /** Resolves once everything sent so far was exported (or given up on). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export interface OtlpSpanSinkOptions {
  /** The SDK's exporter; by default OTLP over HTTP with protobuf, configured by the OTEL_* env. */
  exporter?: SpanExporter;
  semconv: SemconvStability;
  env?: Readonly<Record<string, string | undefined>>;
  /** Told when an export failed (the exporter has retried what it retries); its spans are dropped. */
  onError?: (error: Error, spans: number) => void;
}

/** Spans in one request at most. */
const maxBatch = 512;
/** Spans queued at most while the receiver is slow or away; the oldest are dropped past it. */
const maxQueued = 20_000;

/**
 * Exports derived spans with the OpenTelemetry SDK's exporter (by default
 * `@opentelemetry/exporter-trace-otlp-proto`: OTLP, HTTP, protobuf, to
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, with
 * `OTEL_EXPORTER_OTLP_HEADERS` and the rest of the exporter's env). Spans are sent as soon as they
 * are given, one request in flight at a time, in order: no batching delay, so the window in which
 * a `kill -9` loses spans that closed is one round trip to the receiver.
 */
export class OtlpSpanSink implements SpanSink {
  readonly #exporter: SpanExporter;
  readonly #toReadable: (s: DerivedSpan) => ReturnType<typeof toReadableSpan>;
  readonly #onError: (error: Error, spans: number) => void;
  #queue: DerivedSpan[] = [];
  #running: Promise<void> | null = null;
  dropped = 0;

  constructor(options: OtlpSpanSinkOptions) {
    this.#exporter = options.exporter ?? new OTLPTraceExporter();
    const resource = traceResourceOf(options.env ?? process.env);
    const scope = traceScopeOf(options.semconv);
    this.#toReadable = (s) => toReadableSpan(s, resource, scope);
    this.#onError = options.onError ?? (() => undefined);
  }

  send(spans: readonly DerivedSpan[]): void {
    if (spans.length === 0) return;
    this.#queue.push(...spans);
    const over = this.#queue.length - maxQueued;
    if (over > 0) {
      this.#queue.splice(0, over);
      this.dropped += over;
    }
    this.#running ??= this.#drain().finally(() => (this.#running = null));
  }

  async flush(): Promise<void> {
    while (this.#running !== null) await this.#running;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.#exporter.shutdown();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, maxBatch);
      const result = await new Promise<ExportResult>((resolve) =>
        this.#exporter.export(batch.map(this.#toReadable), resolve),
      );
      if (result.code !== ExportResultCode.SUCCESS) {
        this.dropped += batch.length;
        this.#onError(result.error ?? new Error('the OTLP export failed'), batch.length);
      }
    }
  }
}
