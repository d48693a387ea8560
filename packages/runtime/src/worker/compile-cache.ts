import * as nodeModule from 'node:module';

/**
 * Node's functions, looked up rather than imported by name: on a Node without them (older than
 * 22.10) this module still loads, and there is nothing to save.
 */
const nodeCache = nodeModule as Partial<
  Pick<typeof nodeModule, 'flushCompileCache' | 'getCompileCacheDir'>
>;

/**
 * Writes what V8 compiled so far to the compile cache (NODE_COMPILE_CACHE, or
 * `module.enableCompileCache()`), now rather than only when the process exits: a worker ended by
 * `kill -9` never exits normally, and the process that replaces it would find the cache empty and
 * compile every module again (about 45 ms of a restarted peer worker's 245). A no-op when no
 * cache is on; once the cache holds every module, a call costs well under a millisecond.
 */
export function saveCompileCache(): void {
  try {
    if (nodeCache.getCompileCacheDir?.() === undefined) return;
    nodeCache.flushCompileCache?.();
  } catch {
    // The cache only makes starts faster: nothing fails for it.
  }
}
