// The sessions list: newest first, filtered by state, agent, text (id or task) and creation day,
// refreshed every few seconds. The server filters; the page follows `next` to fill itself.
import { describeError, type ApiClient, type SessionFilter } from './api-client.ts';
import { sessionStatuses, type SessionStatus, type SessionView } from './api-types.ts';
import { statusBadge } from './badges.ts';
import { sessionCost } from './budget-panel.ts';
import { listQuery } from './list-filters.ts';
import { h, replaceChildren } from './dom.ts';
import {
  formatAge,
  formatCost,
  formatCount,
  formatDateTime,
  formatTime,
  shortId,
} from './format.ts';
import { navigate } from './router.ts';
import { poll, type AppContext, type Page } from './page.ts';
import { newSessionForm } from './new-session-form.ts';

const refreshMs = 2_000;
const pageSize = 100;
const maxLimit = 200;
/** Requests one refresh makes at most to fill a page (a search may answer short pages). */
const maxRequests = 5;
const searchDelayMs = 250;

export function sessionsPage(ctx: AppContext): Page {
  const agents = new Set<string>();
  const status = select('filter-status', 'State', ['', ...sessionStatuses]);
  const agent = select('filter-agent', 'Agent', ['']);
  const search = input('filter-search', 'Search', 'search', 'id or task text');
  const from = input('filter-from', 'From', 'date');
  const to = input('filter-to', 'To', 'date');
  const rows = h('tbody', { testid: 'sessions-rows' });
  const note = h('p', { class: 'muted small', attrs: { 'aria-live': 'polite' } });
  // The list shows the newest `limit` sessions (the API's page holds at most 200).
  const more = h('button', { class: 'link', attrs: { type: 'button', hidden: true } }, 'Show more');
  let limit = pageSize;

  const refresh = async (): Promise<void> => {
    try {
      const filter = {
        status: (status.input.value || undefined) as SessionStatus | undefined,
        agent: agent.input.value,
        limit,
        ...listQuery({ search: search.input.value, from: from.input.value, to: to.input.value }),
      };
      const { sessions, next } = await listUpTo(ctx.api, filter);
      sessions.sort((a, b) => b.createdAtMs - a.createdAtMs);
      for (const s of sessions) agents.add(s.agent);
      syncAgentOptions(agent.input, agents);
      renderRows(rows, sessions);
      more.hidden = next === null || limit >= maxLimit;
      note.textContent = `${sessions.length} session${sessions.length === 1 ? '' : 's'} · updated ${formatTime(Date.now())}`;
    } catch (error) {
      note.textContent = `Could not load sessions: ${describeError(error)}`;
    }
  };
  const refreshNow = () => void refresh();
  status.input.addEventListener('change', refreshNow);
  agent.input.addEventListener('change', refreshNow);
  from.input.addEventListener('change', refreshNow);
  to.input.addEventListener('change', refreshNow);
  let typing: ReturnType<typeof setTimeout> | null = null;
  search.input.addEventListener('input', () => {
    if (typing !== null) clearTimeout(typing);
    typing = setTimeout(refreshNow, searchDelayMs);
  });
  more.addEventListener('click', () => {
    limit = Math.min(limit + pageSize, maxLimit);
    refreshNow();
  });

  const form = newSessionForm(ctx, agents);
  const element = h(
    'section',
    { class: 'page sessions-page', testid: 'sessions-page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Sessions'), form.toggle),
    form.element,
    h(
      'div',
      { class: 'toolbar' },
      search.label,
      search.input,
      status.label,
      status.input,
      agent.label,
      agent.input,
      from.label,
      from.input,
      to.label,
      to.input,
      note,
    ),
    sessionsTable(rows),
    more,
  );
  const stop = poll(refresh, refreshMs);
  return { element, dispose: stop };
}

const columns = [
  'Session',
  'Task',
  'State',
  'Agent',
  'Age',
  'Steps',
  'Tokens',
  'Cost',
  'Last activity',
];

