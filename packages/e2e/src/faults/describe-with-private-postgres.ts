import { describe, it } from 'vitest';
import { privatePostgresProblem } from './postgres-install.ts';

/**
 * Defines a suite that needs a private PostgreSQL cluster (startPrivatePostgres). When this
 * machine cannot run one (no server binaries, no postgres OS user under root), the suite says so
 * in one loud "did NOT run" line; under CI=true it fails instead of being skipped, because a
 * skipped suite nobody sees is a defect. Same discipline as store-postgres's test-server.ts.
 */
export function describeWithPrivatePostgres(title: string, define: () => void): void {
  const problem = privatePostgresProblem();
  if (problem === null) {
    describe(title, define);
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
