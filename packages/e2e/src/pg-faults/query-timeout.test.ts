import { existsSync, readFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import { testSeed } from '../seeded-random.ts';
import { FaultRun } from './fault-run.ts';
import { openWindows } from './records.ts';
import { eventually, sleep } from './tier.ts';

const queryTimeoutMs = 500;

/**
 * A store query that gets no answer within `queryTimeoutMs` is a transient failure — its outcome
 * is unknown, like a dropped connection's — not a reason to park the session. Here the library
 * worker (500 ms query timeout, 6 s lease, 5 s liveness) is cut off from Postgres by a black hole
 * in its proxy while it runs a tool; the tool's result write times out; then the partition ends
 * with a reset (what the worker sent meanwhile never arrives) — a network stall of about a
 * second, short of any lease deadline (4 s) or liveness doubt (2.5 s). The session must carry on
 * and complete, never be left `paused`.
 */
describeWithPrivatePostgres('a store query that times out', () => {
  it(
    'is retried like a dropped connection: a sub-second stall parks no session',
    { timeout: 120_000 },
    async () => {
      const seed = testSeed('query-timeout');
      const run = await FaultRun.start({
        label: 'query-timeout',
        seed,
        cliWorkers: 0,
        library: true,
        proxied: true,
        leaseMs: 6_000,
        libraryLivenessMs: 5_000,
        activeSessions: 3,
        steps: 8,
        toolMs: [300, 400],
        concurrency: 4,
        libraryQueryTimeoutMs: queryTimeoutMs,
      });
      let passed = false;
      try {
        run.feed(20_000);
        const inTool = await eventually(() => openWindows(run.dir, process.pid).length > 0, 30_000);
        expect(inTool, 'the library worker runs a tool').toBe(true);
        const window = openWindows(run.dir, process.pid)[0]!;
        const sessionId = window.sessionId;
        const proxy = run.proxy('library');
        const libraryLog = run.library!.logPath;
        const said = (): string => (existsSync(libraryLog) ? readFileSync(libraryLog, 'utf8') : '');
        const stalledAt = performance.now();
        proxy.mode('blackhole');
        // The tool ends and its result is written into the black hole; that write times out.
        const ended = (): boolean =>
          !openWindows(run.dir, process.pid).some(
            (w) =>
              w.sessionId === sessionId &&
              w.step === window.step &&
              w.callIndex === window.callIndex,
          );
        expect(await eventually(ended, 2_000), 'the tool ended').toBe(true);
        await sleep(queryTimeoutMs + 300);
        // Healed by a reset: nothing the worker sent meanwhile arrives.
        proxy.resetAll();
        proxy.mode('pass');
        const stallMs = Math.round(performance.now() - stalledAt);
        const { verdict, facts, drained } = await run.finish(60_000);
        const record = facts.records.get(sessionId);
        const reaction = said()
          .split('\n')
          .filter((l) => /"level":"(error|warn)"/.test(l) && l.includes('"sessionId"'))
          .slice(0, 2)
          .join(' | ');
        console.log(
          `[query-timeout] seed=${seed} a ${stallMs} ms stall while ${sessionId} ran a tool; ` +
            `it is now ${record?.status} (${record?.statusReason ?? ''}); the worker said: ${reaction}`,
        );
        expect(verdict.violations.slice(0, 20), `seed=${seed}`).toEqual([]);
        expect(drained, `seed=${seed}: every session settles`).toBe(true);
        passed = true;
      } finally {
        await run.close(!passed);
      }
    },
  );
});
