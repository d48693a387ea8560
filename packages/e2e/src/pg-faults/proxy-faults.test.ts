import { expect, it } from 'vitest';
import type { StoredEvent } from '@longrun/core';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import type { TcpFaultProxy } from '../faults/tcp-fault-proxy.ts';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { FaultRun } from './fault-run.ts';
import { eventually, sleep, tier } from './tier.ts';

const faultMs = tier(45_000, 600_000);

/**
 * A TCP fault proxy between each worker (two `longrun worker` processes and a library worker) and
 * Postgres. At seeded instants: every connection reset, or one worker's alone; bursts of 50–400
 * ms delays on one worker or all, with resets in the middle of a burst — the answers the proxy
 * held then (commit acknowledgements among them) are dropped, so appends that committed are
 * reported failed and sent again. Every run invariant holds; no acknowledgement lost this way
 * leaves a session stuck: every session finishes within the drain bound.
 */
describeWithPrivatePostgres('connection faults between workers and Postgres', () => {
  it(
    `resets and 50–400 ms delays for ${faultMs / 1000} s: no exit, no stuck session, nothing lost or doubled`,
    { timeout: faultMs + 180_000 },
    async () => {
      const seed = testSeed('proxy-faults');
      const random = seededRandom(seed);
      const run = await FaultRun.start({
        label: 'proxy-faults',
        seed,
        cliWorkers: 2,
        library: true,
        proxied: true,
        leaseMs: 3_000,
        libraryLivenessMs: 3_000,
        activeSessions: tier(10, 20),
        steps: 20,
        toolMs: [100, 400],
        concurrency: tier(4, 8),
      });
      let passed = false;
      try {
        run.feed(faultMs);
        expect(await eventually(() => run.observer.observed.length >= 30, 30_000)).toBe(true);
        const proxies = [...run.proxies.values()];
        const pick = (): TcpFaultProxy => proxies[Math.floor(random() * proxies.length)]!;
        const counts = { resetAll: 0, resetOne: 0, delayBursts: 0, cut: 0, droppedBytes: 0 };
        const cut = (proxy: TcpFaultProxy): void => {
          counts.droppedBytes += proxy.stats().heldBytes;
          counts.cut += proxy.resetAll();
        };
        const deadline = performance.now() + faultMs;
        for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
          await sleep(300 + Math.floor(random() * 1_200));
          const roll = random();
          if (roll < 0.25) {
            counts.resetAll++;
            proxies.forEach(cut);
          } else if (roll < 0.5) {
            counts.resetOne++;
            cut(pick());
          } else {
            counts.delayBursts++;
            const slowed = random() < 0.5 ? [pick()] : proxies;
            for (const p of slowed) p.mode('delay', { minMs: 50, maxMs: 400 });
            await sleep(500 + Math.floor(random() * 2_500));
            if (random() < 0.7) cut(pick()); // mid-burst: held answers dropped
            await sleep(Math.floor(random() * 1_000));
            for (const p of slowed) p.mode('pass');
          }
        }
        const { verdict, facts, drained } = await run.finish(120_000);
        console.log(
          `[proxy-faults] seed=${seed} ${JSON.stringify(counts)} sessions=${facts.sessions.length} ` +
            `completed=${verdict.completed} interruptedUnsafe=${verdict.interruptedUnsafe} ` +
            `rerunKeyed=${verdict.rerunKeyed} longest pause between a session's commits=` +
            `${longestGapMs([...facts.events.values()])} ms`,
        );
        expect(verdict.violations.slice(0, 40), `seed=${seed}`).toEqual([]);
        expect(drained, `seed=${seed}: every session settles (none stuck)`).toBe(true);
        expect(verdict.completed).toBe(facts.sessions.length);
        expect(run.live().length, `seed=${seed}: no worker process exited`).toBe(2);
        expect(counts.resetAll + counts.resetOne).toBeGreaterThanOrEqual(5);
        expect(counts.delayBursts).toBeGreaterThanOrEqual(3);
        expect(counts.cut, 'connections were really cut').toBeGreaterThan(counts.resetAll);
        expect(counts.droppedBytes, 'answers in flight were dropped').toBeGreaterThan(0);
        passed = true;
      } finally {
        await run.close(!passed);
      }
    },
  );
});

/** The longest time between two consecutive commits of one session, ms. */
function longestGapMs(logs: readonly (readonly StoredEvent[])[]): number {
  let longest = 0;
  for (const events of logs) {
    for (let i = 1; i < events.length; i++) {
      longest = Math.max(longest, events[i]!.atMs - events[i - 1]!.atMs);
    }
  }
  return longest;
}
