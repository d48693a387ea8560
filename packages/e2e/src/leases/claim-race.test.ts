import { describe, expect, it } from 'vitest';
import { Worker as Thread } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { workerId } from '@longrun/core';
import { openStore } from '@longrun/cli';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { targets } from '../store-targets.ts';

const trials = Number(process.env.LONGRUN_RACE_TRIALS ?? 1000);
const maxRacers = 8;
const racerScript = fileURLToPath(new URL('./claim-racer.ts', import.meta.url));

type Reply = { index: number; epoch: number | null; error?: string; skipped?: boolean };

/** Invariant: exactly one holder per epoch, whether the session is new or its lease just lapsed. */
for (const target of targets) {
  describe.runIf(target.run)(`claim races, ${target.name}`, () => {
    it(
      `gives one of 2–8 simultaneous claimers the lease, ${trials} trials`,
      { timeout: 300_000 },
      async () => {
        const seed = testSeed(`claim-race-${target.name}`);
        const random = seededRandom(seed);
        const t = await target.make();
        const store = await openStore(t.url);
        const go = new Int32Array(new SharedArrayBuffer(4));
        const threads = Array.from(
          { length: maxRacers },
          (_, index) => new Thread(racerScript, { workerData: { url: t.url, index, go } }),
        );
        const replies: Reply[] = [];
        let want = 0;
        let wake: () => void = () => undefined;
        const ready = Promise.all(threads.map((th) => new Promise((r) => th.once('message', r))));
        for (const thread of threads) {
          thread.on('message', (m: Reply | { ready: number }) => {
            if ('ready' in m) return;
            replies.push(m);
            if (replies.length >= want) wake();
          });
        }
        /** Resolves when `n` replies have arrived for the current trial. */
        const settle = (n: number): Promise<void> =>
          new Promise((resolve, reject) => {
            want = n;
            if (replies.length >= n) return resolve();
            const timer = setTimeout(
              () => reject(new Error(`only ${replies.length}/${n} racers answered`)),
              20_000,
            );
            wake = () => (clearTimeout(timer), resolve());
          });
        try {
          await ready;
          let takeovers = 0;
          for (let trial = 0; trial < trials; trial++) {
            const racers = 2 + Math.floor(random() * (maxRacers - 1));
            const session = await store.createSession({ agent: 'race', input: trial });
            // Half the trials race over a lease that just lapsed, so the winner takes epoch 2.
            const lapsed = random() < 0.5;
            if (lapsed) {
              await store.claim(session.id, workerId('previous-holder'), 1);
              await new Promise((r) => setTimeout(r, 3));
              takeovers++;
            }
            replies.length = 0;
            threads.forEach((th, i) =>
              th.postMessage({ sessionId: session.id, leaseMs: 60_000, skip: i >= racers }),
            );
            // Let every thread reach Atomics.wait before the go word moves (a late one still sees it moved).
            await new Promise((r) => setTimeout(r, 1));
            Atomics.add(go, 0, 1);
            Atomics.notify(go, 0);
            await settle(maxRacers);
            const mine = replies.filter((r) => r.index < racers && !r.skipped);
            const context = `seed=${seed} trial=${trial} racers=${racers}`;
            expect(
              mine.filter((r) => r.error),
              context,
            ).toEqual([]);
            const winners = mine.filter((r) => r.epoch !== null);
            expect(
              winners.map((w) => w.epoch),
              context,
            ).toEqual([lapsed ? 2 : 1]);
            const holder = await store.getSession(session.id);
            expect(holder.leaseOwner, context).toBe(`racer-${winners[0]!.index}`);
          }
          console.log(
            `[claim-race-${target.name}] ${trials} trials, ${takeovers} over a lapsed lease: one holder each`,
          );
        } finally {
          for (const thread of threads) thread.postMessage({ stop: true });
          await Promise.all(threads.map((th) => new Promise((r) => th.once('exit', r))));
          await store.close();
          await t.drop();
        }
      },
    );
  });
}
