/** Longest path a manifest may hold, in UTF-16 code units (Linux PATH_MAX is 4096 bytes). */
export const maxPathLength = 4096;

/**
 * Why `path` is not a safe workspace-relative path, or null when it is: non-empty, `/`-separated,
 * not absolute, no empty, `.` or `..` component, no NUL. A manifest with any other path could make
 * a restore write outside its directory, so such a manifest is refused whole.
 */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return 'is empty';
  if (path.length > maxPathLength) return `is longer than ${maxPathLength} characters`;
  if (path.includes('\0')) return 'contains a NUL character';
  if (path.startsWith('/')) return 'is absolute';
  for (const component of path.split('/')) {
    if (component === '') return 'has an empty component (a doubled or trailing "/")';
    if (component === '.' || component === '..') return `has a "${component}" component`;
  }
  return null;
}

/** The proper ancestors of a relative path, nearest the root first: `a/b/c` → `a`, `a/b`. */
export function ancestorsOf(path: string): string[] {
  const out: string[] = [];
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1))
    out.push(path.slice(0, i));
  return out;
}

export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash === -1 ? '' : path.slice(0, slash);
}
