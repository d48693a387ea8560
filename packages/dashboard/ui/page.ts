// What every page shares: the API client, and the shape the router mounts and disposes.
import type { ApiClient } from './api-client.ts';

export interface Page {
  readonly element: HTMLElement;
  /** Stops the page's timers and streams; called when the router leaves it. */
  dispose(): void;
}

export interface AppContext {
  api: ApiClient;
}

/**
 * Runs `tick` now and then every `intervalMs`, never two at once, and not while the tab is hidden
 * (a background tab should not poll the server). Returns a function that stops it.
 */
export function poll(tick: () => Promise<void>, intervalMs: number): () => void {
  let running = false;
  let stopped = false;
  const run = () => {
    if (running || stopped || document.hidden) return;
    running = true;
    tick()
      .catch((error: unknown) => console.warn('longrun: refresh failed', error))
      .finally(() => {
        running = false;
      });
  };
  run();
  const timer = setInterval(run, intervalMs);
  const onVisible = () => run();
  document.addEventListener('visibilitychange', onVisible);
  return () => {
    stopped = true;
    clearInterval(timer);
    document.removeEventListener('visibilitychange', onVisible);
  };
}

const approvalsEvent = 'longrun:approvals-changed';

/** Tells the shell that pending approvals changed, so its count need not wait for its poll. */
export function approvalsChanged(): void {
  window.dispatchEvent(new Event(approvalsEvent));
}

export function onApprovalsChanged(listener: () => void): void {
  window.addEventListener(approvalsEvent, listener);
}
