import picomatch from 'picomatch';
import type { PolicyLayer } from './policy-types.ts';
import { workspacePath } from './request-paths.ts';

/**
 * The workspace directories a sandbox may mount writable under these policies: a directory
 * whose every path every layer lets be written (`out/**` gives `out`; `**` gives `.`, the whole
 * workspace). A glob that picks files (`docs/*.md`) gives none: a mount cannot express it, so
 * commands may not write there (the file tools still may). A directory under an exclusion
 * (`!out/secret/**`) is not given. Null: no policy, the whole workspace is writable. Nested
 * directories are left out (their ancestor is given), so each mount is its own.
 */
export function writableDirectories(layers: readonly PolicyLayer[]): string[] | null {
  if (layers.length === 0) return null;
  const perLayer = layers.map((layer) => layerDirectories(layer.policy.paths?.write ?? []));
  const candidates = new Set(perLayer.flat());
  const covered = (dir: string, dirs: readonly string[]) =>
    dirs.some((d) => d === '.' || d === dir || dir.startsWith(`${d}/`));
  const kept = [...candidates].filter((dir) => perLayer.every((dirs) => covered(dir, dirs)));
  const outermost = kept.filter(
    (dir) => !kept.some((other) => other !== dir && covered(dir, [other])),
  );
  return outermost.sort();
}

function layerDirectories(globs: readonly string[]): string[] {
  const exclusions = globs.filter((g) => g.startsWith('!')).map((g) => g.slice(1));
  const dirs: string[] = [];
  for (const glob of globs) {
    if (glob.startsWith('!')) continue;
    const scanned = picomatch.scan(glob);
    const rest = scanned.glob;
    if (!scanned.isGlob || (rest !== '**' && rest !== '**/*')) continue;
    const dir = scanned.base === '' ? '.' : workspacePath(scanned.base);
    if (dir === null || /[*?[\]{}()!]/.test(dir)) continue;
    // An exclusion inside the directory (or over it) takes the whole directory away.
    const excluded = exclusions.some((x) => {
      const base = picomatch.scan(x).base;
      const xdir = base === '' ? '.' : workspacePath(base);
      return (
        xdir === null ||
        dir === '.' ||
        xdir === '.' ||
        xdir === dir ||
        xdir.startsWith(`${dir}/`) ||
        dir.startsWith(`${xdir}/`)
      );
    });
    if (!excluded) dirs.push(dir);
  }
  return dirs;
}
