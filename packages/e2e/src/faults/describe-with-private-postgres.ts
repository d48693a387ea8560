import { afterAll, beforeAll, describe, it } from 'vitest';
import { privatePostgresProblem } from './postgres-install.ts';
import { runningClusters, type PrivatePostgres } from './private-postgres.ts';

/**
 * Defines a suite that needs a private PostgreSQL cluster (startPrivatePostgres). When this
 * machine cannot run one (no server binaries, no postgres OS user under root), the suite says so
 * in one loud "did NOT run" line; under CI=true it fails instead of being skipped, because a
 * skipped suite nobody sees is a defect. Same discipline as store-postgres's test-server.ts.
 *
 * A cluster started inside the suite and still running after all its hooks is a leak: it is
 * stopped and the suite fails. (Vitest ends its workers without a process 'exit' event, so the
 * exit hook of private-postgres.ts cannot be relied on there.)
 */
export function describeWithPrivatePostgres(title: string, define: () => void): void {
  const problem = privatePostgresProblem();
  if (problem === null) {
    describe(title, () => {
      failOnLeakedClusters();
      define();
    });
    return;
  }
  const message = `private-Postgres suite "${title}" did NOT run: ${problem}`;
  console.error(`\n${'!'.repeat(100)}\n${message}\n${'!'.repeat(100)}\n`);
  if (process.env.CI === 'true') {
    it(`${title}: a private PostgreSQL cluster can be started`, () => {
      throw new Error(message);
    });
  } else {
    describe.skip(`${title} — ${message}`, () => it('needs PostgreSQL server binaries', () => {}));
  }
}

/** Registered before the suite's own hooks, so its afterAll runs after theirs (stack order). */
function failOnLeakedClusters(): void {
  let before = new Set<PrivatePostgres>();
  beforeAll(() => {
    before = new Set(runningClusters());
  });
  afterAll(async () => {
    const leaked = runningClusters().filter((cluster) => !before.has(cluster));
    await Promise.all(leaked.map((cluster) => cluster.stop()));
    if (leaked.length > 0) {
      throw new Error(
        `private PostgreSQL cluster(s) never stopped by the suite: ` +
          `${leaked.map((c) => c.root).join(', ')} (stopped now); call stop() in afterAll`,
      );
    }
  });
}
