// Renders a TimelineModel into a list, touching only items whose revision changed, and keeps the
// newest item in view until the reader scrolls up.
import { h } from './dom.ts';
import { renderItem, updateModelText, type ItemActions } from './timeline-items.ts';
import type { TimelineModel } from './timeline-model.ts';
import type { TimelineItem } from './timeline-types.ts';

/** Within this many pixels of the bottom counts as "at the bottom": follow new content. */
const stickyMarginPx = 48;

interface Rendered {
  rev: number;
  el: HTMLElement;
  /** Model items keep their element while streaming; a state change re-renders them. */
  state: string | null;
}

export class TimelineView {
  readonly element: HTMLElement;
  readonly #list: HTMLOListElement;
  readonly #jump: HTMLButtonElement;
  readonly #actions: ItemActions;
  readonly #rendered = new Map<string, Rendered>();
  #follow = true;
  #frame = 0;

  constructor(actions: ItemActions) {
    this.#actions = actions;
    this.#list = h('ol', {
      class: 'timeline',
      testid: 'timeline',
      attrs: { role: 'log', 'aria-label': 'Session timeline' },
    });
    this.#jump = h(
      'button',
      {
        class: 'jump-latest',
        testid: 'jump-latest',
        attrs: { type: 'button', hidden: true },
        on: { click: () => this.#scrollToEnd() },
      },
      '↓ Jump to latest',
    );
    this.element = h(
      'div',
      { class: 'timeline-pane', testid: 'timeline-pane' },
      this.#list,
      this.#jump,
    );
    this.element.addEventListener('scroll', () => this.#onScroll(), { passive: true });
  }

  /** Schedules one render per animation frame, however many events arrive in between. */
  schedule(model: TimelineModel): void {
    if (this.#frame !== 0) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.render(model);
    });
  }

  render(model: TimelineModel): void {
    let changed = false;
    for (const item of model.items) changed = this.#renderOne(item) || changed;
    if (!changed) return;
    if (this.#follow) this.#scrollToEnd();
    else this.#jump.hidden = false;
  }

  dispose(): void {
    if (this.#frame !== 0) cancelAnimationFrame(this.#frame);
  }

  #renderOne(item: TimelineItem): boolean {
    const seen = this.#rendered.get(item.key);
    if (seen !== undefined && seen.rev === item.rev) return false;
    if (seen !== undefined && item.kind === 'model' && seen.state === item.state) {
      updateModelText(seen.el, item);
      seen.rev = item.rev;
      return true;
    }
    const el = renderItem(item, this.#actions);
    if (seen === undefined) this.#list.append(el);
    else {
      keepOpenDetails(seen.el, el);
      seen.el.replaceWith(el);
    }
    this.#rendered.set(item.key, {
      rev: item.rev,
      el,
      state: item.kind === 'model' ? item.state : null,
    });
    return true;
  }

  #onScroll(): void {
    const pane = this.element;
    const atBottom = pane.scrollHeight - pane.scrollTop - pane.clientHeight <= stickyMarginPx;
    this.#follow = atBottom;
    if (atBottom) this.#jump.hidden = true;
  }

  #scrollToEnd(): void {
    this.element.scrollTop = this.element.scrollHeight;
    this.#follow = true;
    this.#jump.hidden = true;
  }
}

/** A re-rendered item keeps the JSON blocks the reader had opened. */
function keepOpenDetails(from: HTMLElement, to: HTMLElement): void {
  for (const open of from.querySelectorAll<HTMLDetailsElement>('details[open][data-part]')) {
    const part = open.dataset.part ?? '';
    const twin = to.querySelector<HTMLDetailsElement>(`details[data-part="${part}"]`);
    if (twin !== null) twin.open = true;
  }
}
