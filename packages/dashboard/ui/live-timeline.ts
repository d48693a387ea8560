// A session's live timeline: its SSE stream folded by TimelineModel and drawn by TimelineView.
import type { ApiClient } from './api-client.ts';
import type { SessionView } from './api-types.ts';
import { SessionStream, type StreamStatus } from './event-stream.ts';
import { approvalsChanged } from './page.ts';
import { itemTiming } from './item-timing.ts';
import { TimelineModel } from './timeline-model.ts';
import { TimelineView } from './timeline-view.ts';

/** Header figures (steps, tokens) change with events; re-read them at most this often. */
const headerRefreshMs = 1_000;

export interface LiveTimelineHooks {
  /** A fresher view of the session (from the stream, or re-read after events). */
  session: (view: SessionView) => void;
  streamStatus: (status: StreamStatus) => void;
  /** The server refused the stream; the reason (a 401 prompts for a key) comes from this read. */
  refused: () => void;
  /** Durable events were applied (the trace and the raw events changed). */
  changed?: () => void;
}

export function liveTimeline(
  api: ApiClient,
  sessionId: string,
  filesHref: string,
  hooks: LiveTimelineHooks,
) {
  const model = new TimelineModel();
  const view = new TimelineView({
    decide: (approvalId, decision, reason, scope) =>
      api.decide(sessionId, approvalId, decision, reason, scope),
    loadArguments: (approvalId) => api.approvalDetail(sessionId, approvalId),
    filesHref,
    timing: (item) => itemTiming(model.trace, item),
  });
  const refresh = throttle(
    async () => hooks.session(await api.getSession(sessionId)),
    headerRefreshMs,
  );
  const stream = new SessionStream({
    url: (afterSeq) => api.streamUrl(sessionId, afterSeq),
    lastSeq: () => model.lastSeq,
    onRefused: hooks.refused,
    handlers: {
      event: (e) => {
        if (!model.applyEvent(e)) return;
        view.schedule(model);
        hooks.changed?.();
        refresh();
        if (e.type.startsWith('approval.')) approvalsChanged();
      },
      delta: (d) => {
        model.applyDelta(d);
        view.schedule(model);
      },
      state: hooks.session,
      status: hooks.streamStatus,
    },
  });
  return {
    model,
    element: view.element,
    start: () => stream.start(),
    dispose: () => {
      stream.close();
      view.dispose();
    },
  };
}

/** Calls `run` at most once per `intervalMs`; a call in between is deferred to the window's end. */
function throttle(run: () => Promise<void>, intervalMs: number): () => void {
  let lastMs = 0;
  let timer: ReturnType<typeof setTimeout> | null = null;
  const fire = () => {
    timer = null;
    lastMs = Date.now();
    run().catch((e: unknown) => console.warn('longrun: header refresh failed', e));
  };
  return () => {
    if (timer !== null) return;
    const waitMs = Math.max(0, lastMs + intervalMs - Date.now());
    timer = setTimeout(fire, waitMs);
  };
}
