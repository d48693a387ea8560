import { expect, it } from 'vitest';
import type { StoredEvent } from '@longrun/core';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import type { TcpFaultProxy } from '../faults/tcp-fault-proxy.ts';
import { seededRandom, testSeed } from '../seeded-random.ts';
import { FaultRun } from './fault-run.ts';
import { eventually, sleep, tier, faultPeriodMs } from './tier.ts';

const faultMs = faultPeriodMs(45_000);

/**
 * A TCP fault proxy between each worker (two `longrun worker` processes and a library worker) and
 * Postgres. At seeded instants: every connection reset, or one worker's alone; bursts of 50–400
 * ms delays on one worker or all, with resets in the middle of a burst — the answers the proxy
 * held then (commit acknowledgements among them) are dropped, so appends that committed are
 * reported failed and sent again; then the same aimed at the library worker until it has seen
 * such a lost acknowledgement recognised (library-worker.ts says how that is told). Every run
 * invariant holds; no acknowledgement lost this way leaves a session stuck: every session
 * finishes within the drain bound.
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
        run.feed(faultMs + 60_000); // through the aimed phase too; finish() stops it
        expect(await eventually(() => run.observer.observed.length >= 30, 30_000)).toBe(true);
        const proxies = [...run.proxies.values()];
        const pick = (): TcpFaultProxy => proxies[Math.floor(random() * proxies.length)]!;
        const counts = { resetAll: 0, resetOne: 0, delayBursts: 0, cut: 0, droppedBytes: 0 };
        const cut = (proxy: TcpFaultProxy): void => {
          counts.droppedBytes += proxy.stats().heldBytes;
          counts.cut += proxy.resetAll();
        };
        // Rounds of the four faults in a seeded order, so that each comes up as often.
        const kinds = ['resetAll', 'resetOne', 'delayOne', 'delayAll'] as const;
        let round: string[] = [];
        const deadline = performance.now() + faultMs;
        for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
          if (round.length === 0) round = shuffled([...kinds], random);
          const kind = round.pop();
          await sleep(300 + Math.floor(random() * 1_200));
          if (kind === 'resetAll') {
            counts.resetAll++;
            proxies.forEach(cut);
          } else if (kind === 'resetOne') {
            counts.resetOne++;
            cut(pick());
          } else {
            counts.delayBursts++;
            const slowed = kind === 'delayOne' ? [pick()] : proxies;
            for (const p of slowed) p.mode('delay', { minMs: 50, maxMs: 400 });
            await sleep(500 + Math.floor(random() * 2_500));
            if (random() < 0.7) cut(pick()); // mid-burst: held answers dropped
            await sleep(Math.floor(random() * 1_000));
            for (const p of slowed) p.mode('pass');
          }
        }
        // Aimed at the library worker, whose acknowledgements the test sees: its answers are
        // delayed, and the moment one of its sessions commits (read straight from Postgres), its
        // connections are reset — the acknowledgement of that commit is still held, and is lost.
        for (let i = 0; i < 10 && (run.library?.lostAcksRecognised ?? 0) < 3; i++) {
          await loseAnAcknowledgement(run);
          await sleep(1_000);
        }
        const { verdict, facts, drained } = await run.finish(120_000);
        console.log(
          `[proxy-faults] seed=${seed} ${JSON.stringify(counts)} sessions=${facts.sessions.length} ` +
            `completed=${verdict.completed} interruptedUnsafe=${verdict.interruptedUnsafe} ` +
            `rerunKeyed=${verdict.rerunKeyed} checkpoints=${verdict.checkpoints} library appends stalled then through=` +
            `${run.library?.stallsRecovered}, of which lost acks recognised=` +
            `${run.library?.lostAcksRecognised} longest pause between a session's commits=` +
            `${longestGapMs([...facts.events.values()])} ms`,
        );
        expect(verdict.violations.slice(0, 40), `seed=${seed}`).toEqual([]);
        expect(drained, `seed=${seed}: every session settles (none stuck)`).toBe(true);
        expect(verdict.completed).toBe(facts.sessions.length);
        expect(verdict.checkpoints, 'checkpoints were read back against the log').toBeGreaterThan(
          0,
        );
        expect(run.live().length, `seed=${seed}: no worker process exited`).toBe(2);
        expect(Math.min(counts.resetAll, counts.resetOne)).toBeGreaterThanOrEqual(2);
        expect(counts.delayBursts).toBeGreaterThanOrEqual(4);
        expect(counts.cut, 'connections were really cut').toBeGreaterThan(counts.resetAll);
        expect(counts.droppedBytes, 'answers in flight were dropped').toBeGreaterThan(0);
        expect(
          run.library?.lostAcksRecognised,
          `seed=${seed}: a commit's acknowledgement was lost and its retry recognised`,
        ).toBeGreaterThan(0);
        passed = true;
      } finally {
        await run.close(!passed);
      }
    },
  );
});

function shuffled<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** Resets the library worker's connections right after one of its appends committed. */
async function loseAnAcknowledgement(run: FaultRun): Promise<void> {
  const proxy = run.proxy('library');
  const owner = run.library?.workerId;
  const heads = async (): Promise<Map<string, number>> =>
    new Map(
      (await run.observer.records(run.observer.openIds()))
        .filter((r) => r.leaseOwner === owner && r.status === 'running')
        .map((r) => [String(r.id), r.headSeq]),
    );
  const holding = performance.now() + 10_000;
  let before = await heads();
  while (before.size === 0 && performance.now() < holding) {
    await sleep(50);
    before = await heads();
  }
  proxy.mode('delay', { minMs: 300, maxMs: 400 });
  before = await heads();
  const deadline = performance.now() + 3_000;
  while (performance.now() < deadline) {
    const now = await heads();
    if ([...now].some(([id, head]) => head > (before.get(id) ?? head))) break;
    await sleep(5);
  }
  proxy.resetAll();
  proxy.mode('pass');
}

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
