/**
 * A path the model gave, as the workspace-relative path the policy's globs are matched against:
 * `.` and `..` resolved, repeated and trailing slashes dropped, `.` for the workspace itself.
 * Null when it is not a path inside the workspace (absolute, escaping with `..`, a NUL byte or a
 * backslash — which a POSIX path may hold but a glob author never means): such paths are denied.
 */
export function workspacePath(path: string): string | null {
  if (path.includes('\0') || path.includes('\\') || path.startsWith('/')) return null;
  const parts: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(part);
  }
  return parts.length === 0 ? '.' : parts.join('/');
}

/**
 * A host as the policy's globs see it: lower case, no port, no trailing dot, no IPv6 brackets;
 * null when it is not a host name or address.
 */
export function hostName(host: string): string | null {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    if (end === -1) return null;
    h = h.slice(1, end);
    return /^[0-9a-f:.]+$/.test(h) ? h : null;
  }
  const colon = h.lastIndexOf(':');
  if (colon !== -1) {
    if (!/^\d{1,5}$/.test(h.slice(colon + 1))) return null;
    h = h.slice(0, colon);
  }
  if (h.endsWith('.')) h = h.slice(0, -1);
  return /^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(h)
    ? h
    : null;
}
