import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { event, workerId, type NewEvent, type SessionId, type SessionStore } from '@longrun/core';
import { writeSessionBundle } from '@longrun/runtime';
import { snapshotWorkspace } from '@longrun/workspace';
import { openStore } from '@longrun/cli';
import type { StoreTarget } from '../store-targets.ts';
import { round } from './stats.ts';

export interface BundleBenchSizes {
  steps: number;
  /** Binary files of `binaryFileBytes` each (random: gzip cannot shrink them). */
  binaryFiles: number;
  binaryFileBytes: number;
  /** Text files of `textFileBytes` each (source-like lines: gzip shrinks them). */
  textFiles: number;
  textFileBytes: number;
}

/** 1,000 steps, 100 MiB of workspace: 80 MiB random in 40 files, 20 MiB of text in 200. */
export const bundleBenchSizes: BundleBenchSizes = {
  steps: 1_000,
  binaryFiles: 40,
  binaryFileBytes: 2 * 1024 * 1024,
  textFiles: 200,
  textFileBytes: 100 * 1024,
};

function textFile(i: number, bytes: number): string {
  const lines: string[] = [];
  let size = 0;
  for (let n = 0; size < bytes; n++) {
    const line = `export function step${i}_${n}(x: number): number { return x * ${n} + ${i}; } // ${randomBytes(6).toString('hex')}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('').slice(0, bytes);
}

/** The workspace on disk: the binary and text files, and a PROGRESS.md. */
function makeWorkspace(dir: string, sizes: BundleBenchSizes): void {
  mkdirSync(join(dir, 'data'), { recursive: true });
  mkdirSync(join(dir, 'src'), { recursive: true });
  for (let i = 0; i < sizes.binaryFiles; i++)
    writeFileSync(join(dir, 'data', `blob-${i}.bin`), randomBytes(sizes.binaryFileBytes));
  for (let i = 0; i < sizes.textFiles; i++)
    writeFileSync(join(dir, 'src', `module-${i}.ts`), textFile(i, sizes.textFileBytes));
  writeFileSync(join(dir, 'PROGRESS.md'), '# Progress\n\n- all steps done\n');
}

/** A session's log of `steps` tool-calling steps, written as a worker writes it (in commits). */
async function writeSteps(
  store: SessionStore,
  steps: number,
  last: NewEvent[],
): Promise<SessionId> {
  const session = await store.createSession({
    agent: 'bench-agent',
    input: { task: 'bundle bench' },
  });
  const lease = await store.claim(session.id, workerId('bundle-bench'), 600_000);
  if (lease === null) throw new Error('could not claim the bench session');
  let head = 1;
  const commit = async (events: NewEvent[], extra: Record<string, unknown> = {}) => {
    const r = await store.append({ fence: lease, expectedSeq: head, events, ...extra });
    head = r.headSeq;
  };
  for (let step = 1; step <= steps; step += 1) {
    const args = { path: `src/module-${step % 200}.ts`, line: step };
    await commit([
      event('model.responded', {
        step,
        text: `Step ${step}: editing ${args.path}.`,
        toolCalls: [{ callIndex: 0, tool: 'edit_file', args, id: `call_${step}` }],
        usage: { inputTokens: 2_000 + step * 10, outputTokens: 120 },
        finishReason: 'tool-calls',
        attempt: 1,
        modelId: 'bench:model',
      }),
      event('tool.started', { step, callIndex: 0, tool: 'edit_file', effect: 'idempotent' }),
    ]);
    await commit([
      event('tool.completed', {
        step,
        callIndex: 0,
        tool: 'edit_file',
        ok: step % 50 !== 0,
        output:
          step % 50 !== 0
            ? `edited ${args.path} at line ${step}`
            : 'tool edit_file failed: no such line',
        attempt: 1,
      }),
    ]);
  }
  await commit(last, { status: { status: 'completed' } });
  return session.id;
}

/**
 * `bundle`: the time to write the debug bundle of a `steps`-step session whose last workspace
 * snapshot holds ~100 MiB (and the bundle's size), read from a SQLite store's own blob table.
 * Also the process's peak RSS growth while it is written: a bundle streams the workspace a blob
 * at a time, so it stays far below the workspace's size.
 */
export async function measureBundle(
  make: () => Promise<StoreTarget>,
  sizes: BundleBenchSizes = bundleBenchSizes,
): Promise<Record<string, unknown>> {
  const target = await make();
  const store = await openStore(target.url);
  try {
    const workspace = join(target.dir, 'ws');
    mkdirSync(workspace, { recursive: true });
    writeFileSync(join(workspace, 'README.md'), 'start\n');
    const first = await snapshotWorkspace({ dir: workspace, blobs: store.blobs });
    makeWorkspace(workspace, sizes);
    const last = await snapshotWorkspace({ dir: workspace, blobs: store.blobs, previous: first });
    const snapshotted = (step: number, r: typeof first) =>
      event('workspace.snapshotted', {
        step,
        manifestHash: r.manifestHash,
        files: r.files,
        bytes: r.bytes,
        changed: r.changed,
      });
    const id = await writeSteps(store, sizes.steps, [
      snapshotted(0, first),
      snapshotted(sizes.steps, last),
      event('session.completed', { output: 'done' }),
    ]);
    const events = (await store.getSession(id)).headSeq;
    const path = join(target.dir, `${id}.bundle.tar.gz`);
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    let peak = rssBefore;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const started = performance.now();
    const bytes = await writeSessionBundle(store, id, path);
    const ms = performance.now() - started;
    clearInterval(sampler);
    return {
      ms: round(ms, 1),
      bytes,
      steps: sizes.steps,
      events,
      workspaceFiles: last.files,
      workspaceBytes: last.bytes,
      bundleToWorkspace: round(bytes / last.bytes, 3),
      peakRssGrowthMiB: round((peak - rssBefore) / (1024 * 1024), 1),
    };
  } finally {
    await store.close();
    await target.drop();
  }
}
