// Display formats: short, unit-bearing, and the same on every page.

const units: [limitMs: number, sizeMs: number, suffix: string][] = [
  [60_000, 1_000, 's'],
  [3_600_000, 60_000, 'm'],
  [86_400_000, 3_600_000, 'h'],
  [Infinity, 86_400_000, 'd'],
];

/** "4s", "12m", "3h", "2d": how long ago `atMs` was. */
export function formatAge(atMs: number | null, nowMs: number): string {
  if (atMs === null) return '—';
  const ageMs = Math.max(0, nowMs - atMs);
  for (const [limitMs, sizeMs, suffix] of units) {
    if (ageMs < limitMs) return `${Math.floor(ageMs / sizeMs)}${suffix}`;
  }
  return '—';
}

const pad = (n: number): string => String(n).padStart(2, '0');

/** Local date and time to the second, e.g. "2025-11-22 14:03:09". */
export function formatDateTime(atMs: number): string {
  const d = new Date(atMs);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `${date} ${formatTime(atMs)}`;
}

export function formatTime(atMs: number): string {
  const d = new Date(atMs);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** 950 → "950", 12_345 → "12.3k", 4_200_000 → "4.2M". */
export function formatCount(n: number): string {
  if (n < 1_000) return String(n);
  if (n < 1_000_000) return `${(n / 1_000).toFixed(n < 10_000 ? 2 : 1)}k`;
  return `${(n / 1_000_000).toFixed(1)}M`;
}

export function formatTokens(tokens: { input: number; output: number }): string {
  return `${formatCount(tokens.input)} in · ${formatCount(tokens.output)} out`;
}

export function formatCost(usd: number | null): string {
  if (usd === null) return '—';
  return usd < 0.01 && usd > 0 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}

export function formatMode(mode: number): string {
  return (mode & 0o777).toString(8).padStart(3, '0');
}

/** The distinctive head of an id, e.g. "ses_3f9a1c…". */
export function shortId(id: string, chars = 12): string {
  return id.length <= chars + 1 ? id : `${id.slice(0, chars)}…`;
}

/** One line of JSON, cut to `maxChars`. */
export function jsonPreview(value: unknown, maxChars = 120): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'undefined');
  const line = text.replace(/\s+/g, ' ');
  return line.length > maxChars ? `${line.slice(0, maxChars - 1)}…` : line;
}

export function prettyJson(value: unknown): string {
  return typeof value === 'string' ? value : (JSON.stringify(value, null, 2) ?? 'undefined');
}

/** 340 → "340 ms", 1_234 → "1.2 s", 185_000 → "3m 05s", 7_380_000 → "2h 03m". */
export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1_000).toFixed(ms < 10_000 ? 2 : 1)} s`;
  const s = Math.floor(ms / 1_000);
  if (s < 3_600) return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  return `${Math.floor(s / 3_600)}h ${pad(Math.floor(s / 60) % 60)}m`;
}
