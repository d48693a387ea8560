// The session page's header: status badge and reason, figures, stream state, and the Resume (a
// paused session) and Cancel actions.
import { describeError } from './api-client.ts';
import { isTerminal, type BudgetChangeBody, type SessionView } from './api-types.ts';
import { budgetRows, raiseBudgetForm, sessionCost } from './budget-panel.ts';
import { statusBadge } from './badges.ts';
import { h, replaceChildren } from './dom.ts';
import type { StreamStatus } from './event-stream.ts';
import { formatAge, formatCost, formatCount, formatDateTime, formatTokens } from './format.ts';

export interface HeaderActions {
  cancel(reason: string | null): Promise<void>;
  resume(): Promise<void>;
  changeBudget(change: BudgetChangeBody): Promise<void>;
}

const streamLabels: Record<StreamStatus, string> = {
  connecting: 'connecting…',
  live: '● live',
  reconnecting: 'reconnecting…',
  stopped: 'not following',
};

export function sessionHeader(sessionId: string, actions: HeaderActions) {
  const title = h('h1', { testid: 'session-agent' }, '…');
  // No status until the server says it: a guessed "queued" would be a lie for a running session.
  const status = h('span', { testid: 'session-status-slot' }, h('span', { class: 'badge' }, '…'));
  const reason = h('span', { class: 'muted small', testid: 'session-status-reason' });
  const stats = h('dl', { class: 'stats', testid: 'session-stats' });
  const stream = h(
    'span',
    { class: 'stream-status', testid: 'stream-status' },
    streamLabels.connecting,
  );
  const error = h('p', { class: 'form-error', attrs: { role: 'alert' } });
  const cancel = cancelControl(actions, error);
  cancel.element.hidden = true; // until the session is known not to be over
  const resume = resumeButton(actions, error);
  resume.hidden = true; // until the session is known to be paused
  const raise = raiseBudgetForm((change) => actions.changeBudget(change), error);
  raise.element.hidden = true; // until the session is known to be paused for its budget
  const element = h(
    'header',
    { class: 'session-header', testid: 'session-header' },
    h(
      'div',
      { class: 'session-title' },
      h('a', { class: 'crumb', attrs: { href: '#/sessions' } }, 'Sessions'),
      h('span', { class: 'crumb-sep', attrs: { 'aria-hidden': 'true' } }, '/'),
      title,
      h('code', { class: 'session-id', attrs: { title: 'session id' } }, sessionId),
      status,
      reason,
      h('span', { class: 'spacer' }),
      stream,
      resume,
      cancel.element,
    ),
    raise.element,
    stats,
    error,
  );
  let seen = false;
  return {
    element,
    update: (session: SessionView) => {
      seen = true;
      title.textContent = session.agent;
      replaceChildren(status, statusBadge(session.status, 'session-status'));
      reason.textContent = session.statusReason ?? '';
      reason.title = session.statusReason ?? '';
      // Paused is the one status a person must act on: its reason says what to fix.
      reason.classList.toggle('paused-reason', session.status === 'paused');
      renderStats(stats, session);
      cancel.element.hidden = isTerminal(session.status);
      resume.hidden = session.status !== 'paused';
      raise.update(session.budget, session.statusReason, session.status === 'paused');
      error.textContent = '';
    },
    streamStatus: (s: StreamStatus) => {
      stream.textContent = streamLabels[s];
      stream.dataset.status = s;
    },
    error: (message: string) => {
      error.textContent = seen ? message : `Could not load this session: ${message}`;
    },
  };
}

function renderStats(dl: HTMLElement, s: SessionView): void {
  const nowMs = Date.now();
  const rows: [string, string, string][] = [
    [
      'Created',
      `${formatDateTime(s.createdAtMs)} (${formatAge(s.createdAtMs, nowMs)} ago)`,
      'created',
    ],
    ['Steps', formatCount(s.steps), 'steps'],
    ['Tokens', formatTokens(s.tokens), 'tokens'],
    ['Cost', formatCost(sessionCost(s)), 'cost'],
    [
      'Last activity',
      s.lastEventAtMs === null ? '—' : formatDateTime(s.lastEventAtMs),
      'last-activity',
    ],
  ];
  rows.push(...budgetRows(s.budget));
  if (s.waitingFor !== null) rows.push(['Waiting for', s.waitingFor, 'waiting-for']);
  if (s.pendingApprovals > 0) rows.push(['Approvals', `${s.pendingApprovals} pending`, 'pending']);
  if (s.outcome)
    rows.push([
      'Outcome',
      `${s.outcome.status.replaceAll('_', ' ')} (${s.outcome.evaluations} evaluation${s.outcome.evaluations === 1 ? '' : 's'})`,
      'outcome',
    ]);
  replaceChildren(
    dl,
    ...rows.map(([term, value, id]) =>
      h('div', { testid: `stat-${id}` }, h('dt', {}, term), h('dd', {}, value)),
    ),
  );
}

/**
 * Resume acts at once: it only lets a worker try the session again (the status reason says what
 * had stopped it); if the cause is still there, the worker parks it again and says so.
 */
function resumeButton(actions: HeaderActions, error: HTMLElement): HTMLButtonElement {
  const button = h(
    'button',
    { class: 'primary', testid: 'resume-session', attrs: { type: 'button' } },
    'Resume',
  );
  button.addEventListener('click', () => {
    button.disabled = true;
    actions
      .resume()
      .catch((e: unknown) => {
        error.textContent = describeError(e);
      })
      .finally(() => {
        button.disabled = false;
      });
  });
  return button;
}

/** Cancel asks once more (with an optional reason) before it acts: it cannot be undone. */
function cancelControl(actions: HeaderActions, error: HTMLElement) {
  const start = h(
    'button',
    { class: 'danger', testid: 'cancel-session', attrs: { type: 'button' } },
    'Cancel',
  );
  const reason = h('input', {
    attrs: { id: 'cancel-reason', type: 'text', placeholder: 'reason (optional)' },
  });
  const confirm = h(
    'button',
    { class: 'danger', testid: 'cancel-confirm', attrs: { type: 'button' } },
    'Cancel session',
  );
  const keep = h('button', { attrs: { type: 'button' } }, 'Keep running');
  const ask = h(
    'span',
    { class: 'cancel-confirm', attrs: { hidden: true } },
    h(
      'label',
      { class: 'visually-hidden', attrs: { for: 'cancel-reason' } },
      'Reason for cancelling',
    ),
    reason,
    confirm,
    keep,
  );
  const show = (asking: boolean) => {
    ask.hidden = !asking;
    start.hidden = asking;
    if (asking) reason.focus();
  };
  start.addEventListener('click', () => show(true));
  keep.addEventListener('click', () => show(false));
  confirm.addEventListener('click', () => {
    confirm.disabled = true;
    const why = reason.value.trim();
    actions
      .cancel(why === '' ? null : why)
      .then(
        () => show(false),
        (e: unknown) => {
          error.textContent = describeError(e);
        },
      )
      .finally(() => {
        confirm.disabled = false;
      });
  });
  return { element: h('span', { class: 'cancel-control' }, start, ask) };
}
