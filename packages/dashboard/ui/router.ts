// Hash routes, so the server serves one page at `/` whatever the route:
//   #/sessions  ·  #/sessions/<id>  ·  #/sessions/<id>/<tab>  ·  #/approvals
export const sessionTabs = ['timeline', 'trace', 'events', 'files'] as const;
export type SessionTab = (typeof sessionTabs)[number];

export type Route =
  { name: 'sessions' } | { name: 'session'; id: string; tab: SessionTab } | { name: 'approvals' };

export function parseRoute(hash: string): Route {
  const parts = hash
    .replace(/^#\/?/, '')
    .split('/')
    .filter((p) => p !== '');
  if (parts[0] === 'approvals') return { name: 'approvals' };
  if (parts[0] === 'sessions' && parts[1] !== undefined) {
    let id: string;
    try {
      id = decodeURIComponent(parts[1]);
    } catch {
      return { name: 'sessions' };
    }
    const tab = sessionTabs.find((t) => t === parts[2]) ?? 'timeline';
    return { name: 'session', id, tab };
  }
  return { name: 'sessions' };
}

export function navigate(hash: string): void {
  if (location.hash === hash) return;
  location.hash = hash;
}

/** Calls `onRoute` now and on every hash change. */
export function startRouter(onRoute: (route: Route) => void): void {
  window.addEventListener('hashchange', () => onRoute(parseRoute(location.hash)));
  onRoute(parseRoute(location.hash));
}
