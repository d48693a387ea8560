import { spawn, type ChildProcess } from 'node:child_process';
import { renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { ScheduleRef, SessionStore } from '@longrun/core';

const script = fileURLToPath(new URL('./schedule-worker-process.ts', import.meta.url));
const compileCache = process.env.NODE_COMPILE_CACHE ?? join(tmpdir(), 'longrun-e2e-compile-cache');

/** The accelerated tick clock the worker processes share (schedule-worker-process.ts). */
export interface TickClock {
  t0Ms: number;
  rate: number;
  endMs?: number;
  lateAfterMs: number;
}

/** One `longrun` worker process with an accelerated schedule ticker, and what it reported. */
export class ScheduleWorker {
  readonly child: ChildProcess;
  readonly fires: { scheduleId: string; outcome: string; sessions: number; skipped: number }[] = [];
  readonly ready: Promise<void>;
  readonly exited: Promise<number | null>;
  stderr = '';

  constructor(storeUrl: string, id: string, dir: string, clock: TickClock) {
    this.child = spawn(process.execPath, [script, storeUrl, id, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        NODE_COMPILE_CACHE: compileCache,
        LONGRUN_TICK_T0_MS: String(clock.t0Ms),
        LONGRUN_TICK_RATE: String(clock.rate),
        LONGRUN_TICK_LATE_AFTER_MS: String(clock.lateAfterMs),
        ...(clock.endMs === undefined ? {} : { LONGRUN_TICK_END_MS: String(clock.endMs) }),
      },
    });
    this.exited = new Promise((resolve) => this.child.on('exit', resolve));
    this.child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-20_000);
    });
    if (this.child.stdout === null) throw new Error('worker spawned without a stdout pipe');
    const lines = createInterface({ input: this.child.stdout });
    this.ready = new Promise((resolve, reject) => {
      lines.on('line', (line) => {
        const [kind, scheduleId = '', outcome = '', sessions = '0', skipped = '0'] =
          line.split(' ');
        if (kind === 'ready') resolve();
        if (kind === 'fired')
          this.fires.push({
            scheduleId,
            outcome,
            sessions: Number(sessions),
            skipped: Number(skipped),
          });
      });
      void this.exited.then((code) =>
        reject(new Error(`worker ${id} exited (${code}): ${this.stderr}`)),
      );
    });
  }

  /** SIGTERM, and waits for the exit (the worker hands its leases back). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    await this.exited;
  }

  async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** The schedules' rows and each worker's exit and stderr tail, for a timeout's message. */
export async function describeRun(
  store: SessionStore,
  scheduleIds: readonly string[],
  workers: readonly ScheduleWorker[],
): Promise<string> {
  const rows = await Promise.all(scheduleIds.map((id) => store.schedules.get(id)));
  const lines = rows.map(
    (r) =>
      `schedule ${r.id} ${r.catchUp}: fired ${r.firedCount}, skipped ${r.skippedCount}, next ${new Date(r.nextFireAtMs).toISOString()}`,
  );
  for (const w of workers)
    lines.push(
      `worker pid ${w.child.pid} exit ${w.child.exitCode ?? w.child.signalCode ?? 'running'}, ${w.fires.length} fires, stderr: ${w.stderr.slice(-2_000) || '(none)'}`,
    );
  return lines.join('\n');
}

/**
 * Starts the shared tick clock of every worker of `dir` now. The file appears whole (written
 * aside, then renamed): a worker polling it must never read it empty, which would start its
 * clock at the epoch and make every tick decades late.
 */
export function startTickClock(dir: string): void {
  const file = join(dir, 'clock-start');
  writeFileSync(`${file}.tmp`, String(Date.now()));
  renameSync(`${file}.tmp`, file);
}

/** The schedule tick each session of `agent` was started for, in tick order (by schedule). */
export async function startedTicks(
  store: SessionStore,
  agent: string,
): Promise<Map<string, ScheduleRef[]>> {
  const ticks: ScheduleRef[] = [];
  let afterId: string | undefined;
  for (;;) {
    const page = await store.listSessions({
      agent,
      limit: 1000,
      ...(afterId === undefined ? {} : { afterId: afterId as never }),
    });
    for (const session of page) {
      const [created] = await store.readEvents(session.id, 0, 1);
      if (created?.type !== 'session.created' || created.data.schedule === undefined)
        throw new Error(`session ${session.id} was not started by a schedule`);
      ticks.push(created.data.schedule);
    }
    if (page.length < 1000) break;
    afterId = page.at(-1)?.id;
  }
  const bySchedule = new Map<string, ScheduleRef[]>();
  for (const tick of ticks.sort((a, b) => a.tickAtMs - b.tickAtMs)) {
    bySchedule.set(tick.id, [...(bySchedule.get(tick.id) ?? []), tick]);
  }
  return bySchedule;
}

/**
 * Polls `check` every 50 ms until it is true, at most `withinMs`; bounded. On timeout the error
 * carries what `explain` says (the schedules' rows, the workers' stderr).
 */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  withinMs: number,
  explain?: () => Promise<string>,
): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(
        `${what}: not within ${withinMs} ms${explain === undefined ? '' : `\n${await explain()}`}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}
