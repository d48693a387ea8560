import type { ToolWindow } from './records.ts';

export interface Overlap {
  sessionId: string;
  a: ToolWindow;
  b: ToolWindow;
  /** How long both were inside the session's tool window, ms. */
  bothMs: number;
}

/**
 * Pairs of tool runs of one session that were in progress at the same instant, in two processes
 * (DESIGN §3, one holder: no two processes run side effects of one session at once) or twice in
 * one process (a worker never runs a session twice). A window with no end lasts until its
 * process died (`deathNs`: when the test saw it exit), or, for a process still alive, until
 * `nowNs` — an open window is a tool still running.
 */
export function overlappingWindows(
  windows: readonly ToolWindow[],
  deathNs: ReadonlyMap<number, bigint>,
  nowNs: bigint,
): Overlap[] {
  const end = (w: ToolWindow): bigint => w.endNs ?? deathNs.get(w.pid) ?? nowNs;
  const bySession = new Map<string, ToolWindow[]>();
  for (const w of windows) {
    const list = bySession.get(w.sessionId) ?? [];
    list.push(w);
    bySession.set(w.sessionId, list);
  }
  const overlaps: Overlap[] = [];
  for (const [sessionId, list] of bySession) {
    list.sort((x, y) => (x.startNs < y.startNs ? -1 : x.startNs > y.startNs ? 1 : 0));
    for (let i = 0; i < list.length; i++) {
      const a = list[i] as ToolWindow;
      const aEnd = end(a);
      // Sorted by start: only later windows that start before `a` ends can overlap it.
      for (let j = i + 1; j < list.length; j++) {
        const b = list[j] as ToolWindow;
        if (b.startNs >= aEnd) break;
        const bothEnd = end(b) < aEnd ? end(b) : aEnd;
        overlaps.push({ sessionId, a, b, bothMs: Number(bothEnd - b.startNs) / 1e6 });
      }
    }
  }
  return overlaps;
}

export function describeOverlap(o: Overlap): string {
  const w = (x: ToolWindow): string =>
    `pid ${x.pid} ${x.tool} ${x.step}:${x.callIndex}#${x.attempt} (${x.how ?? 'no end'})`;
  return `session ${o.sessionId}: ${w(o.a)} and ${w(o.b)} both inside for ${o.bothMs.toFixed(1)} ms`;
}
