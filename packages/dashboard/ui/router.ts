// Hash routes, so the server serves one page at `/` whatever the route:
//   #/sessions  ·  #/sessions/<id>  ·  #/sessions/<id>/files  ·  #/approvals
export type Route =
  | { name: 'sessions' }
  | { name: 'session'; id: string; tab: 'timeline' | 'files' }
  | { name: 'approvals' };

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
    return { name: 'session', id, tab: parts[2] === 'files' ? 'files' : 'timeline' };
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
