import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { compileCacheDir } from './compile-cache.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

/** `longrun --version` with XDG_CACHE_HOME set and the process's own compile cache settings unset. */
function versionWithCacheHome(cacheHome: string, extraEnv: Record<string, string> = {}) {
  const { NODE_COMPILE_CACHE: _set, NODE_DISABLE_COMPILE_CACHE: _off, ...env } = process.env;
  return spawnSync(process.execPath, [main, '--version'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...env, XDG_CACHE_HOME: cacheHome, ...extraEnv },
  });
}

/** The files under `dir`, recursively (the cache keeps one directory per Node version). */
function filesUnder(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir, { recursive: true, encoding: 'utf8' }) : [];
}

describe('the compile cache', () => {
  it('is the per-user cache directory, under XDG_CACHE_HOME when it is absolute, else ~/.cache', () => {
    expect(compileCacheDir({ XDG_CACHE_HOME: '/x/cache' })).toBe('/x/cache/longrun/compile-cache');
    expect(compileCacheDir({ XDG_CACHE_HOME: 'relative' })).toMatch(
      /\/\.cache\/longrun\/compile-cache$/,
    );
  });

  it('is written by a longrun process that set nothing for it', () => {
    const home = mkdtempSync(join(tmpdir(), 'longrun-cache-'));
    const r = versionWithCacheHome(home);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(filesUnder(compileCacheDir({ XDG_CACHE_HOME: home })).length).toBeGreaterThan(0);
  });

  it('is left off, and nothing fails, when its directory cannot be made or NODE_DISABLE_COMPILE_CACHE is set', () => {
    const parent = mkdtempSync(join(tmpdir(), 'longrun-cache-'));
    const notADirectory = join(parent, 'file');
    writeFileSync(notADirectory, '');
    const blocked = versionWithCacheHome(notADirectory);
    expect({ status: blocked.status, stderr: blocked.stderr }).toEqual({ status: 0, stderr: '' });
    expect(blocked.stdout).toMatch(/^longrun \d/);
    const disabled = versionWithCacheHome(parent, { NODE_DISABLE_COMPILE_CACHE: '1' });
    expect(disabled.status).toBe(0);
    expect(filesUnder(compileCacheDir({ XDG_CACHE_HOME: parent }))).toEqual([]);
  });
});