/** Up to `filter.limit` sessions, following `next` over short pages, in at most a few requests. */
async function listUpTo(
  api: ApiClient,
  filter: SessionFilter & { limit: number },
): Promise<{ sessions: SessionView[]; next: string | null }> {
  const sessions: SessionView[] = [];
  let after: string | null = null;
  for (let i = 0; i < maxRequests; i++) {
    const page = await api.listSessions({
      ...filter,
      limit: filter.limit - sessions.length,
      after,
    });
    sessions.push(...page.sessions);
    after = page.next;
    if (after === null || sessions.length >= filter.limit) break;
  }
  return { sessions, next: after };
}

function sessionsTable(rows: HTMLElement): HTMLElement {
  const head = h('tr', {}, ...columns.map((t) => h('th', { attrs: { scope: 'col' } }, t)));
  return h(
    'table',
    { class: 'data sessions', testid: 'sessions-table' },
    h('thead', {}, head),
    rows,
  );
}

function select(id: string, label: string, values: readonly string[]) {
  const input = h('select', { testid: id, attrs: { id } });
  for (const v of values) input.append(h('option', { attrs: { value: v } }, v === '' ? 'all' : v));
  return { label: h('label', { attrs: { for: id } }, label), input };
}

function input(id: string, label: string, type: string, placeholder?: string) {
  const el = h('input', { testid: id, attrs: { id, type, placeholder } });
  return { label: h('label', { attrs: { for: id } }, label), input: el };
}

function syncAgentOptions(input: HTMLSelectElement, agents: Set<string>): void {
  const have = new Set([...input.options].map((o) => o.value));
  for (const name of [...agents].sort()) {
    if (!have.has(name)) input.append(h('option', { attrs: { value: name } }, name));
  }
}

function renderRows(tbody: HTMLElement, sessions: SessionView[]): void {
  const focused =
    document.activeElement?.closest<HTMLElement>('tr[data-session-id]')?.dataset.sessionId;
  const nowMs = Date.now();
  if (sessions.length === 0) {
    replaceChildren(
      tbody,
      h(
        'tr',
        {},
        h('td', { class: 'empty', attrs: { colspan: columns.length } }, 'No sessions match.'),
      ),
    );
    return;
  }
  replaceChildren(tbody, ...sessions.map((s) => sessionRow(s, nowMs)));
  if (focused !== undefined) {
    tbody.querySelector<HTMLElement>(`tr[data-session-id="${CSS.escape(focused)}"] a`)?.focus();
  }
}

function sessionRow(s: SessionView, nowMs: number): HTMLElement {
  const href = `#/sessions/${encodeURIComponent(s.id)}`;
  const state = h('td', {}, statusBadge(s.status));
  if (s.pendingApprovals > 0) {
    state.append(
      ' ',
      h(
        'span',
        { class: 'badge approval-requested', attrs: { title: 'pending approvals' } },
        `${s.pendingApprovals} to approve`,
      ),
    );
  }
  const row = h(
    'tr',
    { testid: 'session-row', attrs: { 'data-session-id': s.id, 'data-status': s.status } },
    h('td', {}, h('a', { attrs: { href, title: s.id } }, h('code', {}, shortId(s.id, 16)))),
    h(
      'td',
      { class: 'task', testid: 'session-task', attrs: { title: s.task ?? '' } },
      s.task ?? '—',
    ),
    state,
    h('td', {}, s.agent),
    h('td', { attrs: { title: formatDateTime(s.createdAtMs) } }, formatAge(s.createdAtMs, nowMs)),
    h('td', { class: 'num' }, formatCount(s.steps)),
    h('td', { class: 'num' }, `${formatCount(s.tokens.input)} / ${formatCount(s.tokens.output)}`),
    h('td', { class: 'num', testid: 'session-cost' }, formatCost(sessionCost(s))),
    h(
      'td',
      { attrs: { title: s.statusReason ?? '' } },
      s.lastEventAtMs === null ? '—' : `${formatAge(s.lastEventAtMs, nowMs)} ago`,
    ),
  );
  row.addEventListener('click', (event) => {
    if ((event.target as Element).closest('a') === null) navigate(href);
  });
  return row;
}
