// The approvals inbox: every pending approval of the tenant, decided here or on its session.
import { describeError } from './api-client.ts';
import type { Approval } from './api-types.ts';
import { h, replaceChildren } from './dom.ts';
import { shownArguments } from './approval-args.ts';
import { formatAge, formatTime, shortId } from './format.ts';
import { approvalsChanged, poll, type AppContext, type Page } from './page.ts';
import { decisionButtons } from './timeline-items.ts';

const refreshMs = 3_000;

export function approvalsPage(ctx: AppContext): Page {
  const list = h('ul', { class: 'approvals', testid: 'approvals-list' });
  const note = h('p', { class: 'muted small', attrs: { 'aria-live': 'polite' } });
  let shown = '';
  const refresh = async () => {
    try {
      const { approvals, more } = await ctx.api.listApprovals();
      const count = more ? `the oldest ${approvals.length} shown, more` : `${approvals.length}`;
      note.textContent = `${count} pending · updated ${formatTime(Date.now())}`;
      // Re-rendering would drop a reason being typed: only redraw when the set changed.
      const ids = approvals.map((a) => a.approvalId).join(',');
      if (ids === shown) return;
      shown = ids;
      if (approvals.length === 0) {
        replaceChildren(list, h('li', { class: 'empty' }, 'Nothing waits for a decision.'));
        return;
      }
      replaceChildren(list, ...approvals.map((a) => approvalCard(ctx, a, refresh)));
    } catch (error) {
      note.textContent = `Could not load approvals: ${describeError(error)}`;
    }
  };
  const element = h(
    'section',
    { class: 'page approvals-page', testid: 'approvals-page' },
    h('div', { class: 'page-head' }, h('h1', {}, 'Approvals'), note),
    list,
  );
  return { element, dispose: poll(refresh, refreshMs) };
}

function approvalCard(ctx: AppContext, a: Approval, refresh: () => Promise<void>): HTMLElement {
  const nowMs = Date.now();
  const href = `#/sessions/${encodeURIComponent(a.sessionId)}`;
  const args =
    a.question === null
      ? shownArguments(
          a.args,
          {
            complete: a.argumentsComplete,
            chars: a.argumentsChars,
            shownChars: a.argumentsShownChars,
          },
          () => ctx.api.approvalDetail(a.sessionId, a.approvalId),
        )
      : null;
  return h(
    'li',
    {
      class: 'approval-card',
      testid: 'inbox-approval',
      attrs: { 'data-approval-id': a.approvalId },
    },
    h(
      'header',
      {},
      h('strong', {}, a.tool === null ? 'model call' : h('code', {}, a.tool)),
      h(
        'span',
        { class: 'item-meta' },
        `${a.agent} · step ${a.step} · requested ${formatAge(a.requestedAtMs, nowMs)} ago`,
      ),
      a.expiresAtMs === null
        ? null
        : h('span', { class: 'item-meta' }, `expires ${formatTime(a.expiresAtMs)}`),
      h(
        'a',
        { class: 'session-link', testid: 'inbox-session-link', attrs: { href } },
        `session ${shortId(a.sessionId, 16)}`,
      ),
    ),
    a.question === null
      ? (args?.element ?? null)
      : h(
          'p',
          { testid: 'approval-question' },
          `Gate ${a.question.gate} asks: ${a.question.reason}`,
        ),
    decisionButtons(
      a.approvalId,
      {
        decide: async (approvalId, decision, reason, scope) => {
          await ctx.api.decide(a.sessionId, approvalId, decision, reason, scope);
          approvalsChanged();
          await refresh();
        },
      },
      a.tool,
      args?.wholeShown ?? null,
    ),
  );
}
