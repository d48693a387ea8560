// One session: its header (status first, visible before any token), its place in a sub-agent
// tree, actions, and four tabs: the live timeline, the trace (cost and waterfall), the raw
// events, and the workspace files.
import { ApiError, describeError } from './api-client.ts';
import { composer } from './composer.ts';
import { h, replaceChildren } from './dom.ts';
import { eventsPanel } from './events-panel.ts';
import { filesPanel } from './files-page.ts';
import { liveTimeline } from './live-timeline.ts';
import type { AppContext, Page } from './page.ts';
import type { SessionTab } from './router.ts';
import { sessionHeader } from './session-header.ts';
import { sessionTree } from './session-tree.ts';
import { tracePanel } from './trace-panel.ts';

export interface SessionPage extends Page {
  readonly sessionId: string;
  showTab(tab: SessionTab): void;
}

export function sessionPage(ctx: AppContext, sessionId: string, tab: SessionTab): SessionPage {
  const base = `#/sessions/${encodeURIComponent(sessionId)}`;
  const header = sessionHeader(sessionId, {
    cancel: async (reason) => update(await ctx.api.cancel(sessionId, reason)),
    resume: async () => update(await ctx.api.resume(sessionId, null)),
    changeBudget: async (change) => update(await ctx.api.changeBudget(sessionId, change)),
  });
  const readSession = () =>
    ctx.api.getSession(sessionId).then(update, (e: unknown) => {
      header.error(describeError(e));
      // No such session (or another tenant's): retrying the stream cannot help.
      if (e instanceof ApiError && e.status === 404) {
        timeline.dispose();
        header.streamStatus('stopped');
      }
    });
  const timeline = liveTimeline(ctx.api, sessionId, `${base}/files`, {
    session: (view) => update(view),
    streamStatus: header.streamStatus,
    refused: () => void readSession(),
    changed: () => {
      trace.schedule();
      events.schedule();
    },
  });
  const trace = tracePanel(timeline.model);
  const events = eventsPanel(timeline.model);
  const tree = sessionTree(ctx, sessionId);
  const update: typeof header.update = (view) => {
    header.update(view);
    trace.session(view);
  };
  const files = filesPanel(ctx, sessionId);
  const tabs = tabBar(base);
  const timelinePane = h(
    'div',
    { class: 'session-body' },
    timeline.element,
    composer(ctx, sessionId, update),
  );
  const body = h('div', { class: 'session-tab' });
  const panes: Record<SessionTab, HTMLElement> = {
    timeline: timelinePane,
    trace: trace.element,
    events: events.element,
    files: files.element,
  };
  const showTab = (next: SessionTab) => {
    tabs.select(next);
    replaceChildren(body, panes[next]);
    if (next === 'files') files.load();
    if (next === 'trace') trace.render();
    if (next === 'events') events.render();
  };
  showTab(tab);
  void readSession();
  tree.load();
  timeline.start();
  const element = h(
    'section',
    { class: 'page session-page', testid: 'session-page', attrs: { 'data-session-id': sessionId } },
    header.element,
    tree.element,
    tabs.element,
    body,
  );
  return { element, sessionId, showTab, dispose: timeline.dispose };
}

const tabLabels: Record<SessionTab, string> = {
  timeline: 'Timeline',
  trace: 'Trace',
  events: 'Events',
  files: 'Files',
};

function tabBar(base: string) {
  const links = (Object.keys(tabLabels) as SessionTab[]).map((tab) =>
    h(
      'a',
      {
        testid: `tab-${tab}`,
        attrs: { href: tab === 'timeline' ? base : `${base}/${tab}`, role: 'tab' },
      },
      tabLabels[tab],
    ),
  );
  const element = h(
    'nav',
    { class: 'tabs', attrs: { role: 'tablist', 'aria-label': 'Session views' } },
    ...links,
  );
  return {
    element,
    select(tab: SessionTab) {
      for (const link of links) {
        link.setAttribute('aria-selected', String(link.dataset.testid === `tab-${tab}`));
      }
    },
  };
}
