import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/** What one attack did to the worker, for the report and the pass bars. */
export interface VitalsFigures {
  label: string;
  /** Slowest `GET /v1/health` while the attack ran (a request that failed counts as its timeout). */
  worstHealthMs: number;
  healthChecks: number;
  healthFailures: number;
  baselineRssMiB: number;
  peakRssMiB: number;
  rssGrowthMiB: number;
}

const pollEveryMs = 100;
const rssEveryMs = 50;
const healthTimeoutMs = 5_000;
/** No watch outlives this, whatever a test forgets. */
const maxWatchMs = 10 * 60_000;

export function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1];
  if (kib === undefined) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kib);
}

const mib = (kib: number) => Math.round((kib / 1024) * 10) / 10;

/**
 * Watches a `longrun dev` process: its health endpoint every ~100 ms (one request at a time)
 * and its resident memory every 50 ms. `baseline()` fixes the RSS the bars compare to;
 * `during(label, attack)` records the worst latency and the RSS peak while `attack` runs.
 */
export class WorkerVitals {
  readonly figures: VitalsFigures[] = [];
  /** Every RSS reading: wall-clock ms (the store's clock on this host) and KiB. */
  readonly samples: { atMs: number; kib: number }[] = [];
  readonly #url: string;
  readonly #pid: number;
  #baselineKiB = 0;
  #worstMs = 0;
  #checks = 0;
  #failures = 0;
  #peakKiB = 0;
  #stopped = false;
  readonly #loops: Promise<void>[];

  constructor(url: string, pid: number) {
    this.#url = url;
    this.#pid = pid;
    this.#loops = [this.#watchHealth(), this.#watchRss()];
  }

  /** RSS on a clock of its own, so a slow health answer does not thin the samples out. */
  async #watchRss(): Promise<void> {
    const deadline = performance.now() + maxWatchMs;
    while (!this.#stopped && performance.now() < deadline) {
      this.#sampleRss();
      await new Promise((r) => setTimeout(r, rssEveryMs));
    }
  }

  async #watchHealth(): Promise<void> {
    const deadline = performance.now() + maxWatchMs;
    while (!this.#stopped && performance.now() < deadline) {
      const started = performance.now();
      let ok = false;
      try {
        const response = await fetch(`${this.#url}/v1/health`, {
          signal: AbortSignal.timeout(healthTimeoutMs),
        });
        await response.text();
        ok = response.ok;
      } catch {
        ok = false;
      }
      this.#worstMs = Math.max(this.#worstMs, performance.now() - started);
      this.#checks += 1;
      if (!ok) this.#failures += 1;
      await new Promise((r) => setTimeout(r, pollEveryMs));
    }
  }

  #sampleRss(): void {
    try {
      const kib = rssKiB(this.#pid);
      this.#peakKiB = Math.max(this.#peakKiB, kib);
      if (this.samples.length < 100_000) this.samples.push({ atMs: Date.now(), kib });
    } catch {
      // The process is gone: its health checks fail from now on, which the bars catch.
    }
  }

  /** The median of `samples` RSS readings ~100 ms apart: the worker at rest after its warm-up. */
  async baseline(samples = 10): Promise<number> {
    const readings: number[] = [];
    for (let i = 0; i < samples; i++) {
      readings.push(rssKiB(this.#pid));
      await new Promise((r) => setTimeout(r, pollEveryMs));
    }
    readings.sort((a, b) => a - b);
    this.#baselineKiB = readings[Math.floor(readings.length / 2)] ?? 0;
    return mib(this.#baselineKiB);
  }

  async during<T>(label: string, attack: () => Promise<T>): Promise<T> {
    this.#worstMs = 0;
    this.#checks = 0;
    this.#failures = 0;
    this.#peakKiB = rssKiB(this.#pid);
    const result = await attack();
    this.#sampleRss();
    // A short attack still gets a completed health check of its own (bounded: 2 timeouts).
    const deadline = performance.now() + 2 * healthTimeoutMs;
    while (this.#checks === 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const figures: VitalsFigures = {
      label,
      worstHealthMs: Math.round(this.#worstMs),
      healthChecks: this.#checks,
      healthFailures: this.#failures,
      baselineRssMiB: mib(this.#baselineKiB),
      peakRssMiB: mib(this.#peakKiB),
      rssGrowthMiB: mib(this.#peakKiB - this.#baselineKiB),
    };
    this.figures.push(figures);
    console.log(`[vitals] ${JSON.stringify(figures)}`);
    return result;
  }

  /** The highest RSS read between two wall-clock instants, over the baseline, in MiB. */
  growthBetweenMiB(fromMs: number, toMs: number): number {
    const within = this.samples.filter((s) => s.atMs >= fromMs && s.atMs <= toMs);
    return mib(Math.max(this.#baselineKiB, ...within.map((s) => s.kib)) - this.#baselineKiB);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }
}
