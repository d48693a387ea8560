/**
 * A worker process for the schedule tests: `node schedule-worker-process.ts <storeUrl> <workerId> <dir>`.
 * It runs the agent `ticked` (a scripted model that answers at once) with the worker's schedule
 * ticker on, whose time runs faster than the wall clock so that hundreds of ticks take seconds:
 *
 *   tick time = LONGRUN_TICK_T0_MS + (now - start) × LONGRUN_TICK_RATE, at most LONGRUN_TICK_END_MS
 *
 * where `start` is the wall-clock time the test writes to `<dir>/clock-start` once every worker
 * is up (before that the tick time stands at T0 - 1: nothing is due). Every process of a test
 * reads the same start, so they agree on the tick time to within a few wall-clock milliseconds.
 * Only when ticks fire is accelerated; the store's own clock (leases, timers) is the real one.
 *
 * Reports on stdout: `ready`, then `fired <scheduleId> <outcome> <sessions> <skipped>` per fire.
 */
import { readFileSync } from 'node:fs';
import { flushCompileCache } from 'node:module';
import { join } from 'node:path';
import { workerId } from '@longrun/core';
import { Worker, defineAgent } from '@longrun/runtime';
import { scriptedModel } from '@longrun/models/testing';
import { openStore } from '@longrun/cli';

const [storeUrl = '', id = '', dir = ''] = process.argv.slice(2);
const env = process.env;
const t0 = Number(env.LONGRUN_TICK_T0_MS);
const rate = Number(env.LONGRUN_TICK_RATE ?? 1);
const endMs = Number(env.LONGRUN_TICK_END_MS ?? Number.MAX_SAFE_INTEGER);
const lateAfterMs = Number(env.LONGRUN_TICK_LATE_AFTER_MS ?? 60_000);

let startedAt: number | null = null;
function tickNowMs(): number {
  if (startedAt === null) {
    let text = '';
    try {
      text = readFileSync(join(dir, 'clock-start'), 'utf8');
    } catch {
      return t0 - 1;
    }
    // Only a whole start time starts the clock (Number('') is 0: the epoch, decades ago).
    if (!/^\d+$/.test(text)) return t0 - 1;
    startedAt = Number(text);
  }
  return Math.min(endMs, Math.floor(t0 + (Date.now() - startedAt) * rate));
}

const store = await openStore(storeUrl);
const agent = defineAgent({
  name: 'ticked',
  model: scriptedModel(() => ({ text: 'tick handled' })),
  instructions: 'Handle the tick.',
  tools: [],
  workspaceSnapshots: false,
  workspaceRoot: join(dir, 'ws', id),
});
const worker = new Worker({
  store,
  agents: [agent],
  workerId: workerId(id),
  pollMs: 20,
  schedules: { nowMs: tickNowMs, pollMs: 10, lateAfterMs },
});
worker.on('schedule.fired', (f) =>
  process.stdout.write(
    `fired ${f.scheduleId} ${f.outcome} ${f.sessionIds.length} ${f.skippedTicks}\n`,
  ),
);
worker.on('log', (entry) => {
  if (entry.level !== 'info') process.stderr.write(`${JSON.stringify(entry)}\n`);
});
await worker.start();
flushCompileCache();
process.stdout.write('ready\n');

process.once('SIGTERM', () => {
  void worker
    .stop()
    .then(() => store.close())
    .then(() => process.exit(0));
});
