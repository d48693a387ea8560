// When a timeline item happened and how long it took, from the trace's spans.
import { formatDuration } from './format.ts';
import type { WaterfallModel } from './waterfall-model.ts';

/**
 * "+1.20 s · took 340 ms" for an item that is a span (a model attempt, a tool call, an approval,
 * a wait), "+1.20 s · running" for one still open, and "+1.20 s" for an instant; the offset is
 * from the session's first event. Null before any event.
 */
export function itemTiming(
  trace: WaterfallModel,
  item: { key: string; atMs: number | null },
): string | null {
  const origin = trace.originMs;
  if (origin === null) return null;
  const span = trace.span(item.key);
  const startMs = span?.startMs ?? item.atMs;
  if (startMs === null) return null;
  const offset = `+${formatDuration(Math.max(0, startMs - origin))}`;
  if (span === undefined) return offset;
  if (span.endMs === null) return `${offset} · running`;
  return `${offset} · took ${formatDuration(span.endMs - span.startMs)}`;
}
