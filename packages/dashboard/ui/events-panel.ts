// The session's Events tab: every durable event as stored, with its seq, commit time, lease
// epoch and data. Rows are only ever appended (the log is append-only).
import type { JsonValue } from './api-types.ts';
import { h } from './dom.ts';
import { formatDuration, formatTime } from './format.ts';
import { jsonBlock } from './timeline-items.ts';
import type { TimelineModel } from './timeline-model.ts';

const columns = ['Seq', 'Time', 'Offset', 'Epoch', 'Type', 'Data'];

export function eventsPanel(model: TimelineModel) {
  const body = h('tbody', { testid: 'event-rows' });
  const count = h('p', { class: 'muted small', testid: 'events-count' });
  const element = h(
    'div',
    { class: 'events-pane', testid: 'events-pane' },
    count,
    h(
      'table',
      { class: 'data events', testid: 'events-table' },
      h('thead', {}, h('tr', {}, ...columns.map((c) => h('th', { attrs: { scope: 'col' } }, c)))),
      body,
    ),
  );
  let shown = 0;
  let frame = 0;
  const render = () => {
    const origin = model.events[0]?.atMs ?? 0;
    for (const e of model.events.slice(shown)) {
      body.append(
        h(
          'tr',
          { testid: 'event-row', attrs: { 'data-seq': e.seq, 'data-type': e.type } },
          h('td', { class: 'num', testid: 'event-seq' }, e.seq),
          h('td', {}, formatTime(e.atMs)),
          h('td', { class: 'num' }, `+${formatDuration(e.atMs - origin)}`),
          h('td', { class: 'num' }, e.epoch),
          h('td', {}, h('code', {}, e.type)),
          h('td', {}, jsonBlock('data', e.data as unknown as JsonValue, `event-${e.seq}`)),
        ),
      );
    }
    shown = model.events.length;
    count.textContent = `${shown} event${shown === 1 ? '' : 's'}, in seq order`;
  };
  return {
    element,
    schedule() {
      if (frame !== 0 || !element.isConnected) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        render();
      });
    },
    render,
  };
}
