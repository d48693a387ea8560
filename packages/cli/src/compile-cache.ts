import { accessSync, constants, mkdirSync } from 'node:fs';
import * as nodeModule from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * Node's functions, looked up rather than imported by name: on a Node without them (older than
 * 22.10; the engines field asks for 22.20) this module still loads, and there is no cache.
 */
const nodeCache = nodeModule as Partial<Pick<typeof nodeModule, 'enableCompileCache'>>;

/** The per-user cache: `$XDG_CACHE_HOME/longrun/compile-cache`, else under `~/.cache`. */
export function compileCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CACHE_HOME?.startsWith('/') ? env.XDG_CACHE_HOME : join(homedir(), '.cache');
  return join(base, 'longrun', 'compile-cache');
}

/**
 * Turns on V8's compile cache for the modules loaded after this call: later starts read their
 * compiled code instead of parsing and compiling longrun and its dependencies again. When
 * NODE_COMPILE_CACHE is set, Node turned it on at start-up already (the repository's `./longrun`
 * does so); NODE_DISABLE_COMPILE_CACHE keeps it off. The cache only makes starts faster: a
 * directory that cannot be made or written leaves it off, and nothing fails for it.
 */
export function enableCompileCache(env: NodeJS.ProcessEnv = process.env): void {
  if (env.NODE_COMPILE_CACHE || env.NODE_DISABLE_COMPILE_CACHE) return;
  try {
    const dir = compileCacheDir(env);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    accessSync(dir, constants.W_OK);
    nodeCache.enableCompileCache?.(dir);
  } catch {
    // No cache: the process starts as it would without one.
  }
}
