import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';

/** The Content-Type of the Prometheus text exposition format, version 0.0.4. */
export const prometheusContentType = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * OpenTelemetry's Prometheus exporter as a pull reader without its own server: `GET /metrics`
 * is served by the process's own HTTP server (the API, or the worker's metrics port), which asks
 * `text()` for the exposition, written by OpenTelemetry's own serializer.
 */
export class PrometheusExposition {
  readonly reader = new PrometheusExporter({ preventServerStart: true });
  readonly #serializer = new PrometheusSerializer();

  /** Collects every instrument now (observable gauges are read by this) and serializes them. */
  async text(): Promise<string> {
    // A gauge whose read failed is left out of this scrape (its callback logs nothing, answers
    // nothing), not the whole exposition.
    const { resourceMetrics } = await this.reader.collect();
    return this.#serializer.serialize(resourceMetrics);
  }
}
