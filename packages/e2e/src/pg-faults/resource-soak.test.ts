import { expect, it } from 'vitest';
import { describeWithPrivatePostgres } from '../faults/describe-with-private-postgres.ts';
import { testSeed } from '../seeded-random.ts';
import { resourceSoak } from './resource-soak.ts';
import { faultPeriodMs, soak, tier } from './tier.ts';

const faultMs = faultPeriodMs(Number(process.env.LONGRUN_RESOURCE_SOAK_MS ?? 150_000));
const options = {
  watchedWorkers: 2,
  activeSessions: tier(8, 16),
  steps: tier(20, 40),
  concurrency: 4,
  sampleEveryMs: tier(1_000, 5_000),
  bars: {
    // The soak judges from 10 minutes in; the PR tier from 40 % of its run.
    warmupMs: soak ? Math.min(600_000, faultMs * 0.4) : faultMs * 0.4,
    windowMs: soak ? Math.min(300_000, faultMs * 0.2) : faultMs * 0.2,
    maxMemoryGrowth: 0.1,
    fdSlack: 4,
    minWindowSamples: 5,
  },
};

/**
 * TESTING.md's load row: memory growth under 10 % after the warm-up and a flat descriptor count
 * in the processes that live through Postgres crash-restarts every 3–8 s, a worker SIGKILLed and
 * replaced every 8–15 s, and API readers cutting event streams mid-read — with enough sessions
 * completed and reads answered that a run of errors cannot pass (resource-soak.ts). The soak
 * tier (LONGRUN_SOAK=1, LONGRUN_SOAK_S=3600 for the hour) judges from 10 minutes in.
 */
describeWithPrivatePostgres(
  'processes that live through faults keep their memory and descriptors',
  () => {
    it(
      `${faultMs / 1000} s of restarts and kills: memory within +10 % after the warm-up, descriptors flat`,
      { timeout: faultMs + 240_000 },
      async () => {
        const seed = testSeed('resource-soak');
        const r = await resourceSoak({ seed, faultMs, ...options });
        const figures = r.resources.map((x) => ({
          process: x.label,
          heapMiB: [x.baselineHeapKiB, x.endHeapKiB].map((k) => Math.round(k / 102.4) / 10),
          rssMiB: [x.baselineRssKiB, x.endRssKiB, x.peakRssKiB].map(
            (k) => Math.round(k / 102.4) / 10,
          ),
          heapGrowthPct: Math.round(x.heapGrowth * 1000) / 10,
          rssGrowthPct: Math.round(x.rssGrowth * 1000) / 10,
          fds: [x.baselineFdsMax, x.endFdsMax],
          samples: x.samples,
        }));
        console.log(
          `[resource-soak] seed=${seed} faultS=${faultMs / 1000} restarts=${r.restarts} ` +
            `victimKills=${r.victimKills} workspacesSeen=${r.workspacesSeen} sessions=${r.facts.sessions.length} ` +
            `completed=${r.verdict.completed} api=${JSON.stringify(r.api)} ` +
            `resources=${JSON.stringify(figures)} fdKindsAtEnd=${JSON.stringify(r.fdKindsAtEnd)}`,
        );
        expect(r.verdict.violations.slice(0, 40), `seed=${seed}`).toEqual([]);
        expect(r.drained, `seed=${seed}: every session settles`).toBe(true);
        expect(
          r.workspacesSeen,
          'sessions had workspace directories while they ran',
        ).toBeGreaterThan(0);
        expect(r.leftWorkspaces, "the workers removed every finished session's workspace").toEqual(
          [],
        );
        expect(r.watchedAlive, 'no watched process exited').toBe(options.watchedWorkers + 1);
        expect(
          r.resources.flatMap((x) => x.problems),
          `seed=${seed}`,
        ).toEqual([]);
        // Enough was done that a run of errors cannot pass.
        expect(r.restarts).toBeGreaterThanOrEqual(Math.floor(faultMs / 8_000) - 1);
        expect(r.victimKills).toBeGreaterThanOrEqual(Math.floor(faultMs / 20_000));
        expect(r.verdict.completed).toBe(r.facts.sessions.length);
        expect(r.facts.sessions.length).toBeGreaterThanOrEqual(options.activeSessions * 2);
        expect(r.api.listsOk).toBeGreaterThan(faultMs / 2_000);
        expect(r.api.streamsWithData).toBeGreaterThan(faultMs / 5_000);
      },
    );
  },
);
