import {
  sessionStatusNames,
  type AppendCommits,
  type SessionCounts,
  type StoredEvent,
} from '@longrun/core';
import type { ObservableResult } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider } from '@opentelemetry/sdk-metrics';
import { MetricDerivation } from './metric-derivation.ts';
import { createEventInstruments } from './metric-instruments.ts';
import { PrometheusExposition, prometheusContentType } from './prometheus-exposition.ts';

/** A sandbox pool's use, as @longrun/sandbox's `SandboxPool.stats()` reports it. */
export interface SandboxPoolUse {
  size: number;
  ready: number;
  inUse: number;
  provisioning: number;
  queued: number;
}

export interface ProcessMetricsOptions {
  /** Sessions by status over the whole store, read at each scrape (`SessionStore.countSessions`). */
  countSessions?: () => Promise<SessionCounts>;
  /**
   * The appends the process's store committed and the commits that carried them, read at each
   * scrape (`SessionStore.appendCommits`): their ratio is how well group commit groups.
   */
  appendCommits?: () => AppendCommits;
  /** The worker's sandbox pool, read at each scrape; null while there is none. */
  sandboxPool?: () => SandboxPoolUse | null;
  /** `service.instance.id` of the resource (e.g. the worker id). */
  instanceId?: string;
  /** A monotonic clock of this process in ms, for recovery times (default `performance.now`). */
  nowMs?: () => number;
}

/**
 * The metrics of one longrun process (DESIGN §8) on one OpenTelemetry `MeterProvider`: what its
 * worker commits (`committed`, `claimed`…, derived by `MetricDerivation`), and gauges read when
 * Prometheus scrapes (`prometheusText`): sessions by status and the claim queue from the store,
 * the sandbox pool. Only aggregate counts and configuration names (models, tools, statuses) are
 * attributes: never a session id, a tenant, an input or an output.
 */
export class ProcessMetrics {
  readonly contentType = prometheusContentType;
  readonly #exposition = new PrometheusExposition();
  readonly #provider: MeterProvider;
  readonly #derivation: MetricDerivation;

  constructor(options: ProcessMetricsOptions = {}) {
    this.#provider = new MeterProvider({
      resource: resourceFromAttributes({
        'service.name': 'longrun',
        ...(options.instanceId === undefined ? {} : { 'service.instance.id': options.instanceId }),
      }),
      readers: [this.#exposition.reader],
    });
    const meter = this.#provider.getMeter('@longrun/telemetry');
    this.#derivation = new MetricDerivation(createEventInstruments(meter), options.nowMs);
    if (options.countSessions !== undefined) observeSessions(meter, options.countSessions);
    if (options.sandboxPool !== undefined) observePool(meter, options.sandboxPool);
    if (options.appendCommits !== undefined) observeAppendCommits(meter, options.appendCommits);
  }

  /** The derivation the worker's events feed (see `MetricDerivation`). */
  get derivation(): MetricDerivation {
    return this.#derivation;
  }

  committed(sessionId: string, events: readonly StoredEvent[]): void {
    this.#derivation.committed(sessionId, events);
  }

  /** Every metric now, in the Prometheus text exposition format (`contentType`). */
  prometheusText(): Promise<string> {
    return this.#exposition.text();
  }

  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }
}

type Meter = ReturnType<MeterProvider['getMeter']>;

function observeSessions(meter: Meter, count: () => Promise<SessionCounts>): void {
  const sessions = meter.createObservableGauge('longrun.sessions', {
    description: 'Sessions by status, over the whole store (every process reports the same)',
    unit: '{session}',
  });
  const queue = meter.createObservableGauge('longrun.claim.queue.depth', {
    description: 'Sessions a worker may claim now: queued, and waiting on a timer that is due',
    unit: '{session}',
  });
  meter.addBatchObservableCallback(
    async (result) => {
      let counts: SessionCounts;
      try {
        counts = await count();
      } catch {
        return; // the store does not answer: these gauges are left out of this scrape
      }
      for (const status of sessionStatusNames)
        result.observe(sessions, counts.byStatus[status], { 'longrun.session.status': status });
      result.observe(queue, counts.byStatus.queued + counts.dueWaits);
    },
    [sessions, queue],
  );
}

function observeAppendCommits(meter: Meter, counts: () => AppendCommits): void {
  const commits = meter.createObservableCounter('longrun.store.append.commits', {
    description:
      "Commits of this process's store that made appends durable (one fsync or one round trip each)",
    unit: '{commit}',
  });
  const appends = meter.createObservableCounter('longrun.store.appends', {
    description: 'Appends those commits carried: appends / commits is how many shared each commit',
    unit: '{append}',
  });
  meter.addBatchObservableCallback(
    (result) => {
      const now = counts();
      result.observe(commits, now.commits);
      result.observe(appends, now.appends);
    },
    [commits, appends],
  );
}

function observePool(meter: Meter, use: () => SandboxPoolUse | null): void {
  const sandboxes = meter.createObservableGauge('longrun.sandbox.pool.usage', {
    description: 'Sandboxes of the pool by state: ready (warm), in_use, provisioning',
    unit: '{sandbox}',
  });
  const limit = meter.createObservableGauge('longrun.sandbox.pool.limit', {
    description: 'The most sandboxes the pool holds',
    unit: '{sandbox}',
  });
  const queued = meter.createObservableGauge('longrun.sandbox.pool.queued', {
    description: 'Claims of a sandbox waiting for one',
    unit: '{claim}',
  });
  sandboxes.addCallback((result: ObservableResult) => {
    const pool = use();
    if (pool === null) return;
    result.observe(pool.ready, { 'longrun.sandbox.state': 'ready' });
    result.observe(pool.inUse, { 'longrun.sandbox.state': 'in_use' });
    result.observe(pool.provisioning, { 'longrun.sandbox.state': 'provisioning' });
  });
  limit.addCallback((result) => {
    const pool = use();
    if (pool !== null) result.observe(pool.size);
  });
  queued.addCallback((result) => {
    const pool = use();
    if (pool !== null) result.observe(pool.queued);
  });
}
