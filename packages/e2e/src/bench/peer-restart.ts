import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { WorkerHandle } from '../crash/worker-handle.ts';
import { peerAgentName } from './peer-agent.ts';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const bundleScript = join(repoRoot, 'scripts/bundle-dist.ts');

/**
 * The peer worker as a library user runs it: the built JavaScript of every package (their
 * `node_modules` holds `dist/` and its bundles, not sources), with Node's compile cache in a
 * directory of its own (`NODE_COMPILE_CACHE`, as docs/install.md tells a user to set). What
 * `npm run build` does brings `dist/` up to date first: `tsc -b` (when nothing changed it only
 * checks), then the packages' bundles. Returns the script and the environment.
 */
function builtPeerWorker(dir: string): { script: string; env: Record<string, string> } {
  for (const args of [[join(repoRoot, 'node_modules/typescript/bin/tsc'), '-b'], [bundleScript]])
    execFileSync(process.execPath, args, { cwd: repoRoot, stdio: 'inherit' });
  const cache = join(dir, 'compile-cache');
  mkdirSync(cache, { recursive: true });
  // Without the source condition, `@longrun/*` imports resolve to their `dist/` exports.
  const nodeOptions = (process.env.NODE_OPTIONS ?? '')
    .split(/\s+/)
    .filter((o) => o !== '' && o !== '--conditions=@longrun/source')
    .join(' ');
  return {
    script: join(repoRoot, 'packages/e2e/dist/bench/peer-worker-process.js'),
    env: { NODE_OPTIONS: nodeOptions, NODE_COMPILE_CACHE: cache },
  };
}

/**
 * Time to the next step of a peer session after `kill -9` of the worker process running it,
 * mid-run, `kills` times. SQLite (one process, the embedded shape): from the new process's spawn
 * to its first committed step (`model.responded`), so it includes Node's start and the imports.
 * Postgres: a second worker is already running; from the kill to the first step it commits (the
 * lease is 10 s, so waiting it out would show). Steps counted only after 10 of the killed worker's.
 * The workers run the built JavaScript with a compile cache, as a user's do (`builtPeerWorker`);
 * the first worker's start fills the cache.
 */
export async function measurePeerRestart(target: StoreTarget, kills: number): Promise<number[]> {
  const store = await openStore(target.url);
  const built = builtPeerWorker(target.dir);
  const env = { ...built.env, LONGRUN_LEASE_MS: '10000', LONGRUN_POLL_MS: '25' };
  const handles: WorkerHandle[] = [];
  const spawn = (id: string): WorkerHandle => {
    const h = new WorkerHandle(target.url, id, target.dir, env, built.script);
    handles.push(h);
    return h;
  };
  try {
    await store.createSession({ agent: peerAgentName, input: { steps: 1_000_000 } });
    const sqlite = target.kind === 'sqlite';
    let pair = sqlite ? [spawn('peer-0')] : [spawn('peer-0'), spawn('peer-1')];
    const times: number[] = [];
    for (let k = 0; k < kills; k++) {
      await Promise.race(pair.map((h) => h.until(() => h.acked.length >= 10, 60_000, '10 steps')));
      await Promise.all(pair.map((h) => h.ready(60_000)));
      const active = pair.find((h) => h.acked.length >= 10) as WorkerHandle;
      await active.kill('SIGKILL');
      const killedAt = performance.now();
      if (sqlite) {
        // The same worker id: a restarted embedded worker reclaims its own sessions at boot.
        const next = spawn('peer-0');
        const startedAt = performance.now();
        await next.until(() => next.acked.length > 0, 60_000, 'first step after restart');
        times.push(performance.now() - startedAt);
        pair = [next];
      } else {
        const next = pair.find((h) => h !== active) as WorkerHandle;
        const before = next.acked.length;
        await next.until(() => next.acked.length > before, 60_000, 'first step after takeover');
        times.push(performance.now() - killedAt);
        pair = [next, spawn(`peer-${k + 2}`)];
      }
    }
    return times;
  } finally {
    await Promise.all(handles.map((h) => h.kill('SIGKILL')));
    await store.close();
  }
}
