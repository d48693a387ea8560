import { LongrunError } from '@longrun/core';

/**
 * DNS rebinding guard for a server without API keys. Such a server trusts whoever reaches it
 * (every request is tenant `default`), and the address it listens on is loopback; but a web page
 * whose own hostname an attacker re-points at 127.0.0.1 reaches it too, and to the browser that is
 * the page's own origin, so it may read the answers. What gives such a request away is its name:
 * the browser sends the page's hostname as `Host`, and as `Origin` when it sends one (every
 * cross-site request, and same-origin writes). So, without keys, only requests addressed to a
 * loopback name are served: `Host` a loopback name at any port (a port forwarded to this one, as
 * `ssh -L 8080:127.0.0.1:7070` makes, is still this server) and, when present, `Origin` the same
 * origin as `Host` (`http://` and the Host itself): a page of another local port is another
 * origin. The dashboard is served by this server at that origin.
 */
const loopbackNames = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** `name` and `port` of a Host header (`name`, `name:port`, `[v6]`, `[v6]:port`), or null. */
function parseHost(host: string): { name: string; port: number | null } | null {
  const match = /^(\[[0-9a-f:.]+\]|[^:[\]]+)(?::(\d{1,5}))?$/i.exec(host.trim());
  if (match === null) return null;
  const [, name = '', port] = match;
  return { name: name.toLowerCase(), port: port === undefined ? null : Number(port) };
}

export interface LoopbackAddress {
  /** The address the server is bound to (a loopback one), also accepted as a name. */
  host: string;
  port: number;
}

function acceptedName(name: string, bound: LoopbackAddress): boolean {
  const own =
    bound.host.includes(':') && !bound.host.startsWith('[') ? `[${bound.host}]` : bound.host;
  return loopbackNames.has(name) || name === own.toLowerCase();
}

function hostRefusal(host: string | null, bound: LoopbackAddress): string | null {
  const parsed = host === null ? null : parseHost(host);
  if (parsed !== null && acceptedName(parsed.name, bound)) return null;
  return `Host ${JSON.stringify((host ?? 'none').slice(0, 100))}`;
}

/** `host` (a Host header) with its port, as an origin's `host` is: the default port left out. */
function originHostOf(host: string): string | null {
  const parsed = parseHost(host);
  if (parsed === null) return null;
  return parsed.port === null || parsed.port === 80 ? parsed.name : `${parsed.name}:${parsed.port}`;
}

function originRefusal(
  origin: string | null,
  host: string | null,
  bound: LoopbackAddress,
): string | null {
  if (origin === null) return null;
  let url: URL | null = null;
  try {
    url = new URL(origin);
  } catch {
    // Not a URL (`null` from a sandboxed frame or a file): refused below.
  }
  const ok =
    url !== null &&
    url.protocol === 'http:' &&
    acceptedName(url.hostname.toLowerCase(), bound) &&
    host !== null &&
    url.host.toLowerCase() === originHostOf(host);
  return ok ? null : `Origin ${JSON.stringify(origin.slice(0, 100))}`;
}

/**
 * PERMISSION_DENIED (403) for a request to a keyless server that names something other than this
 * server at a loopback name; null when it may be served.
 */
export function foreignNameRefusal(headers: Headers, bound: LoopbackAddress): LongrunError | null {
  const host = headers.get('host');
  const what = hostRefusal(host, bound) ?? originRefusal(headers.get('origin'), host, bound);
  if (what === null) return null;
  return new LongrunError(
    'PERMISSION_DENIED',
    `this server runs without API keys, so it answers only requests addressed to it as http://127.0.0.1:${bound.port} (or localhost, [::1]); ${what} is not that (a page of another site re-pointed at this machine sends such names): open http://127.0.0.1:${bound.port}/, or serve with API keys`,
  );
}
