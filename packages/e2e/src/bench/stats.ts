/** Percentile by nearest rank over a copy of the values; NaN for none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] as number;
}

export function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function summary(values: readonly number[]): { p50: number; p99: number; n: number } {
  return {
    p50: round(percentile(values, 50)),
    p99: round(percentile(values, 99)),
    n: values.length,
  };
}
