import type { SessionStore } from '@longrun/core';
import type { SpanSink } from '@longrun/telemetry';
import type { WorkerEvents, WorkerLogEntry } from './worker-events.ts';

/** A process's trace export: subscribe its worker, and close it after the worker stopped. */
export interface TraceExport {
  /** Exports the spans the worker's commits close; returns the function that unsubscribes. */
  subscribe(worker: Pick<WorkerEvents, 'on'>): () => void;
  /** Resolves once every commit seen so far was derived and exported (or given up on). */
  flush(): Promise<void>;
  /** Flushes, then shuts the exporter down. Call it after the worker stopped. */
  close(): Promise<void>;
}

export interface TraceExportOptions {
  store: Pick<SessionStore, 'readEvents'>;
  /** Where spans go; by default OTLP over HTTP with protobuf, as the OTEL_* env configures it. */
  sink?: SpanSink;
  /** Default: `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  /**
   * Record messages, tool arguments and results on spans. Default: off, unless the env sets
   * `OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true`.
   */
  captureContent?: boolean;
  log?: (entry: WorkerLogEntry) => void;
}

/**
 * Traces derived from the log (DESIGN §8), exported from the worker's `events.committed`: each
 * commit is pushed through the session's span deriver and the spans it closed go to the sink, so
 * a span is exported once it is closed, by the process that committed the event that closed it
 * (TraceSessionFeed says why that is exactly once across takeovers). The telemetry package and
 * the OpenTelemetry SDK are loaded only here, so a process without tracing never pays for them.
 *
 * Null when no sink is given and the env configures no OTLP endpoint
 * (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).
 */
export async function openTraceExport(options: TraceExportOptions): Promise<TraceExport | null> {
  const env = options.env ?? process.env;
  if (options.sink === undefined && !otlpTracesConfigured(env)) return null;
  const telemetry = await import('@longrun/telemetry');
  const log = options.log ?? (() => undefined);
  const semconv = telemetry.semconvStabilityFrom(env);
  const sink =
    options.sink ??
    new telemetry.OtlpSpanSink({
      semconv,
      env,
      onError: (error, spans) =>
        log({
          level: 'warn',
          msg: `trace export failed, ${spans} spans dropped: ${error.message}`,
        }),
    });
  const captureContent =
    options.captureContent ??
    env.OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT?.toLowerCase() === 'true';
  const feed = new telemetry.TraceSessionFeed({
    read: (id, afterSeq, limit) => options.store.readEvents(id, afterSeq, limit),
    sink,
    derive: { captureContent, semconv },
    onError: (error, sessionId) =>
      log({
        level: 'warn',
        msg: `trace derivation failed: ${error instanceof Error ? error.message : String(error)}`,
        sessionId,
      }),
  });
  const flush = async (): Promise<void> => {
    await feed.settled();
    await sink.flush();
  };
  return {
    subscribe(worker) {
      const offs = [
        worker.on('events.committed', ({ sessionId, events }) => feed.committed(sessionId, events)),
        worker.on('session.ended', ({ sessionId }) => feed.ended(sessionId)),
      ];
      return () => offs.forEach((off) => off());
    },
    flush,
    async close() {
      await feed.settled();
      await sink.close();
    },
  };
}

/**
 * Whether the env asks for traces over OTLP: an endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`
 * or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`), and neither `OTEL_SDK_DISABLED=true` nor
 * `OTEL_TRACES_EXPORTER=none` turns them off.
 */
export function otlpTracesConfigured(env: Readonly<Record<string, string | undefined>>): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER?.trim().toLowerCase() === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_EXPORTER_OTLP_ENDPOINT);
}
