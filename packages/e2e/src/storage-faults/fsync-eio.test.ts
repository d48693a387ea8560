import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { SqliteStore } from '@longrun/store-sqlite';
import { straceArgs, straceFound } from './strace.ts';

/**
 * Disk errors under the README's main job: `longrun run examples/fix-failing-test` on the
 * embedded store, run under strace with fsync (and fdatasync) failing with EIO at given calls of
 * each thread — the opening and migration of the store on the main thread, the writer thread's
 * commits, the close. A commit whose fsync failed is not acknowledged. Either the run completes
 * with the session's log the clean run's, event for event (but for the stream's records, below),
 * or — when the store could not be opened — it stops with a typed error before any session
 * exists and the same command run again completes. Either way the database is whole
 * (integrity_check).
 */
const cliMain = fileURLToPath(new URL('../../../cli/src/main.ts', import.meta.url));
const example = fileURLToPath(new URL('../../../../examples/fix-failing-test', import.meta.url));
const task = 'The tests of this repository fail. Find out why and fix the code.';

/**
 * Which fsync calls of each thread fail (strace's `when`): early (the store's opening), middle,
 * late, a run of them.
 */
const failing = ['3', '9..10', '15..16', '6..12'];

interface CliRun {
  status: number | null;
  output: string;
  /** fsync calls strace made fail. */
  injected: number;
}

/** `longrun run` of the example in `dir`, with fsync calls `when` of each thread failing. */
function runExample(dir: string, when: string | null): CliRun {
  const log = join(dir, 'strace.log');
  const command = [process.execPath, '--conditions=@longrun/source', cliMain, 'run', example, task];
  const inject = when === null ? 'fsync:delay_enter=0' : `fsync,fdatasync:error=EIO:when=${when}`;
  const run = spawnSync('strace', [...straceArgs(inject, log), ...command], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, LONGRUN_MODEL: '', OPENAI_API_KEY: '', ANTHROPIC_API_KEY: '' },
  });
  const injected = readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line.includes('INJECTED')).length;
  return { status: run.status, output: `${run.stdout}\n${run.stderr}`.slice(-4_000), injected };
}

/**
 * The events that record a model call's stream while it runs: whether a step has them depends on
 * timers, not on the disk (the example's model streams its first turn in ~225 ms, the stream is
 * written every 250 ms, and `model.responded` stands for the request when it comes first), so
 * the logs are compared without them. Everything else must be the clean run's, event for event.
 */
const streamRecords = new Set(['model.requested', 'model.streamed']);

/** The sessions in `dir`'s store, with their logs, and what its integrity check found. */
async function storeIn(dir: string) {
  const store = await SqliteStore.open({ path: join(dir, '.longrun', 'longrun.db') });
  try {
    const sessions = [];
    for (const session of await store.listSessions({ limit: 10 })) {
      const events = await store.readEvents(session.id, 0, 100_000);
      sessions.push({
        status: session.status,
        types: events.map((e) => e.type).filter((type) => !streamRecords.has(type)),
        seqs: events.map((e) => e.seq),
      });
    }
    return { sessions, integrity: store.integrityCheck() };
  } finally {
    await store.close();
  }
}

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'longrun-fsync-eio-'));
}

describe.runIf(straceFound)('fsync fails with EIO under the main job (strace)', () => {
  it(
    `completes with the clean run's log whichever fsyncs fail (${failing.join(', ')})`,
    { timeout: 300_000 },
    async () => {
      const cleanDir = tempDir();
      let reference: string[];
      try {
        const clean = runExample(cleanDir, null);
        expect(clean.status, clean.output).toBe(0);
        const { sessions } = await storeIn(cleanDir);
        expect(sessions.map((s) => s.status)).toEqual(['completed']);
        reference = sessions[0]!.types;
      } finally {
        rmSync(cleanDir, { recursive: true, force: true });
      }
      let refusedOpenings = 0;
      for (const when of failing) {
        const dir = tempDir();
        try {
          const r = runExample(dir, when);
          const context = `fsync calls ${when} of each thread failed (${r.injected} injected)\n${r.output}`;
          console.log(`[fsync-eio] when=${when} injected=${r.injected} exit=${r.status}`);
          expect(r.injected, context).toBeGreaterThan(0);
          if (r.status !== 0) {
            // The store could not be opened: a typed error, no session, and the next run works.
            expect(r.output, context).toMatch(/disk I\/O error.*\[STORE_UNAVAILABLE\]/);
            expect((await storeIn(dir)).sessions, context).toEqual([]);
            const again = runExample(dir, null);
            expect(again.status, again.output).toBe(0);
            refusedOpenings++;
          }
          const { sessions, integrity } = await storeIn(dir);
          expect(integrity, context).toEqual([]);
          expect(
            sessions.map((s) => s.status),
            context,
          ).toEqual(['completed']);
          const [session] = sessions;
          expect(session!.seqs, context).toEqual(session!.seqs.map((_, i) => i + 1));
          expect(session!.types, context).toEqual(reference);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
      // Most injection points hit commits that must be retried, not the opening.
      expect(refusedOpenings).toBeLessThan(failing.length);
    },
  );

  it(
    'a worker waits out a disk error while its store opens, then runs a session',
    { timeout: 180_000 },
    async () => {
      const dir = tempDir();
      const path = join(dir, '.longrun', 'longrun.db');
      // A new store: opening it creates and migrates the file, the main thread's first fsyncs.
      // Each attempt fails at one or two of 2..7, so the worker retries before one gets through.
      const worker = spawn(
        'strace',
        [
          ...straceArgs('fsync,fdatasync:error=EIO:when=2..7', join(dir, 'strace.log')),
          process.execPath,
          '--conditions=@longrun/source',
          cliMain,
          'worker',
          '--store',
          path,
          '--agents',
          example,
        ],
        // Its own process group, so that stopping it stops strace and the worker alike.
        { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
      );
      let output = '';
      const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
      worker.stdout.on('data', keep);
      worker.stderr.on('data', keep);
      const exited = new Promise<number | null>((resolve) => worker.on('exit', resolve));
      const until = async (what: string, done: () => Promise<boolean> | boolean) => {
        const deadline = performance.now() + 90_000;
        while (!(await done())) {
          expect(worker.exitCode, `the worker exited while ${what}:\n${output}`).toBeNull();
          expect(performance.now() < deadline, `${what}:\n${output}`).toBe(true);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      };
      try {
        await until('waiting for the worker to start', () => output.includes('worker started'));
        const started = output.indexOf('worker started');
        expect(output.slice(0, started)).toMatch(/waiting for the store at .*disk I\/O error/);
        const store = await SqliteStore.open({ path });
        try {
          const session = await store.createSession({ agent: 'fix-failing-test', input: { task } });
          await until(
            'waiting for the session to complete',
            async () => (await store.getSession(session.id)).status === 'completed',
          );
        } finally {
          await store.close();
        }
      } finally {
        const group = -(worker.pid as number);
        process.kill(group, 'SIGTERM');
        const stopped = await Promise.race([
          exited.then(() => true),
          new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000)),
        ]);
        if (!stopped) process.kill(group, 'SIGKILL');
      }
      try {
        const { sessions, integrity } = await storeIn(dir);
        expect(integrity).toEqual([]);
        expect(sessions.map((s) => s.status)).toEqual(['completed']);
        expect(sessions[0]!.seqs).toEqual(sessions[0]!.seqs.map((_, i) => i + 1));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );
});
