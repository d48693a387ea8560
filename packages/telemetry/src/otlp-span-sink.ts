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
  /**
   * How long closed spans wait for others to join their request, milliseconds (default
   * `OTEL_BSP_SCHEDULE_DELAY`, else 200; 0 sends each commit's spans at once).
   */
  batchDelayMs?: number;
}

/** The batching delay the env sets (`OTEL_BSP_SCHEDULE_DELAY`, the SDK's own name), else 200 ms. */
function batchDelayOf(env: Readonly<Record<string, string | undefined>>): number {
  const ms = Number(env.OTEL_BSP_SCHEDULE_DELAY);
  return env.OTEL_BSP_SCHEDULE_DELAY !== undefined && Number.isFinite(ms) && ms >= 0 ? ms : 200;
}

/**
 * The exporter's endpoint when `env` is not the process's own (the SDK reads the rest of its
 * configuration from `process.env`): the traces endpoint, or the base endpoint + `/v1/traces`.
 */
function exporterConfigOf(
  env: Readonly<Record<string, string | undefined>>,
): { url: string } | undefined {
  if (env === process.env) return undefined;
  const traces = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (traces !== undefined && traces !== '') return { url: traces };
  const base = env.OTEL_EXPORTER_OTLP_ENDPOINT;
  if (base !== undefined && base !== '') return { url: `${base.replace(/\/+$/, '')}/v1/traces` };
  return undefined;
}

/** Spans in one request at most. */
const maxBatch = 512;
/** Spans queued at most while the receiver is slow or away; the oldest are dropped past it. */
const maxQueued = 20_000;

/**
 * Exports derived spans with the OpenTelemetry SDK's exporter (by default
 * `@opentelemetry/exporter-trace-otlp-proto`: OTLP, HTTP, protobuf, to
 * `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` or `OTEL_EXPORTER_OTLP_ENDPOINT` + `/v1/traces`, with
 * `OTEL_EXPORTER_OTLP_HEADERS` and the rest of the exporter's env). Spans are sent in batches, one
 * request in flight at a time, in order: a batch goes when it is full (512 spans) or when its
 * first span has waited the batching delay (200 ms by default), so a busy worker makes a request
 * per batch, not per commit, and the window in which a `kill -9` loses spans that closed is the
 * delay plus one round trip to the receiver.
 */
export class OtlpSpanSink implements SpanSink {
  readonly #exporter: SpanExporter;
  readonly #toReadable: (s: DerivedSpan) => ReturnType<typeof toReadableSpan>;
  readonly #onError: (error: Error, spans: number) => void;
  #queue: DerivedSpan[] = [];
  #running: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  readonly #delayMs: number;
  dropped = 0;

  constructor(options: OtlpSpanSinkOptions) {
    const env = options.env ?? process.env;
    this.#exporter = options.exporter ?? new OTLPTraceExporter(exporterConfigOf(env));
    const resource = traceResourceOf(env);
    const scope = traceScopeOf(options.semconv);
    this.#toReadable = (s) => toReadableSpan(s, resource, scope);
    this.#onError = options.onError ?? (() => undefined);
    this.#delayMs = options.batchDelayMs ?? batchDelayOf(env);
  }

  send(spans: readonly DerivedSpan[]): void {
    if (spans.length === 0) return;
    this.#queue.push(...spans);
    const over = this.#queue.length - maxQueued;
    if (over > 0) {
      this.#queue.splice(0, over);
      this.dropped += over;
    }
    // A full batch goes at once; a smaller one waits up to the delay for more to join it.
    if (this.#queue.length >= maxBatch || this.#delayMs === 0) this.#start();
    else this.#timer ??= setTimeout(() => this.#start(), this.#delayMs);
  }

  async flush(): Promise<void> {
    if (this.#queue.length > 0) this.#start();
    while (this.#running !== null) await this.#running;
  }

  #start(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#running ??= this.#drain().finally(() => (this.#running = null));
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
