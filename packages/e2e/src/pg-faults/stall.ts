import { percentile, round } from '../bench/stats.ts';

export interface Stall {
  /** Epoch ms at which Postgres accepted connections again. */
  acceptedAtMs: number;
  /** Until the first event any session committed after that, ms; null if none came in time. */
  stallMs: number | null;
}

/**
 * The stall after each restart: from the moment the server accepted connections again to the
 * next event committed in any session (its `atMs`, by the server's clock — on this host the same
 * clock as `acceptedAtMs`). A restart followed by no commit before `untilMs[i]` (the next
 * restart, or the end of the run) has no stall figure: it is counted as `censored`.
 */
export function stallsAfter(
  acceptedAtMs: readonly number[],
  untilMs: readonly number[],
  commitAtMs: readonly number[],
): Stall[] {
  const commits = commitAtMs.slice().sort((a, b) => a - b);
  return acceptedAtMs.map((accepted, i) => {
    const next = commits.find((at) => at >= accepted);
    const until = untilMs[i] ?? Number.POSITIVE_INFINITY;
    return {
      acceptedAtMs: accepted,
      stallMs: next !== undefined && next < until ? next - accepted : null,
    };
  });
}

export function stallSummary(stalls: readonly Stall[]): {
  p50Ms: number;
  maxMs: number;
  n: number;
  censored: number;
} {
  const measured = stalls.flatMap((s) => (s.stallMs === null ? [] : [s.stallMs]));
  return {
    p50Ms: round(percentile(measured, 50), 0),
    maxMs: measured.length === 0 ? Number.NaN : Math.max(...measured),
    n: measured.length,
    censored: stalls.length - measured.length,
  };
}
