import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openStore } from '@longrun/cli';
import type { StoredEvent } from '@longrun/core';
import { peerAgentName, peerFileName } from '../bench/peer-agent.ts';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { targets } from '../store-targets.ts';
import { WorkerHandle } from './worker-handle.ts';

const peerWorker = fileURLToPath(new URL('../bench/peer-worker-process.ts', import.meta.url));
const steps = 80;
const kills = Number(process.env.LONGRUN_PIPELINED_KILLS ?? 10);

/**
 * A step is one commit: an idempotent call's result is not waited for, and commits with the next
 * model response (SessionWriter.appendAhead). `kill -9` of the worker at random points of such a
 * session, again and again. Each process's model writes its own pid into the line it asks the
 * tool to append, so the file outside says which process's response each effect came from.
 *
 * Invariants protected:
 * - every effect in the file came from a response the log holds (a call runs only once its
 *   start, with the response that asked for it, has committed);
 * - each step has one response, one start and one result in the log, and seq is contiguous;
 * - an effect is repeated only when a crash lost its result (at most once a kill);
 * - the session completes.
 */
for (const target of targets) {
  describe.runIf(target.run)(`kill -9 of a worker whose steps commit once, ${target.name}`, () => {
    it(
      `keeps every effect's call in the log through ${kills} kills`,
      { timeout: 300_000 },
      async () => {
        const seed = testSeed(`pipelined-kill9-${target.name}`);
        const random = seededRandom(seed);
        const t = await target.make();
        const store = await openStore(t.url);
        const env = { LONGRUN_PEER_LINE_TAG: 'pid', LONGRUN_LEASE_MS: '2000' };
        const handles: WorkerHandle[] = [];
        const spawn = (id: string) => {
          const h = new WorkerHandle(t.url, id, t.dir, env, peerWorker);
          handles.push(h);
          return h;
        };
        try {
          const session = await store.createSession({ agent: peerAgentName, input: { steps } });
          let midRun = 0;
          for (let k = 0; k < kills; k++) {
            // SQLite: the restarted process reclaims its own sessions at boot. Postgres: a new
            // worker takes over because the dead one's connection-scoped lock is gone.
            const worker = spawn(target.name === 'sqlite' ? 'pipelined' : `pipelined-${k}`);
            const after = 1 + Math.floor(random() * 6);
            await worker.until(() => worker.acked.length >= after, 60_000, `${after} steps`);
            // A random point inside a step of well under a millisecond.
            const spinUntil = performance.now() + random() * 1.5;
            while (performance.now() < spinUntil);
            await worker.kill('SIGKILL');
            if ((await store.getSession(session.id)).status !== 'completed') midRun++;
          }
          const finisher = spawn(target.name === 'sqlite' ? 'pipelined' : 'pipelined-finisher');
          const deadline = Date.now() + 120_000;
          while ((await store.getSession(session.id)).status !== 'completed') {
            if (Date.now() > deadline)
              throw new Error(`seed=${seed}: not completed\n${finisher.stderr.slice(-2000)}`);
            await new Promise((r) => setTimeout(r, 50));
          }
          const context = `seed=${seed}`;
          expect(midRun, `${context}: kills that landed mid-run`).toBeGreaterThan(kills / 2);
          const events = await store.readEvents(session.id, 0, 100_000);
          expect(
            events.map((e) => e.seq),
            context,
          ).toEqual(events.map((_, i) => i + 1));
          const of = <T extends StoredEvent['type']>(type: T) =>
            events.filter((e): e is Extract<StoredEvent, { type: T }> => e.type === type);
          // The line each step's logged response asked for.
          const asked = new Map<number, string>();
          for (const r of of('model.responded')) {
            const call = r.data.toolCalls[0];
            if (call === undefined) continue;
            expect(asked.has(r.data.step), `${context}: step ${r.data.step} answered twice`).toBe(
              false,
            );
            asked.set(r.data.step, (call.args as { line: string }).line);
          }
          expect([...asked.keys()].sort((a, b) => a - b)).toEqual(
            Array.from({ length: steps }, (_, i) => i + 1),
          );
          for (const type of ['tool.started', 'tool.completed'] as const) {
            const perStep = new Map<number, number>();
            for (const e of of(type)) perStep.set(e.data.step, (perStep.get(e.data.step) ?? 0) + 1);
            expect(
              [...perStep.values()].every((n) => n === 1),
              `${context}: ${type} once a step`,
            ).toBe(true);
            expect(perStep.size, `${context}: ${type}`).toBe(steps);
          }
          const file = join(t.dir, peerFileName);
          expect(existsSync(file)).toBe(true);
          const lines = readFileSync(file, 'utf8')
            .split('\n')
            .filter((l) => l !== '');
          const unlogged = lines.filter((line) => {
            const step = Number(/^line (\d+) /.exec(line)?.[1]);
            return asked.get(step) !== line;
          });
          expect(unlogged, `${context}: effects of responses the log does not hold`).toEqual([]);
          for (const line of asked.values()) expect(lines, context).toContain(line);
          expect(lines.length - steps, `${context}: repeated effects`).toBeLessThanOrEqual(kills);
          console.log(
            `[pipelined-kill9-${target.name}] ${midRun} kills mid-run, ${lines.length - steps} effects repeated, ${new Set(lines.map((l) => /pid\d+/.exec(l)?.[0])).size} processes' responses`,
          );
        } finally {
          await Promise.all(handles.map((h) => h.kill('SIGKILL')));
          await store.close();
          await t.drop();
        }
      },
    );
  });
}
