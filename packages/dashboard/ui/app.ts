// The dashboard's entry point: the shell (navigation, approvals count), the API key when the
// server wants one, and the router that mounts one page at a time.
import { ApiClient, describeError } from './api-client.ts';
import { approvalsPage } from './approvals-page.ts';
import { h, replaceChildren } from './dom.ts';
import { forgetKey, loadKey, promptForKey } from './key-prompt.ts';
import { onApprovalsChanged, poll, type AppContext, type Page } from './page.ts';
import { startRouter, type Route } from './router.ts';
import { sessionPage, type SessionPage } from './session-page.ts';
import { sessionsPage } from './sessions-page.ts';

const approvalsCountMs = 3_000;
const recountDelayMs = 200;

let key: string | null = loadKey();
let authMode: 'none' | 'keys' = 'none';

const api = new ApiClient({
  getKey: () => (authMode === 'keys' ? key : null),
  onUnauthorized: () => {
    forgetKey();
    void promptForKey('The server refused the key (401). Enter a valid API key.').then((k) => {
      key = k;
      location.reload();
    });
  },
});
const ctx: AppContext = { api };

function shell(main: HTMLElement) {
  const count = h('span', {
    class: 'count',
    testid: 'nav-approvals-count',
    attrs: { hidden: true },
  });
  const sessions = h('a', { testid: 'nav-sessions', attrs: { href: '#/sessions' } }, 'Sessions');
  const approvals = h(
    'a',
    { testid: 'nav-approvals', attrs: { href: '#/approvals' } },
    'Approvals ',
    count,
  );
  const server = h('span', { class: 'server muted small', testid: 'server-info' });
  const nav = h(
    'nav',
    { class: 'top', attrs: { 'aria-label': 'Main' } },
    h('a', { class: 'brand', attrs: { href: '#/sessions' } }, 'longrun'),
    sessions,
    approvals,
    h('span', { class: 'spacer' }),
    server,
  );
  replaceChildren(document.body, nav, main);
  return {
    select(route: Route) {
      sessions.toggleAttribute('aria-current', route.name !== 'approvals');
      approvals.toggleAttribute('aria-current', route.name === 'approvals');
    },
    count(n: number, more: boolean) {
      count.hidden = n === 0;
      count.textContent = more ? `${n}+` : String(n);
    },
    server(text: string) {
      server.textContent = text;
    },
  };
}

function mount(main: HTMLElement, current: Page | null, route: Route): Page {
  if (
    route.name === 'session' &&
    current !== null &&
    (current as SessionPage).sessionId === route.id
  ) {
    (current as SessionPage).showTab(route.tab);
    return current;
  }
  current?.dispose();
  const page =
    route.name === 'approvals'
      ? approvalsPage(ctx)
      : route.name === 'session'
        ? sessionPage(ctx, route.id, route.tab)
        : sessionsPage(ctx);
  replaceChildren(main, page.element);
  return page;
}

async function start(): Promise<void> {
  const main = h('main', { attrs: { id: 'main' } });
  const ui = shell(main);
  try {
    const health = await api.health();
    authMode = health.auth;
    ui.server(`server ${health.version} · auth: ${health.auth}`);
    if (authMode === 'keys' && key === null)
      key = await promptForKey('This server requires an API key.');
  } catch (error) {
    ui.server(`server unreachable: ${describeError(error)}`);
  }
  let page: Page | null = null;
  const countApprovals = async () => {
    const { approvals, more } = await api.listApprovals();
    ui.count(approvals.length, more);
  };
  startRouter((route) => {
    ui.select(route);
    page = mount(main, page, route);
    countApprovals().catch(() => undefined); // the poll below reports failures
  });
  poll(countApprovals, approvalsCountMs);
  // A replayed log may hold many approval events: one count for a burst of them.
  let recount: ReturnType<typeof setTimeout> | null = null;
  onApprovalsChanged(() => {
    recount ??= setTimeout(() => {
      recount = null;
      countApprovals().catch(() => undefined);
    }, recountDelayMs);
  });
}

void start();
