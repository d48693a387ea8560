// One session: its header (status first, visible before any token), actions, the live timeline
// and the workspace files tab.
import { ApiError, describeError } from './api-client.ts';
import { composer } from './composer.ts';
import { h, replaceChildren } from './dom.ts';
import { filesPanel } from './files-page.ts';
import { liveTimeline } from './live-timeline.ts';
import type { AppContext, Page } from './page.ts';
import { sessionHeader } from './session-header.ts';

export interface SessionPage extends Page {
  readonly sessionId: string;
  showTab(tab: 'timeline' | 'files'): void;
}

export function sessionPage(
  ctx: AppContext,
  sessionId: string,
  tab: 'timeline' | 'files',
): SessionPage {
  const base = `#/sessions/${encodeURIComponent(sessionId)}`;
  const header = sessionHeader(sessionId, {
    cancel: async (reason) => header.update(await ctx.api.cancel(sessionId, reason)),
    resume: async () => header.update(await ctx.api.resume(sessionId, null)),
    changeBudget: async (change) => header.update(await ctx.api.changeBudget(sessionId, change)),
  });
  const readSession = () =>
    ctx.api.getSession(sessionId).then(header.update, (e: unknown) => {
      header.error(describeError(e));
      // No such session (or another tenant's): retrying the stream cannot help.
      if (e instanceof ApiError && e.status === 404) {
        timeline.dispose();
        header.streamStatus('stopped');
      }
    });
  const timeline = liveTimeline(ctx.api, sessionId, `${base}/files`, {
    session: header.update,
    streamStatus: header.streamStatus,
    refused: () => void readSession(),
  });
  const files = filesPanel(ctx, sessionId);
  const tabs = tabBar(base);
  const timelinePane = h(
    'div',
    { class: 'session-body' },
    timeline.element,
    composer(ctx, sessionId, header.update),
  );
  const body = h('div', { class: 'session-tab' });
  const showTab = (next: 'timeline' | 'files') => {
    tabs.select(next);
    replaceChildren(body, next === 'timeline' ? timelinePane : files.element);
    if (next === 'files') files.load();
  };
  showTab(tab);
  void readSession();
  timeline.start();
  const element = h(
    'section',
    { class: 'page session-page', testid: 'session-page', attrs: { 'data-session-id': sessionId } },
    header.element,
    tabs.element,
    body,
  );
  return { element, sessionId, showTab, dispose: timeline.dispose };
}

function tabBar(base: string) {
  const timeline = h(
    'a',
    { testid: 'tab-timeline', attrs: { href: base, role: 'tab' } },
    'Timeline',
  );
  const files = h(
    'a',
    { testid: 'tab-files', attrs: { href: `${base}/files`, role: 'tab' } },
    'Files',
  );
  const element = h(
    'nav',
    { class: 'tabs', attrs: { role: 'tablist', 'aria-label': 'Session views' } },
    timeline,
    files,
  );
  return {
    element,
    select(tab: 'timeline' | 'files') {
      timeline.setAttribute('aria-selected', String(tab === 'timeline'));
      files.setAttribute('aria-selected', String(tab === 'files'));
    },
  };
}
