// The session's Trace tab: what it cost against its budget, and the waterfall of its turns, model
// attempts, tool calls, approvals and waits (waterfall-model derives the rows; this draws them).
import type { SessionView } from './api-types.ts';
import { budgetRows, sessionCost } from './budget-panel.ts';
import { h, replaceChildren } from './dom.ts';
import { formatCost, formatDuration, formatTokens } from './format.ts';
import type { TimelineModel } from './timeline-model.ts';
import type { Waterfall, WaterfallRow } from './waterfall-model.ts';

export function tracePanel(model: TimelineModel) {
  const cost = h('dl', { class: 'stats cost-panel', testid: 'cost-panel' });
  const total = h('p', { class: 'muted small', testid: 'waterfall-total' });
  const rows = h('ol', { class: 'waterfall', testid: 'waterfall', attrs: { role: 'list' } });
  const element = h(
    'div',
    { class: 'trace-pane', testid: 'trace-pane' },
    h(
      'section',
      { class: 'cost-section', testid: 'cost-section' },
      h('h2', {}, 'Cost and budget'),
      cost,
    ),
    h('h2', {}, 'Trace'),
    total,
    rows,
  );
  let session: SessionView | null = null;
  let frame = 0;
  const render = () => {
    const waterfall = model.trace.rows();
    renderCost(cost, session, waterfall);
    total.textContent =
      waterfall.originMs === null
        ? 'No events yet.'
        : `${waterfall.rows.length} spans over ${formatDuration(waterfall.totalMs)}; bars are placed by the events' commit times.`;
    replaceChildren(rows, ...waterfall.rows.map((r) => renderRow(r, waterfall.totalMs)));
  };
  return {
    element,
    /** Draws once per animation frame, and only while the tab is shown. */
    schedule() {
      if (frame !== 0 || !element.isConnected) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        render();
      });
    },
    session(view: SessionView) {
      session = view;
      if (element.isConnected) renderCost(cost, session, model.trace.rows());
    },
    render,
  };
}

function renderCost(dl: HTMLElement, s: SessionView | null, waterfall: Waterfall): void {
  const attempts = waterfall.rows.filter((r) => r.kind === 'model');
  const superseded = attempts.filter((r) => r.state === 'superseded').length;
  const charged = attempts.filter((r) => r.costUsd !== null);
  const rows: [string, string, string][] = [
    ['Cost', s === null ? '…' : formatCost(sessionCost(s)), 'cost-total'],
    ['Tokens', s === null ? '…' : formatTokens(s.tokens), 'cost-tokens'],
    [
      'Model attempts',
      `${attempts.length}${superseded === 0 ? '' : ` (${superseded} superseded)`}`,
      'cost-attempts',
    ],
  ];
  if (charged.length > 0) {
    const sum = charged.reduce((n, r) => n + (r.costUsd ?? 0), 0);
    rows.push(['Charged to the budget', formatCost(sum), 'cost-charged']);
  }
  rows.push(...budgetRows(s?.budget));
  if (s !== null && !s.budget) rows.push(['Budget', 'none set', 'budget-none']);
  replaceChildren(
    dl,
    ...rows.map(([term, value, id]) =>
      h(
        'div',
        { testid: `cost-${id.replace(/^cost-/, '')}` },
        h('dt', {}, term),
        h('dd', {}, value),
      ),
    ),
  );
}

const stateLabels: Partial<Record<WaterfallRow['state'], string>> = {
  ok: 'ok',
  error: 'error',
  running: 'running',
};

function renderRow(r: WaterfallRow, totalMs: number): HTMLElement {
  const scale = totalMs <= 0 ? 0 : 100 / totalMs;
  const bar = h('span', { class: 'wf-bar', testid: 'waterfall-bar' });
  // Through the CSSOM, which the page's style-src policy allows (a style attribute it would not).
  bar.style.left = `${(r.offsetMs * scale).toFixed(3)}%`;
  bar.style.width = `max(2px, ${(r.durationMs * scale).toFixed(3)}%)`;
  const state =
    r.state === 'superseded'
      ? r.supersededBy === 'crash'
        ? 'superseded (cut by a crash)'
        : 'superseded (retried)'
      : (stateLabels[r.state] ?? r.state);
  const el = h(
    'li',
    {
      class: `wf-row wf-${r.kind} wf-${r.state}${r.open ? ' wf-open' : ''}`,
      testid: 'waterfall-row',
      attrs: {
        'data-key': r.key,
        'data-kind': r.kind,
        'data-state': r.state,
        'data-superseded-by': r.supersededBy ?? '',
        'data-offset-ms': r.offsetMs,
        'data-duration-ms': r.durationMs,
        'data-open': String(r.open),
      },
    },
    h(
      'div',
      { class: `wf-label wf-depth-${r.depth}` },
      h('span', { class: 'wf-name' }, r.label),
      ' ',
      h('span', { class: `badge wf-state wf-state-${r.state}`, testid: 'waterfall-state' }, state),
      r.detail === '' ? null : h('span', { class: 'wf-detail muted small' }, r.detail),
    ),
    h('div', { class: 'wf-track' }, bar),
    h(
      'div',
      { class: 'wf-figures small' },
      h('span', { testid: 'waterfall-offset' }, `+${formatDuration(r.offsetMs)}`),
      h(
        'span',
        { testid: 'waterfall-duration' },
        r.open ? `${formatDuration(r.durationMs)}…` : formatDuration(r.durationMs),
      ),
      h('span', { testid: 'waterfall-cost' }, r.costUsd === null ? '' : formatCost(r.costUsd)),
    ),
  );
  el.title = `${r.label}: starts +${formatDuration(r.offsetMs)}, ${r.open ? 'running for' : 'took'} ${formatDuration(r.durationMs)} (seq ${r.seq})`;
  return el;
}
