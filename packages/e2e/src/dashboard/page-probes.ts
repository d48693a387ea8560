import type { Page } from 'playwright-core';

// The little of the DOM the in-page probes touch: this package compiles without lib.dom, and
// these functions run in the browser, where `globalThis` is the window.
interface ProbeElement {
  dataset: Record<string, string | undefined>;
  scrollTop: number;
  scrollHeight: number;
  clientHeight: number;
  textContent: string | null;
  querySelector(selector: string): ProbeElement | null;
}
interface ProbeWindow {
  firstSeen?: Record<string, number>;
  document: { body: unknown; querySelector(selector: string): ProbeElement | null };
  MutationObserver: new (callback: () => void) => {
    observe(target: unknown, options: object): void;
  };
}

export interface ShownTurn {
  step: number;
  attempt: number;
  state: string;
  text: string;
}

/** Every model turn the timeline shows, in order, with its text exactly as displayed. */
export function shownTurns(page: Page): Promise<ShownTurn[]> {
  return page.$$eval('[data-testid="model-turn"]', (items) =>
    (items as unknown as ProbeElement[]).map((item) => ({
      step: Number(item.dataset.step),
      attempt: Number(item.dataset.attempt),
      state: item.dataset.state ?? '',
      text: item.querySelector('[data-testid="model-text"]')?.textContent ?? '',
    })),
  );
}

/** The `data-*` attribute `name` of every element matching `selector`, in document order. */
export function dataOf(
  page: Page,
  selector: string,
  name: string,
): Promise<(string | undefined)[]> {
  return page.$$eval(
    selector,
    (items, key) => (items as unknown as ProbeElement[]).map((e) => e.dataset[key]),
    name,
  );
}

/** Scrolls the element matching `selector` to `top` pixels; Infinity scrolls to its end. */
export async function scrollTo(page: Page, selector: string, top: number): Promise<void> {
  await page.$eval(
    selector,
    (el, to) => {
      const pane = el as unknown as ProbeElement;
      pane.scrollTop = to === null ? pane.scrollHeight : to;
    },
    Number.isFinite(top) ? top : null,
  );
}

export function scrollState(
  page: Page,
  selector: string,
): Promise<{ top: number; height: number; client: number }> {
  return page.$eval(selector, (el) => {
    const pane = el as unknown as ProbeElement;
    return { top: pane.scrollTop, height: pane.scrollHeight, client: pane.clientHeight };
  });
}

export function sessionStatus(page: Page): Promise<string | null> {
  return page
    .locator('[data-testid="session-status"]')
    .getAttribute('data-status', { timeout: 1_000 })
    .catch(() => null);
}

/**
 * Records, inside the page, in which order the session's status badge and the first model text
 * first appeared (a MutationObserver survives the hash navigation to the session page).
 */
export async function watchFirstAppearances(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as unknown as ProbeWindow;
    const seen: Record<string, number> = {};
    w.firstSeen = seen;
    let order = 0;
    new w.MutationObserver(() => {
      if (seen.status === undefined && w.document.querySelector('[data-testid="session-status"]')) {
        seen.status = ++order;
      }
      const text = w.document.querySelector('[data-testid="model-text"]')?.textContent ?? '';
      if (seen.text === undefined && text !== '') seen.text = ++order;
    }).observe(w.document.body, { subtree: true, childList: true, characterData: true });
  });
}

export function firstAppearances(page: Page): Promise<Record<string, number>> {
  return page.evaluate(() => (globalThis as unknown as ProbeWindow).firstSeen ?? {});
}

interface CountingWindow {
  liveDeltas: number;
  EventSource: {
    prototype: { addEventListener: (this: unknown, type: string, listener: unknown) => void };
  };
}

/**
 * Counts, from the page's first script on, the live `model.delta` frames its EventSources
 * deliver: evidence that text came through the live path and not only the durable one.
 */
export async function countLiveDeltas(page: Page): Promise<void> {
  await page.addInitScript(() => {
    const w = globalThis as unknown as CountingWindow;
    w.liveDeltas = 0;
    const proto = w.EventSource.prototype;
    const add = proto.addEventListener;
    proto.addEventListener = function (this: unknown, type: string, listener: unknown) {
      if (type === 'model.delta' && typeof listener === 'function') {
        const inner = listener as (this: unknown, event: unknown) => void;
        const counted = function (this: unknown, event: unknown) {
          w.liveDeltas++;
          inner.call(this, event);
        };
        add.call(this, type, counted);
        return;
      }
      add.call(this, type, listener);
    };
  });
}

export function liveDeltas(page: Page): Promise<number> {
  return page.evaluate(() => (globalThis as unknown as CountingWindow).liveDeltas);
}
